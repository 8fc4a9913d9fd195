"""The soak run: a long simulated session (:mod:`matcher.evaluation.session`) followed without a
break, fast-forwarded, with memory, per-block latency, speed and errors measured.

The front end and the description of every figure is tools/soak.py.
"""

from __future__ import annotations

import gc
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from ..follow import Track, follow_blocks
from ..follow import run as follow_run
from .measure import percentiles, rss_mb
from .session import VARIANTS, make_material, plan, take_blocks

WARMUP_S = 10.0  # session audio followed before the memory baseline [s]
MEMORY_EVERY_S = 60.0  # RSS sampled every this much session audio [s]
SLICE_S = 600.0  # latency figures per slice of this much session audio [s]
GROWTH_LIMIT_PCT = 5.0  # acceptance: peak RSS growth over the baseline [%]


def trimmed_rss_mb() -> float:
    """This process's RSS [MB] once the C heap's free pages are given back.

    glibc keeps freed memory (tens of MB after building the reference and rendering the
    take) and hands it out again: growth would first fill that slack unseen. Trimming
    before every sample measures what the process holds, the same way at the baseline
    and after.
    """
    return rss_mb(trim=True)


class _FollowerHandle:
    """follow_blocks makes its own Follower; keep a handle on it (for its relock count)."""

    def __init__(self) -> None:
        self.follower: Any = None
        self._original = follow_run.Follower

    def __enter__(self) -> _FollowerHandle:
        def make(*args: Any, **kwargs: Any) -> Any:
            self.follower = self._original(*args, **kwargs)
            return self.follower

        follow_run.Follower = make
        return self

    def __exit__(self, *exc: object) -> None:
        follow_run.Follower = self._original


def latency(seconds: np.ndarray, block_s: float) -> dict[str, Any]:
    """Median, p99 and max [ms] of per-block processing times [s], and how many took longer than a block lasts."""
    p = percentiles(seconds, scale=1000.0)
    return {
        "blocks": p["n"],
        "median_ms": p["median"],
        "p99_ms": p["p99"],
        "max_ms": p["max"],
        "over_block": int(np.sum(np.asarray(seconds) > block_s)),
    }


def latency_slices(seconds: np.ndarray, block_s: float) -> list[dict[str, Any]]:
    """Per-block processing times [s] in session order -> :func:`latency` per SLICE_S of audio.

    A remainder shorter than half a slice joins the slice before it.
    """
    per = max(1, round(SLICE_S / block_s))
    starts = list(range(0, len(seconds), per))
    if len(starts) > 1 and len(seconds) - starts[-1] < per / 2:
        starts.pop()
    ends = [*starts[1:], len(seconds)]
    return [
        {"from_min": round(a * block_s / 60.0, 1), "to_min": round(b * block_s / 60.0, 1),
         **latency(seconds[a:b], block_s)}
        for a, b in zip(starts, ends, strict=True)
    ]  # fmt: skip


