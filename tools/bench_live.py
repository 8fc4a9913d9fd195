"""Latency, overflows and memory of live following, on a take fed at real-time pace.

Generates a reference and a tempo-warped take of ``--minutes`` (matcher.synth, exact
ground truth), then follows the take live:

* ``--via pulse`` (default): through a real audio path. A private PulseAudio server with
  a file-fed microphone (tools/pulse_mic.py) and ``matcher follow REF --device pulse
  --duration S --stats --jsonl FILE`` in a subprocess, exactly what a user runs; its
  memory (VmRSS) is sampled from /proc every few seconds.
* ``--via paced``: no sound server; :class:`matcher.live.LiveSession` in this process
  with a stream that delivers 10 ms blocks at real-time pace from a thread.

Reports the time from a block's arrival to the Position it produced (median, p99, max),
the worker's processing time, overflows and dropped blocks, memory over the session, and
the share of beats within 50/100/200 ms (the take's lead-in silence subtracted).

    .venv/bin/python tools/bench_live.py --minutes 10 [--via pulse|paced] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pulse_mic  # noqa: E402  (tools/ is not a package)

from matcher import Config, ReferenceStore, build_reference  # noqa: E402
from matcher.features import YinModel  # noqa: E402
from matcher.synth import TempoMap, melody, render  # noqa: E402

BPM = 120.0
LEAD_S = 1.0  # silence before the take, as a player who starts a moment after the follower


def make_material(folder: Path, minutes: float, rate: int, seed: int = 11):
    """Reference (steady BPM) and a take whose tempo wanders ±12 % every 8 bars."""
    rng = np.random.default_rng(seed)
    n_bars = max(4, round(minutes * 60 * BPM / 60 / 4))
    n_beats = 4 * n_bars
    notes = melody(n_bars, 4, seed=seed)
    ref_map = TempoMap((0.0, float(n_beats)), (BPM, BPM))
    knots = tuple(np.arange(0.0, n_beats + 32, 32.0))
    take_map = TempoMap(knots, tuple(BPM * (1 + 0.12 * rng.uniform(-1, 1, len(knots)))))
    config = Config(pitch_backend="yin")
    ref_path = folder / "reference.wav"
    sf.write(ref_path, render(notes, ref_map, config.sr), config.sr)
    store = folder / "store"
    ReferenceStore(store).add(build_reference(ref_path, config, YinModel(config), "bench"), replace=True)
    take = render(notes, take_map, rate, timbre=1, noise_db=30.0, seed=seed + 1)
    beats = np.arange(n_beats + 1.0)
    return store, take, take_map.seconds(beats), ref_map.seconds(beats)


def rss_mb(pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def memory_summary(samples: list[tuple[float, float]]) -> dict:
    """RSS [MB] after the first minute and at the end, and the slope over that span."""
    if not samples:
        return {}
    t = np.array([s[0] for s in samples])
    mb = np.array([s[1] for s in samples])
    late = t >= min(60.0, t[-1] / 2)
    slope = float(np.polyfit(t[late], mb[late], 1)[0] * 60) if late.sum() >= 3 else float("nan")
    return {
        "rss_start_mb": round(float(mb[late][0]), 1),
        "rss_end_mb": round(float(mb[-1]), 1),
        "rss_max_mb": round(float(mb.max()), 1),
        "rss_slope_mb_per_min": round(slope, 3),
        "from_s": round(float(t[late][0]), 1),
        "samples": len(samples),
    }


def accuracy(t: np.ndarray, ref_t: np.ndarray, take_beats: np.ndarray, ref_beats: np.ndarray) -> dict:
    err = np.abs(np.interp(take_beats, t, ref_t) - ref_beats) * 1000.0
    out = {f"within_{tol}": round(float(np.mean(err <= tol) * 100), 1) for tol in (50, 100, 200)}
    out["median_ms"] = round(float(np.median(err)), 1)
    return out


STATS_RE = {
    "latency": re.compile(
        r"latency, block arrival to position: median ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms "
        r"\(at ([\d.]+) s\) over \d+ blocks, (\d+) longer than"
    ),
    "processing": re.compile(r"processing: median ([\d.]+) ms, p99 ([\d.]+) ms"),
    "input": re.compile(r"overflows (\d+), dropped blocks (\d+)"),
    "buffering": re.compile(r"device buffering ([\d.]+) ms"),
}


def via_pulse(store: Path, fed: np.ndarray, rate: int, duration: float, folder: Path, every: float) -> dict:
    why = pulse_mic.unavailable()
    if why:
        raise SystemExit(f"bench_live: {why}; or use --via paced")
    jsonl = folder / "positions.jsonl"
    with pulse_mic.PulseServer() as server:
        source = server.pipe_source(rate=rate)
        feeder = source.feed(fed)
        cmd = [sys.executable, "-m", "matcher", "follow", "bench", "--store", str(store), "--device", "pulse"]
        cmd += ["--duration", str(duration), "--stats", "--jsonl", str(jsonl), "--quiet"]
        proc = subprocess.Popen(cmd, env=dict(os.environ, **source.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        memory, start = [], None
        while proc.poll() is None:
            time.sleep(every)
            if start is None and jsonl.exists() and jsonl.stat().st_size:
                start = time.monotonic()  # following has begun: time 0 of the memory curve
            mb = rss_mb(proc.pid)
            if start is not None and mb is not None:
                memory.append((time.monotonic() - start, mb))
                print(f"  {memory[-1][0]:6.0f} s  RSS {mb:7.1f} MB", flush=True)
        out, err = proc.communicate()
        feeder.stop()
        source.unload()
    text = out.decode() + err.decode()
    if proc.returncode != 0:
        raise SystemExit(f"bench_live: matcher exited with {proc.returncode}:\n{text}")
    figures: dict = {"stats_lines": [line for line in text.splitlines() if line.strip()]}
    for key, regex in STATS_RE.items():
        m = regex.search(text)
        if m:
            figures[key] = [float(v) for v in m.groups()]
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    figures["t"] = np.array([r["t"] for r in rows])
    figures["ref_t"] = np.array([r["ref_t"] for r in rows])
    figures["memory"] = memory_summary(memory)
    return figures


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
    lat, proc = r.latency, r.processing
    return {
        "latency": [lat["median_ms"], lat["p99_ms"], lat["max_ms"], lat["max_at_s"], lat["over_hop"]],
        "processing": [proc["median_ms"], proc["p99_ms"]],
        "input": [r.overflows, r.dropped_blocks],
        "t": r.track.t,
        "ref_t": r.track.ref_t,
        "memory": memory_summary(memory),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the take [min]")
    parser.add_argument("--via", choices=("pulse", "paced"), default="pulse")
    parser.add_argument("--rate", type=int, default=44100, help="microphone rate [Hz]")
    parser.add_argument("--every", type=float, default=5.0, help="memory sampling interval [s]")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        store, take, take_beats, ref_beats = make_material(folder, args.minutes, args.rate)
        fed = np.concatenate(
            [np.zeros(round(LEAD_S * args.rate), np.float32), take, np.zeros(5 * args.rate, np.float32)]
        )
        duration = LEAD_S + len(take) / args.rate + 0.5
        print(f"material: {len(take) / args.rate / 60:.1f} min take, {len(take_beats)} beats, made in "
              f"{time.perf_counter() - t0:.0f} s; following {duration:.0f} s via {args.via}", flush=True)  # fmt: skip
        del take
        if args.via == "pulse":
            figures = via_pulse(store, fed, args.rate, duration, folder, args.every)
        else:
            figures = via_paced(store, fed, args.rate, duration, args.every)
    hop_ms = Config().frame_seconds * 1000
    lat, proc, (overflows, drops) = figures["latency"], figures["processing"], figures["input"]
    acc = accuracy(figures["t"] - LEAD_S, figures["ref_t"], take_beats, ref_beats)
    report = {
        "via": args.via,
        "minutes": round(duration / 60, 2),
        "hop_ms": hop_ms,
        "latency_ms": {"median": lat[0], "p99": lat[1], "max": lat[2], "max_at_s": lat[3]},
        "blocks_over_hop": int(lat[4]),
        "processing_ms": {"median": proc[0], "p99": proc[1]},
        "overflows": int(overflows),
        "dropped_blocks": int(drops),
        "device_buffering_ms": figures.get("buffering", [None])[0],
        "memory": figures["memory"],
        "accuracy": acc,
        "goal": "median <= 5 ms and p99 <= 15 ms per hop, 0 overflows, flat memory",
    }
    print(
        f"\nlatency block arrival -> position: median {lat[0]:.2f} ms, p99 {lat[1]:.2f} ms, max {lat[2]:.2f} ms "
        f"at {lat[3]} s, {int(lat[4])} blocks longer than the {hop_ms:.0f} ms hop; "
        f"processing median {proc[0]:.2f} ms, p99 {proc[1]:.2f} ms"
    )
    print(f"overflows {int(overflows)}, dropped blocks {int(drops)}; memory {report['memory']}")
    print(f"beats within 50/100/200 ms: {acc['within_50']} / {acc['within_100']} / {acc['within_200']} %, "
          f"median {acc['median_ms']} ms")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    ok = lat[0] <= 5 and lat[1] <= 15 and overflows == 0 and drops == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
