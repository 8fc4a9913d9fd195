"""Soak test: a 2-hour rehearsal session followed without a break, fast-forwarded.

A reference is built (YIN pitch, no TensorFlow) from a synthetic piece of a few minutes
(matcher.synth, steady tempo, its beats given). The take is a seeded sequence of passages
of the same piece played with other timbres and tempo warps, as a rehearsal goes: play
on for a while, start again from the beginning, jump back or ahead by 10-30 s, stop for
3-10 s of silence and go on, lose up to a second of audio, move on to another rendering,
stop at the end of the piece. Only a few renderings of the piece are held in memory; the
session's audio is cut from them one block at a time (never the whole take at once).

The blocks go through :func:`matcher.follow.follow_blocks`, the loop ``matcher follow``
runs for files and :class:`matcher.live.LiveSession` for a microphone: FeatureStream.push,
Follower.steps, and the positions kept for the session's summary. As a live session
does, the warm-up runs first and the garbage collector's objects are frozen. No pacing:
each block is followed as soon as the previous one is done.

Measured:

* memory: RSS (VmRSS from /proc, after glibc's malloc_trim: see :func:`rss_mb`) once
  the session has followed its first seconds (the baseline: reference built, kernels
  compiled, the take's renderings made), then every simulated minute and at the end; the
  peak growth over the baseline in MB and %. The positions the session keeps (as a live
  session does, for its summary) are part of it; their size is printed beside it.
* latency: the time each block takes from entering the pipeline to its positions
  (perf_counter), median / p99 / max per 10-minute slice of the session, and the last
  slice's p99 over the first's;
* speed: seconds of audio per second spent following (x real time), and per second of
  the whole session loop (cutting blocks and sampling memory included);
* positions reported, the follower's relocks, the edits the take went through, errors
  (exceptions, and positions with a non-finite time or tempo).

Acceptance (exit status 1 otherwise): memory growth < 5 % and no error.

    .venv/bin/python tools/soak.py [--minutes 120] [--block 1024] [--seed 7]
        [--piece melodic|percussion] [--piece-minutes 3] [--json OUT]

The full 2 hours take about a minute and a half on one core (the follower runs over 100
times faster than real time); other processes competing for the cores show as latency.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from matcher import Config, Reference, build_reference
from matcher.features import YinModel
from matcher.follow import Track, follow_blocks
from matcher.follow import run as follow_run
from matcher.synth import Note, TempoMap, melody, percussion, render

BPM = 120.0  # reference tempo
VARIANTS = 4  # renderings of the piece the take is cut from
FADE_S = 0.005  # fade in/out at every splice [s]
WARMUP_S = 10.0  # session audio followed before the memory baseline [s]
MEMORY_EVERY_S = 60.0  # RSS sampled every this much session audio [s]
SLICE_S = 600.0  # latency figures per slice of this much session audio [s]
GROWTH_LIMIT_PCT = 5.0
#: What the player does after playing a while, with its probability.
EVENTS = {"restart": 0.12, "back": 0.2, "forward": 0.2, "pause": 0.16, "drop": 0.14, "next": 0.18}


# -- material ------------------------------------------------------------------------------


def make_piece(kind: str, minutes: float, seed: int) -> tuple[list[Note], int]:
    """The notes of a piece lasting about ``minutes`` at BPM, and its beats per bar."""
    beats = minutes * BPM
    if kind == "melodic":
        return melody(max(2, round(beats / 4)), 4, seed=seed), 4
    if kind == "percussion":
        return percussion(max(2, round(beats / 12)), seed=seed), 12
    raise ValueError(f"unknown piece {kind!r}; valid: 'melodic', 'percussion'")


def make_material(
    folder: Path, kind: str = "melodic", minutes: float = 3.0, seed: int = 7
) -> tuple[Reference, list[np.ndarray]]:
    """The reference (built and beat-annotated) and ``VARIANTS`` renderings of its piece for the take."""
    config = Config(pitch_backend="yin")
    notes, per_bar = make_piece(kind, minutes, seed)
    n_beats = max(n.beat + n.length for n in notes)
    ref_map = TempoMap((0.0, n_beats), (BPM, BPM))
    ref_path, beats_path = folder / "reference.wav", folder / "beats.txt"
    sf.write(ref_path, render(notes, ref_map, config.sr), config.sr)
    beats_path.write_text("".join(f"{t:.6f}\n" for t in ref_map.seconds(np.arange(np.floor(n_beats) + 1))))
    reference = build_reference(ref_path, config, YinModel(config), "soak", beats_path, per_bar)
    rng = np.random.default_rng(seed)
    variants = []
    for k in range(VARIANTS):
        knots = tuple(np.arange(0.0, n_beats + 16.0, 16.0))
        overall = rng.uniform(0.85, 1.15)
        bpm = tuple(BPM * overall * (1 + 0.12 * rng.uniform(-1, 1, len(knots))))
        noise_db = (30.0, 20.0)[k % 2]
        variants.append(render(notes, TempoMap(knots, bpm), config.sr, (k + 1) % 2, noise_db, seed + k + 1))
    return reference, variants


# -- the session's plan --------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of the session: rendering ``variant`` from ``src`` [s] on, or silence (variant -1).

    ``event`` is what led to it: "start"; after playing a while, "restart" (from the
    beginning), "back" / "forward" (a jump of 10-30 s), "drop" (0.2-1 s of audio lost),
    "pause" (silence) then "resume" (where it stopped), "next" (another rendering, from
    its start or from a place in it), or "end" (the rendering ended: silence, then "next").
    """

    event: str
    variant: int
    src: float
    length: float


