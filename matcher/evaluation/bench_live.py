"""Live following at real-time pace (tools/bench_live.py; its docstring says what is
measured): the material with its beat truth, the two ways of feeding it (a PulseAudio
microphone and ``matcher follow`` in a subprocess, or a paced stream into
:class:`matcher.live.LiveSession`), the figures and their report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from matcher import Config, ReferenceStore, YinModel, build_reference
from matcher.synth import render

from . import pulse, synthetic
from .measure import follow_stats, memory_slope, rss_mb
from .metrics import beat_errors, summarize

BPM = 120.0
LEAD_S = 1.0  # silence before the take, as a player who starts a moment after the follower


def make_material(folder: Path, minutes: float, rate: int, seed: int = 11):
    """Reference (steady BPM, stored as "bench") and a take whose tempo wanders ±12 % every 8 bars."""
    rng = np.random.default_rng(seed)
    n_bars = max(4, round(minutes * BPM / 4))
    notes, n_beats = synthetic.piece("melodic", n_bars, seed), 4.0 * n_bars
    ref_map, take_map = synthetic.steady(n_beats, BPM), synthetic.rubato(n_beats, BPM, 0.12, 32.0, rng)
    config = Config(pitch_backend="yin")
    ref_path = synthetic.write_audio(folder / "reference.wav", render(notes, ref_map, config.sr), config.sr)
    store = folder / "store"
    ReferenceStore(store).add(build_reference(ref_path, config, YinModel(config), "bench"), replace=True)
    take = render(notes, take_map, rate, timbre=1, noise_db=30.0, seed=seed + 1)
    beats = np.arange(n_beats + 1.0)
    return store, take, take_map.seconds(beats), ref_map.seconds(beats)


def stats_of_result(r: Any) -> dict[str, Any]:
    """A :class:`matcher.live.LiveResult` as the ``stats`` object of ``matcher follow --stats --json``."""
    lat, proc = r.latency, r.processing
    return {
        "latency_ms": {"median": lat["median_ms"], "p99": lat["p99_ms"], "max": lat["max_ms"]},
        "processing_ms": {"median": proc["median_ms"], "p99": proc["p99_ms"], "max": proc["max_ms"]},
        "overflows": r.overflows,
        "dropped_blocks": r.dropped_blocks,
        "blocks": lat["n"],
    }


def via_pulse(store: Path, fed: np.ndarray, rate: int, duration: float, folder: Path, every: float) -> dict:
    why = pulse.unavailable()
    if why:
        raise SystemExit(f"bench_live: {why}; or use --via paced")
    jsonl = folder / "positions.jsonl"
    with pulse.PulseServer() as server:
        source = server.pipe_source(rate=rate)
        feeder = source.feed(fed)
        cmd = [sys.executable, "-m", "matcher", "follow", "bench", "--store", str(store), "--device", "pulse"]
        cmd += ["--duration", str(duration), "--stats", "--json", "--jsonl", str(jsonl), "--quiet"]
        proc = subprocess.Popen(cmd, env=dict(os.environ, **source.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        memory, start = [], None
        while proc.poll() is None:
            time.sleep(every)
            if start is None and jsonl.exists() and jsonl.stat().st_size:
                start = time.monotonic()  # following has begun: time 0 of the memory curve
            try:
                mb = rss_mb(proc.pid)
            except OSError:  # it has just ended
                continue
            if start is not None:
                memory.append((time.monotonic() - start, mb))
                print(f"  {memory[-1][0]:6.0f} s  RSS {mb:7.1f} MB", flush=True)
        out, err = proc.communicate()
        feeder.stop()
        source.unload()
    if proc.returncode != 0:
        raise SystemExit(f"bench_live: matcher exited with {proc.returncode}:\n{out.decode()}{err.decode()}")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    t, ref_t = np.array([r["t"] for r in rows]), np.array([r["ref_t"] for r in rows])
    return {"stats": follow_stats(out.decode()), "t": t, "ref_t": ref_t, "memory": memory_slope(memory)}


def via_paced(store: Path, fed: np.ndarray, rate: int, duration: float, every: float) -> dict:
    from matcher.live import LiveSession

    class Flags:
        input_overflow = False

        def __bool__(self) -> bool:
            return False

    class PacedStream:
        """10 ms blocks at real-time pace, as a sound card's callback would bring them."""

        def __init__(self, samplerate, channels, callback, finished_callback) -> None:
            self.callback, self.finished, self.latency = callback, finished_callback, None
            self.halt = threading.Event()

        def start(self) -> None:
            threading.Thread(target=self.run, daemon=True).start()

        def run(self) -> None:
            block, start = rate // 100, time.perf_counter()
            x = fed[:, None]
            for i in range(0, len(x), block):
                if self.halt.is_set():
                    return
                delay = start + (i + block) / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                self.callback(x[i : i + block], block, None, Flags())
            self.finished()

        def stop(self) -> None:
            self.halt.set()

        close = stop

    ref = ReferenceStore(store).load("bench")
    session = LiveSession(ref, samplerate=rate, duration=duration, stream_factory=PacedStream)
    session.start()
    memory, start, last = [], time.monotonic(), 0.0
    while session.wait(0.25):
        now = time.monotonic() - start
        if now - last >= every:
            last = now
            memory.append((now, rss_mb()))
            print(f"  {now:6.0f} s  RSS {memory[-1][1]:7.1f} MB", flush=True)
    r = session.result()
    return {"stats": stats_of_result(r), "t": r.track.t, "ref_t": r.track.ref_t, "memory": memory_slope(memory)}