def run_soak(
    minutes: float = 120.0,
    block: int = 1024,
    seed: int = 7,
    piece: str = "melodic",
    piece_minutes: float = 3.0,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Follow a ``minutes``-long simulated session; the figures (see the module docstring)."""
    say = progress or (lambda _: None)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        reference, variants = make_material(Path(tmp), piece, piece_minutes, seed)
    sr = reference.config.sr
    block_s = block / sr
    durations = [len(v) / sr for v in variants]
    say(f"reference: {reference.duration:.0f} s {piece} piece; the take is cut from {VARIANTS} renderings of "
        f"{min(durations):.0f}-{max(durations):.0f} s ({sum(v.nbytes for v in variants) / 2**20:.0f} MB), "
        f"made in {time.perf_counter() - began:.0f} s")  # fmt: skip

    # Warm-up, as LiveSession.start does: numba compilation and first calls; then the
    # objects that exist so far are frozen out of the garbage collector's way.
    follow_blocks(reference, (variants[0][i : i + block] for i in range(0, 10 * sr, block)))
    froze = gc.get_freeze_count() == 0
    gc.collect()
    gc.freeze()

    segments = list(plan(np.random.default_rng(seed), durations, minutes * 60.0))  # hundreds: small
    events: dict[str, int] = {}
    for s in segments:
        if s.event not in ("start", "resume"):
            events[s.event] = events.get(s.event, 0) + 1
    seconds = np.zeros(round(minutes * 60.0 / block_s) + len(segments) + 1)  # per block, allocated up front
    memory: list[tuple[float, float]] = []  # (session minute, RSS MB); the first is the baseline
    count = {"blocks": 0, "samples": 0, "positions": 0, "lost": 0, "bad_positions": 0}
    wall0 = time.perf_counter()

    def timed(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        due, shown = WARMUP_S, 0
        for k, x in enumerate(blocks):
            start = time.perf_counter()
            yield x  # follow_blocks pushes it, steps the follower, calls on_track, then asks for the next
            seconds[k] = time.perf_counter() - start
            count["blocks"], count["samples"] = k + 1, count["samples"] + len(x)
            t = count["samples"] / sr
            if t < due:
                continue
            memory.append((t / 60.0, trimmed_rss_mb()))
            if round(due) % SLICE_S == 0:
                p99 = np.percentile(seconds[shown : k + 1], 99) * 1000.0
                say(f"  {t / 60:5.0f} min  RSS {memory[-1][1]:7.1f} MB  block p99 {p99:6.2f} ms  "
                    f"{t / (time.perf_counter() - wall0):4.0f}x real time")  # fmt: skip
                shown = k + 1
            due = (np.floor(t / MEMORY_EVERY_S) + 1) * MEMORY_EVERY_S

    def on_track(track: Track) -> None:
        count["positions"] += len(track)
        count["lost"] += int(track.lost.sum())
        count["bad_positions"] += int(np.sum(~(np.isfinite(track.ref_t) & np.isfinite(track.tempo_ratio))))

    errors: list[str] = []
    track: Track | None = None
    handle = _FollowerHandle()
    try:
        with handle:
            track = follow_blocks(reference, timed(take_blocks(segments, variants, sr, block)), on_track=on_track)
    except Exception as exc:  # counted and reported: the soak's verdict, not a crash
        errors.append(f"at {count['samples'] / sr:.1f} s: {type(exc).__name__}: {exc}")
        say(traceback.format_exc())
    wall = time.perf_counter() - wall0
    end_mb = trimmed_rss_mb()
    if froze:
        gc.unfreeze()
    if count["bad_positions"]:
        errors.append(f"{count['bad_positions']} positions with a non-finite ref_t or tempo")

    audio_s = count["samples"] / sr
    seconds = seconds[: count["blocks"]]
    base = memory[0][1] if memory else end_mb
    peak = max([mb for _, mb in memory] + [end_mb])
    slices = latency_slices(seconds, block_s)
    kept_mb = 0.0 if track is None else sum(getattr(track, f.name).nbytes for f in fields(track)) / 2**20
    return {
        "minutes": minutes,
        "block": block,
        "block_ms": round(block_s * 1000.0, 2),
        "seed": seed,
        "piece": piece,
        "reference_s": round(reference.duration, 1),
        "audio_s": round(audio_s, 1),
        "segments": len(segments),
        "events": events,
        "memory": {
            "baseline_mb": round(base, 1),
            "baseline_at_s": round(memory[0][0] * 60.0, 1) if memory else None,
            "peak_mb": round(peak, 1),
            "end_mb": round(end_mb, 1),
            "growth_mb": round(peak - base, 1),
            "growth_pct": round((peak - base) / base * 100.0, 2),
            "kept_positions_mb": round(kept_mb, 1),
            "growth_besides_positions_pct": round((peak - base - kept_mb) / base * 100.0, 2),
            "take_material_mb": round(sum(v.nbytes for v in variants) / 2**20, 1),
            "samples": [(round(m, 2), round(mb, 1)) for m, mb in memory],
        },
        "latency": latency(seconds, block_s) if len(seconds) else {},
        "latency_slices": slices,
        "p99_last_over_first": round(slices[-1]["p99_ms"] / slices[0]["p99_ms"], 2) if slices else None,
        "speed_x_realtime": round(audio_s / max(float(seconds.sum()), 1e-9), 1),
        "session_x_realtime": round(audio_s / wall, 1),
        "wall_s": round(wall, 1),
        "total_s": round(time.perf_counter() - began, 1),
        "positions": count["positions"],
        "lost_share": round(count["lost"] / max(count["positions"], 1), 4),
        "relocks": None if handle.follower is None else handle.follower.relocks,
        "errors": len(errors),
        "error_messages": errors,
    }


def verdict(report: dict[str, Any]) -> list[tuple[bool, str]]:
    """The acceptance checks: (passed, line) each."""
    mem = report["memory"]
    return [
        (mem["growth_pct"] < GROWTH_LIMIT_PCT,
         f"memory growth {mem['growth_mb']:+.1f} MB = {mem['growth_pct']:+.2f} % of {mem['baseline_mb']:.1f} MB "
         f"(limit < {GROWTH_LIMIT_PCT:g} %)"),
        (report["errors"] == 0, f"errors: {report['errors']}"),
    ]  # fmt: skip