def plan(rng: np.random.Generator, durations: list[float], total_s: float) -> Iterator[Segment]:
    """Segments lasting ``total_s`` in all, over renderings lasting ``durations`` [s]."""
    names, chances = list(EVENTS), list(EVENTS.values())
    t, v, pos, event = 0.0, 0, 0.0, "start"
    while t < total_s:
        length = min(rng.uniform(15.0, 90.0), durations[v] - pos, total_s - t)
        yield Segment(event, v, pos, length)
        t, pos = t + length, pos + length
        event = str(rng.choice(names, p=chances))
        if pos + 5.0 > durations[v]:  # the player stops at the end (or within its last seconds)
            event = "end"
        elif event == "back" and pos < 15.0:
            event = "restart"
        elif event == "forward" and pos + 45.0 > durations[v]:
            event = "next"
        if event in ("end", "pause"):
            gap = min(rng.uniform(2.0, 6.0) if event == "end" else rng.uniform(3.0, 10.0), total_s - t)
            if gap > 0:
                yield Segment(event, -1, 0.0, gap)
            t += gap
        if event in ("end", "next"):
            event, v = "next", int(rng.choice([k for k in range(len(durations)) if k != v]))
            pos = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.0, durations[v] * 0.6))
        elif event == "pause":
            event = "resume"
        elif event == "restart":
            pos = 0.0
        elif event == "back":
            pos -= rng.uniform(10.0, min(30.0, pos))
        elif event == "forward":
            pos += rng.uniform(10.0, 30.0)
        elif event == "drop":
            pos += rng.uniform(0.2, 1.0)