GOAL = "median <= 5 ms and p99 <= 15 ms per hop, 0 overflows, flat memory"


def run(minutes: float, via: str, rate: int, every: float) -> dict[str, Any]:
    """Make the material, follow it ``via`` "pulse" or "paced" (progress on stdout); the
    report: the ``stats`` of ``matcher follow --stats --json`` with ``via``, ``minutes``,
    ``hop_ms``, ``memory``, ``accuracy`` (the beat metric, lead-in subtracted), ``goal``."""
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        store, take, take_beats, ref_beats = make_material(folder, minutes, rate)
        fed = np.concatenate([np.zeros(round(LEAD_S * rate), np.float32), take, np.zeros(5 * rate, np.float32)])
        duration = LEAD_S + len(take) / rate + 0.5
        print(f"material: {len(take) / rate / 60:.1f} min take, {len(take_beats)} beats, made in "
              f"{time.perf_counter() - t0:.0f} s; following {duration:.0f} s via {via}", flush=True)  # fmt: skip
        del take
        if via == "pulse":
            figures = via_pulse(store, fed, rate, duration, folder, every)
        else:
            figures = via_paced(store, fed, rate, duration, every)
    hop_ms = Config().frame_seconds * 1000
    stats = figures["stats"]
    acc = summarize(beat_errors(take_beats, ref_beats, figures["t"] - LEAD_S, figures["ref_t"]))
    return {"via": via, "minutes": round(duration / 60, 2), "hop_ms": hop_ms, **stats,
            "memory": figures["memory"], "accuracy": acc, "goal": GOAL}  # fmt: skip


def print_report(report: dict[str, Any]) -> None:
    """Latency, overflows, memory and beat accuracy, as the tool prints them."""
    lat, proc, acc = report["latency_ms"], report["processing_ms"], report["accuracy"]
    print(
        f"\nlatency block arrival -> position: median {lat['median']:.2f} ms, p99 {lat['p99']:.2f} ms, "
        f"max {lat['max']:.2f} ms over {report['blocks']} blocks; processing median {proc['median']:.2f} ms, "
        f"p99 {proc['p99']:.2f} ms"
    )
    print(f"overflows {report['overflows']}, dropped blocks {report['dropped_blocks']}; memory {report['memory']}")
    print(f"beats within 50/100/200 ms: {acc['within_50']:.1f} / {acc['within_100']:.1f} / {acc['within_200']:.1f} %, "
          f"median {acc['median_ms']:.1f} ms")  # fmt: skip


def meets_goal(report: dict[str, Any]) -> bool:
    """:data:`GOAL` on latency and losses (the tool's exit status)."""
    lat = report["latency_ms"]
    return lat["median"] <= 5 and lat["p99"] <= 15 and report["overflows"] == 0 and report["dropped_blocks"] == 0