def take_blocks(segments: Iterable[Segment], variants: list[np.ndarray], sr: int, block: int) -> Iterator[np.ndarray]:
    """The session's audio in blocks of ``block`` samples (the last may be shorter), faded at splices."""
    half = max(1, round(FADE_S * sr))
    fade_in = np.sin(0.5 * np.pi * (np.arange(half) + 0.5) / half).astype(np.float32)
    buf, fill = np.zeros(block, np.float32), 0
    end = 0.0
    for seg in segments:
        n = round((end + seg.length) * sr) - round(end * sr)  # whole samples, no drift over the session
        end += seg.length
        if seg.variant < 0:
            pieces = [np.zeros(n, np.float32)]
        else:
            a = round(seg.src * sr)
            x = variants[seg.variant][a : a + n]
            x = np.concatenate([x, np.zeros(n - len(x), np.float32)]) if len(x) < n else x
            h = min(half, n // 2)
            pieces = [x[:h] * fade_in[:h], x[h : n - h], x[n - h :] * fade_in[:h][::-1]]
        for x in pieces:
            k = 0
            while k < len(x):
                m = min(block - fill, len(x) - k)
                buf[fill : fill + m] = x[k : k + m]
                fill, k = fill + m, k + m
                if fill == block:
                    yield buf.copy()
                    fill = 0
    if fill:
        yield buf[:fill].copy()


# -- measuring -----------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory [MB] (VmRSS), once the C heap's free pages are given back.

    glibc keeps freed memory (tens of MB after building the reference and rendering the
    take) and hands it out again: growth would first fill that slack unseen. Trimming
    before every sample (malloc_trim; nothing where there is no glibc) measures what the
    process holds, the same way at the baseline and after.
    """
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


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
    ms = seconds * 1000.0
    return {
        "blocks": len(ms),
        "median_ms": round(float(np.median(ms)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "over_block": int(np.sum(ms > block_s * 1000.0)),
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
            memory.append((t / 60.0, rss_mb()))
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
    end_mb = rss_mb()
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


def print_report(report: dict[str, Any]) -> None:
    mem, lat = report["memory"], report["latency"]
    events = ", ".join(f"{k} {v}" for k, v in sorted(report["events"].items()))
    print(f"\n{report['audio_s'] / 60:.1f} min of session followed in {report['wall_s']:.0f} s; "
          f"{report['segments']} segments ({events})")  # fmt: skip
    print(f"memory: baseline {mem['baseline_mb']:.1f} MB (after {mem['baseline_at_s']} s), peak {mem['peak_mb']:.1f} "
          f"MB, end {mem['end_mb']:.1f} MB; growth {mem['growth_mb']:+.1f} MB ({mem['growth_pct']:+.2f} %), of which "
          f"the positions the session keeps {mem['kept_positions_mb']:.1f} MB (the rest: "
          f"{mem['growth_besides_positions_pct']:+.2f} %)")  # fmt: skip
    print(f"\nblock processing ({report['block']} samples = {report['block_ms']} ms of audio):")
    print(f"  {'minutes':>13}{'blocks':>8}{'median':>10}{'p99':>10}{'max':>10}{'>block':>8}")
    rows = [(f"{s['from_min']:g}-{s['to_min']:g}", s) for s in report["latency_slices"]]
    for span, s in [*rows, ("all", lat)] if lat else []:
        print(f"  {span:>13}{s['blocks']:>8}{s['median_ms']:>8.2f}ms{s['p99_ms']:>8.2f}ms{s['max_ms']:>8.2f}ms"
              f"{s['over_block']:>8}")  # fmt: skip
    print(f"  p99 of the last slice / the first: {report['p99_last_over_first']}")
    print(f"speed: {report['speed_x_realtime']:.0f}x real time following, {report['session_x_realtime']:.0f}x for "
          f"the whole session loop")  # fmt: skip
    print(f"positions {report['positions']} ({report['lost_share'] * 100:.1f} % lost), relocks {report['relocks']}, "
          f"errors {report['errors']}")  # fmt: skip
    for message in report["error_messages"]:
        print(f"  error {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="simulated session length [min] (default 120)")
    parser.add_argument("--block", type=int, default=1024, help="block size [samples at 16 kHz] (default 1024)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the piece, renderings and session plan")
    parser.add_argument("--piece", choices=("melodic", "percussion"), default="melodic")
    parser.add_argument("--piece-minutes", type=float, default=3.0, help="length of the piece [min] (default 3)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.block <= 0 or args.piece_minutes <= 0:
        parser.error("--minutes, --block and --piece-minutes must be positive")

    report = run_soak(args.minutes, args.block, args.seed, args.piece, args.piece_minutes)
    print_report(report)
    checks = verdict(report)
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'} {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"command": " ".join(["tools/soak.py", *(sys.argv[1:] if argv is None else argv)]), **report}, indent=1
            )
        )
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
