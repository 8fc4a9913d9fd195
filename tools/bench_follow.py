"""Speed and memory of the online follower, with pymatchmaker's Arzt follower as a yardstick.

(a) Step throughput [frames/s] on IDENTICAL inputs: pymatchmaker's 12-bin chroma of a
    take and a reference (30 frames/s), the same band (+-10 s = +-300 frames) for both.
    Ours: the numba kernel that ``Follower.steps`` runs (``follow_chunk``), fed the
    chroma arrays as they are, many frames per call (a file) and one frame per call
    (live); also the whole ``Follower.steps`` / ``Follower.step`` wrapper (it builds its
    own cost vectors: chroma L2-normalised plus two zero pitch columns).
    pymatchmaker: ``OnlineTimeWarpingArztFrame`` one frame per call, in its own venv
    (tools/baselines/run_matchmaker.py timing mode). Both are measured back to back,
    alternating, ``--rounds`` times; each figure is a median over passes.
    Not identical: the local distance (ours Euclidean, pymatchmaker Manhattan), and what
    a step does besides (our tempo model and match quality; pymatchmaker's Python-level
    bookkeeping per call).
(b) Per-hop latency of live following: the take fed in 256-sample blocks (one hop)
    through ``FeatureStream(config, NoPitch(config))`` + ``Follower.steps``; median and
    p99 [ms] against the 16 ms real-time budget of a hop. Again with SPICE pitch computed
    on the take (the hop that runs SPICE over the frames that became ready carries it).
(c) Peak memory above start-up while following a 3-hour reference (real reference frames
    tiled; start-up = reference in memory, kernels compiled, feature stream made), next
    to a 3-minute reference; each in a fresh process, RSS sampled from /proc/self/status
    by a thread (and the kernel's VmHWM peak after resetting it, as a check).

Data: the Chopin pair p01 (reference) -> p02 (take) of ../shared/data when present,
else a synthetic melody pair (matcher.synth).

    .venv/bin/python tools/bench_follow.py [--quick] [--no-spice] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from matcher.evaluation.measure import RssAbove, TimedModel, run_worker

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ROOT / "tools" / "baselines"
MM_PYTHON = BASELINES / ".venv-matchmaker" / "bin" / "python"
DATA = Path(os.environ.get("MATCHER_EVAL_DATA", ROOT.parent / "shared" / "data"))
CHOPIN = DATA / "vienna_chopin_op10_3"
SPICE_DEFAULT = ROOT.parent / "shared" / "models" / "spice_1"

BAND_S = 10.0  # search band either side [s], pymatchmaker's default window_size too
MM_FRAME_RATE = 30  # pymatchmaker's frame rate [frames/s]
HOP_BUDGET_MS = 1000.0 * 256 / 16000  # one hop of audio at the model rate

# pymatchmaker's chroma (its own feature path, as in its alignment mode), saved as .npy.
MM_FEATURES = """
import sys, numpy as np
from matchmaker.features.audio import compute_features_from_audio
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    np.save(dst, np.ascontiguousarray(compute_features_from_audio(src, processor_name="chroma"), np.float32))
"""


# -- inputs --------------------------------------------------------------------------------


def audio_pair(folder: Path) -> tuple[Path, Path, str]:
    """(reference, take, description): the Chopin pair, or a generated one."""
    ref, take = CHOPIN / "Chopin_op10_no3_p01_fluidsynth.flac", CHOPIN / "Chopin_op10_no3_p02_fluidsynth.flac"
    if ref.exists() and take.exists():
        return ref, take, "Chopin op. 10/3 p01 -> p02 (../shared/data)"
    import soundfile as sf

    from matcher.synth import TempoMap, melody, render

    notes = melody(36, 4, seed=4)
    n_beats = max(n.beat + n.length for n in notes)
    ref, take = folder / "ref.wav", folder / "take.wav"
    sf.write(ref, render(notes, TempoMap((0.0, n_beats), (100.0, 100.0)), 16000), 16000)
    sf.write(take, render(notes, TempoMap((0.0, n_beats), (85.0, 115.0)), 16000, timbre=1, noise_db=35.0), 16000)
    return ref, take, "generated melody, 36 bars (shared data absent)"


def ensure_matchmaker() -> None:
    if not MM_PYTHON.exists():
        print("pymatchmaker venv missing: running tools/baselines/setup_matchmaker.sh", file=sys.stderr)
        subprocess.run(["bash", str(BASELINES / "setup_matchmaker.sh")], check=True)


def matchmaker_chroma(ref: Path, take: Path, folder: Path) -> tuple[Path, Path]:
    r, t = folder / "ref_chroma.npy", folder / "take_chroma.npy"
    subprocess.run([str(MM_PYTHON), "-c", MM_FEATURES, str(ref), str(r), str(take), str(t)], check=True)
    return r, t


# -- our follower on given feature arrays ------------------------------------------------------


@contextlib.contextmanager
def given_cost_vectors() -> Iterator[None]:
    """Inside this block a Follower compares the frames' arrays as they are: its cost
    vectors (``matcher.follow.follower.cost_vectors``, which would scale flux and
    L2-normalise chroma) become the flux columns followed by the chroma columns, unchanged.
    Everything else — ``Follower.__init__``, ``Follower.steps``, the kernel — is the real code."""
    from matcher.follow import follower as module

    original = module.cost_vectors

    def given(frames, weights, scale=1.0):
        return np.ascontiguousarray(np.hstack([frames.flux, frames.chroma]), np.float32)

    module.cost_vectors = given
    try:
        yield
    finally:
        module.cost_vectors = original


def feature_frames(features: np.ndarray, pad: int = 0):
    """Frames carrying ``features`` [shape=(n, 12)] as chroma, at full level, and ``pad``
    all-zero onset bands (zeros add nothing to a Euclidean distance)."""
    from matcher.features import Frames

    n = len(features)
    zeros = np.zeros(n, np.float32)
    return Frames(
        midi=np.full(n, np.nan, np.float32),
        confidence=zeros,
        db=zeros,  # 0 dBFS: audible
        onset=zeros,
        flux=np.zeros((n, pad), np.float32),
        chroma=np.ascontiguousarray(features, np.float32),
    )


def feature_follower(ref_features: np.ndarray, frame_rate: int, band_s: float, pad: int = 0):
    """A Follower over ``ref_features`` at ``frame_rate`` [frames/s], band ``round(band_s *
    frame_rate)`` frames either side (as pymatchmaker's window). Build and step it inside
    :func:`given_cost_vectors`."""
    from matcher import Config
    from matcher.beats import Beats
    from matcher.follow import Follower, FollowParams
    from matcher.reference import Reference

    hop = 512
    sr = frame_rate * hop  # only the frame rate matters here
    config = Config(sr=sr, hop=hop, n_fft=1024, n_bands=max(pad, 1), fmax=0.45 * sr, pitch_backend="yin")
    beats = Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none")
    reference = Reference("features", feature_frames(ref_features, pad), beats, config, {})
    return Follower(reference, FollowParams(band_s=band_s), lookahead_samples=0)


def kernel_steps(follower, take: np.ndarray) -> np.ndarray:
    """The kernel alone (``follow_chunk`` via ``Follower.run_kernel``, as ``steps`` calls it)
    on the take's cost vectors [float32, shape=(m, d), C-contiguous], every frame audible;
    positions [reference frames]."""
    return follower.run_kernel(take, np.ones(len(take), bool))[1]


def timed_passes(make, run, passes: int, min_seconds: float = 0.0) -> list[float]:
    """Seconds per pass of ``run(make())`` (construction not timed); at least ``passes``
    passes and at least ``min_seconds`` of timed work."""
    out: list[float] = []
    while len(out) < passes or sum(out) < min_seconds:
        obj = make()
        start = time.perf_counter()
        run(obj)
        out.append(time.perf_counter() - start)
    return out


def bench_steps(ref_npy: Path, take_npy: Path, rounds: int, passes: int, mm_repeat: int) -> dict[str, Any]:
    ref_f, take_f = np.load(ref_npy), np.load(take_npy)
    n = len(take_f)
    band = round(BAND_S * MM_FRAME_RATE)
    # The arrays pymatchmaker gets, as they are; should the Follower refuse a reference
    # without onset bands, 12 all-zero bands go in front (the same distances).
    pad = 0
    try:
        with given_cost_vectors():
            feature_follower(ref_f, MM_FRAME_RATE, BAND_S, pad).steps(feature_frames(take_f[:10], pad))
    except Exception as exc:  # any refusal: retry padded, and say so in the report
        pad, padded_because = 12, f"{type(exc).__name__}: {exc}"
    else:
        padded_because = ""
    take_frames = feature_frames(take_f, pad)
    one_frames = [take_frames[i : i + 1] for i in range(n)]  # sliced before timing
    take_vectors = np.ascontiguousarray(np.hstack([take_frames.flux, take_frames.chroma]), np.float32)

    def make():
        with given_cost_vectors():
            return feature_follower(ref_f, MM_FRAME_RATE, BAND_S, pad)

    def steps_many(f) -> None:
        with given_cost_vectors():
            f.steps(take_frames)

    def steps_one(f) -> None:
        with given_cost_vectors():
            for frame in one_frames:
                f.steps(frame)

    def step_one(f) -> None:
        with given_cost_vectors():
            for frame in one_frames:
                f.step(frame)

    def kernel_many(f) -> None:
        kernel_steps(f, take_vectors)

    def kernel_one(f) -> None:
        for i in range(n):
            kernel_steps(f, take_vectors[i : i + 1])

    # Warm up (numba cache load); check the band and where our follower ends.
    f = make()
    with given_cost_vectors():
        end = float(f.steps(take_frames).ref_t[-1] / f.frame_s)
    assert f._D.shape == (2 * band + 1,), f._D.shape
    assert f.ref_vectors.shape == (len(ref_f), 12 + pad), f.ref_vectors.shape
    ours = {"kernel_many": kernel_many, "kernel_one": kernel_one}
    ours |= {"steps_many": steps_many, "steps_one": steps_one, "step_one": step_one}
    rows: dict[str, list[float]] = {k: [] for k in [*ours, "mm"]}
    mm_runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mm.json"
        for _ in range(rounds):
            # Back to back, alternating: ours, pymatchmaker, ours...
            for name, run in ours.items():
                if name.endswith("many"):
                    rows[name].append(n / np.median(timed_passes(make, run, passes, 0.3)))
                else:
                    rows[name].append(n / np.median(timed_passes(make, run, max(3, passes // 4))))
                if name == "steps_many":
                    cmd = [str(MM_PYTHON), str(BASELINES / "run_matchmaker.py"), "--method", "arzt"]
                    cmd += ["--ref-features", str(ref_npy), "--take-features", str(take_npy)]
                    cmd += ["--repeat", str(mm_repeat), "--frame-rate", str(MM_FRAME_RATE), "--out", str(out)]
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                    mm = json.loads(out.read_text())
                    assert mm["n_frames"] == n and mm["take_shape"] == list(take_f.shape)
                    assert mm["ref_shape"] == list(ref_f.shape)
                    rows["mm"].append(mm["frames_per_s"])
                    mm_runs += mm["frames_per_s_runs"]
    med = {k: float(np.median(v)) for k, v in rows.items()}
    return {
        "frames": n,
        "dims": int(take_f.shape[1]),
        "our_dims": 12 + pad,
        "padded_because": padded_because,
        "ref_frames": len(ref_f),
        "band_frames": band,
        "frame_rate": MM_FRAME_RATE,
        "ours_end_frame": end,
        "fps": med,
        "fps_rounds": rows,
        "mm_fps_passes": mm_runs,
        "ratio_rounds": {k: [a / b for a, b in zip(v, rows["mm"], strict=True)] for k, v in rows.items() if k != "mm"},
    }


# -- (b) per-hop latency ------------------------------------------------------------------------


def hop_latencies(reference, audio: np.ndarray, stream) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per hop-sized block, wall clock and CPU (all threads of the process):
    ``stream.push`` + ``Follower.steps`` on what it returned. On a busy machine the wall
    time includes waiting for a core; the CPU time does not."""
    from matcher.follow import Follower

    follower = Follower(reference, lookahead_samples=stream.lookahead_samples)
    hop = reference.config.hop
    wall, cpu = np.empty(len(audio) // hop), np.empty(len(audio) // hop)
    for k in range(len(wall)):
        start, start_cpu = time.perf_counter(), time.process_time()
        frames = stream.push(audio[k * hop : (k + 1) * hop])
        if len(frames):
            follower.steps(frames)
        wall[k], cpu[k] = time.perf_counter() - start, time.process_time() - start_cpu
    return wall, cpu


class GcPauses:
    """Durations [ms] of Python's full (generation 2) garbage collections while active."""

    def __enter__(self) -> GcPauses:
        self.full: list[float] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                self._start = time.perf_counter()
            else:
                self.full.append(1000.0 * (time.perf_counter() - self._start))


def bench_latency(ref_path: Path, take_path: Path, take_seconds: float, spice: bool) -> dict[str, Any]:
    from matcher import Config, build_reference
    from matcher.audio import read_audio
    from matcher.features import FeatureStream, NoPitch

    config = Config(pitch_backend="yin")
    reference = build_reference(ref_path, config, NoPitch(config), "bench")
    audio = read_audio(take_path, config.sr)[: int(take_seconds * config.sr)]
    warm = audio[: 2 * config.sr]
    results: dict[str, Any] = {}

    def measure(name: str, make_stream, model=None) -> None:
        hop_latencies(reference, warm, make_stream())  # warm-up: first calls, caches
        stream = make_stream()
        if model is not None:
            model.reset()
        with GcPauses() as gc_pauses:
            lat, cpu = (x * 1000.0 for x in hop_latencies(reference, audio, stream))
        results[name] = {
            "hops": len(lat),
            "median_ms": float(np.median(lat)),
            "p90_ms": float(np.percentile(lat, 90)),
            "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max()),
            "max_at_hop": int(lat.argmax()),
            "over_budget_pct": float(np.mean(lat > HOP_BUDGET_MS) * 100.0),
            "cpu_median_ms": float(np.median(cpu)),
            "cpu_p99_ms": float(np.percentile(cpu, 99)),
            "loadavg_1min": os.getloadavg()[0],
            "gc_full_pauses_ms": gc_pauses.full,
            "lookahead_ms": 1000.0 * stream.lookahead_samples / config.sr,
        }
        if model is not None:
            results[name]["model_calls"] = model.calls
            results[name]["model_ms_per_call"] = 1000.0 * model.seconds / max(model.calls, 1)

    measure("features+step (NoPitch)", lambda: FeatureStream(config, NoPitch(config)))
    if spice:
        from matcher.errors import MatcherError
        from matcher.features.pitch import SPICE_ENV, load_pitch_model

        handle = os.environ.get(SPICE_ENV) or (str(SPICE_DEFAULT) if SPICE_DEFAULT.exists() else None)
        spice_config = config.replace(pitch_backend="spice")
        try:
            start = time.perf_counter()
            model = load_pitch_model(spice_config, handle)
            results["spice_load_s"] = time.perf_counter() - start
            results["spice_handle"] = model.handle
        except MatcherError as exc:
            results["spice_error"] = str(exc)
        else:
            # The reference's grid is the same (hop 256); only the take's pitch is added.
            counted = TimedModel(model)
            measure("features+SPICE+step", lambda: FeatureStream(spice_config, counted), counted)
    return results


# -- (c) memory ---------------------------------------------------------------------------------


def tile_frames(frames, n: int):
    from matcher.features import Frames

    reps = -(-n // len(frames))
    return Frames.from_arrays({k: np.tile(a, (reps,) + (1,) * (a.ndim - 1))[:n] for k, a in frames.arrays().items()})


def memory_child(ref_path: Path, take_path: Path, ref_minutes: float, take_seconds: float) -> dict[str, Any]:
    """Runs in a fresh process: peak RSS above start-up following a long reference."""
    from matcher import Config, Reference, build_reference
    from matcher.audio import read_audio
    from matcher.beats import Beats
    from matcher.features import FeatureStream, NoPitch
    from matcher.follow import Follower

    config = Config(pitch_backend="yin")
    real = build_reference(ref_path, config, NoPitch(config), "real")
    n = int(ref_minutes * 60 * config.frame_rate)
    copies = -(-n // len(real.frames))
    span = len(real.frames) * config.frame_seconds
    beat_t = np.concatenate([real.beats.times + c * span for c in range(copies)])
    beat_t = beat_t[beat_t < n * config.frame_seconds]
    beats = Beats.from_numbers(beat_t, np.arange(len(beat_t), dtype=np.float64), 4, "tiled")
    reference = Reference("tiled", tile_frames(real.frames, n), beats, config, {})
    take = read_audio(take_path, config.sr)
    take = np.tile(take, -(-int(take_seconds * config.sr) // len(take)))[: int(take_seconds * config.sr)]
    # Compile/load the kernels and make the feature stream before start-up is measured.
    small = Reference("small", real.frames[: 10 * int(config.frame_rate)], real.beats, config, {})
    stream = FeatureStream(config, NoPitch(config))
    hop_latencies(small, take[: config.sr], FeatureStream(config, NoPitch(config)))
    del real, small
    gc.collect()

    with RssAbove(0.002) as build:
        follower = Follower(reference, lookahead_samples=stream.lookahead_samples)
    gc.collect()
    hop = config.hop
    with RssAbove(0.002) as following:
        for k in range(len(take) // hop):
            frames = stream.push(take[k * hop : (k + 1) * hop])
            if len(frames):
                follower.steps(frames)  # positions shown and dropped, as live
    start, built = build.start_mb, following.start_mb
    return {
        "ref_minutes": ref_minutes,
        "ref_frames": n,
        "ref_arrays_mb": sum(a.nbytes for a in reference.frames.arrays().values()) / 2**20,
        "follower_vectors_mb": follower.ref_vectors.nbytes / 2**20,
        "band_arrays": int(follower._D.shape[0]),
        "take_seconds": len(take) / config.sr,
        "startup_mb": start,
        "build_peak_mb": build.peak_mb - start,
        "build_hwm_mb": None if build.hwm_mb is None else build.hwm_mb - start,
        "after_build_mb": built - start,
        "follow_peak_mb": following.peak_mb - built,
        "follow_hwm_mb": None if following.hwm_mb is None else following.hwm_mb - built,
        "total_peak_mb": max(build.peak_mb, following.peak_mb) - start,
    }


def bench_memory(ref_path: Path, take_path: Path, ref_minutes: list[float], take_seconds: float) -> list[dict]:
    out = []
    for minutes in ref_minutes:
        cmd = [sys.executable, __file__, "--memory-child", str(minutes), "--take-seconds", str(take_seconds)]
        cmd += ["--ref-audio", str(ref_path), "--take-audio", str(take_path)]
        out.append(run_worker(cmd))
    return out


# -- report ---------------------------------------------------------------------------------------


def print_report(pair: str, steps: dict, latency: dict, memory: list[dict]) -> None:
    print(f"\ndata: {pair}")
    s = steps
    print(
        f"\n(a) step throughput, identical inputs: pymatchmaker chroma, {s['dims']} dims, "
        f"{s['frame_rate']} frames/s, take {s['frames']} frames, reference {s['ref_frames']} frames, "
        f"band +-{s['band_frames']} frames (+-{BAND_S:g} s)"
    )
    if s["padded_because"]:
        print(f"  ours compares {s['our_dims']} dims (12 zero onset bands in front): {s['padded_because']}")
    f = s["fps"]
    print(f"  {'':<62}{'frames/s':>10}{'x pymatchmaker':>16}{'per round':>18}")
    lines = [
        ("matcher kernel alone, all frames in one call", "kernel_many"),
        ("matcher kernel alone, one frame per call (live)", "kernel_one"),
        ("matcher Follower.steps, all frames in one call", "steps_many"),
        ("matcher Follower.steps, one frame per call (live)", "steps_one"),
        ("matcher Follower.step, one frame per call (Position per call)", "step_one"),
        ("pymatchmaker OnlineTimeWarpingArztFrame, one frame per call", "mm"),
    ]
    for label, key in lines:
        if key in f:
            rounds = ", ".join(f"{r:.1f}" for r in s["ratio_rounds"].get(key, []))
            print(f"  {label:<62}{f[key]:>10,.0f}{f[key] / f['mm']:>15.1f}x{rounds:>18}")
    print(f"  (our follower ended at reference frame {s['ours_end_frame']:.0f} of {s['ref_frames']})")

    print(f"\n(b) per-hop latency, take fed in 256-sample blocks; real-time budget {HOP_BUDGET_MS:.0f} ms per hop")
    print(
        f"  {'':<28}{'hops':>7}{'median ms':>11}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'> budget':>10}"
        f"{'look-ahead':>12}{'CPU median/p99 ms':>20}"
    )
    for name, r in latency.items():
        if isinstance(r, dict):
            print(
                f"  {name:<28}{r['hops']:>7}{r['median_ms']:>11.3f}{r['p90_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['max_ms']:>9.1f}{r['over_budget_pct']:>9.1f}%{r['lookahead_ms']:>10.0f} ms"
                f"{r['cpu_median_ms']:>11.3f} / {r['cpu_p99_ms']:.2f}"
            )
            if r["gc_full_pauses_ms"]:
                pauses = ", ".join(f"{p:.0f}" for p in r["gc_full_pauses_ms"])
                print(
                    f"  {'':<28}max at hop {r['max_at_hop']}; full Python GC ran {len(r['gc_full_pauses_ms'])}x "
                    f"while following ({pauses} ms)"
                )
            if "model_calls" in r:
                print(
                    f"  {'':<28}SPICE ran on {r['model_calls']} of {r['hops']} hops, "
                    f"{r['model_ms_per_call']:.1f} ms per run (inside the hop that ran it)"
                )
    loads = [r["loadavg_1min"] for r in latency.values() if isinstance(r, dict)]
    print(
        f"  wall times on a shared machine (load average {max(loads):.1f} on {os.cpu_count()} cores): "
        "the CPU column (process CPU time per hop) is the cost without waiting for a core"
    )
    if "spice_error" in latency:
        print(f"  SPICE not measured: {latency['spice_error']}")
    elif "spice_load_s" in latency:
        print(f"  SPICE model {latency['spice_handle']} (loaded in {latency['spice_load_s']:.1f} s, not counted)")

    print("\n(c) memory [MB] above start-up (reference in memory, kernels compiled), fresh process each")
    head = ("reference", "frames", "ref arrays", "build Follower", "after build", "following", "total peak")
    print(f"  {head[0]:<12}{head[1]:>9}{head[2]:>12}{head[3]:>16}{head[4]:>13}{head[5]:>11}{head[6]:>12}")
    for m in memory:
        minutes = m["ref_minutes"]
        name = f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"
        print(
            f"  {name:<12}{m['ref_frames']:>9,}{m['ref_arrays_mb']:>12.0f}{m['build_peak_mb']:>16.0f}"
            f"{m['after_build_mb']:>13.0f}{m['follow_peak_mb']:>11.1f}{m['total_peak_mb']:>12.0f}"
        )
    m = memory[-1]
    print(
        f"  following: {m['take_seconds']:.0f} s of take in hop blocks; band arrays {m['band_arrays']} cells; "
        f"'build Follower' = peak while Follower() makes the reference's cost vectors "
        f"({m['follower_vectors_mb']:.0f} MB kept for the longest), 'following' = peak above the RSS after build"
    )
    hwm = ", ".join(
        f"{x['build_hwm_mb']:.0f}/{x['follow_hwm_mb']:.1f}" for x in memory if x["build_hwm_mb"] is not None
    )
    if hwm:
        print(f"  check, kernel VmHWM peaks (build/following): {hwm}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run: fewer rounds, 20 s of take, a 1-hour reference")
    ap.add_argument("--no-spice", action="store_true", help="skip the SPICE latency row")
    ap.add_argument("--json", type=Path, help="write all figures here")
    ap.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--take-seconds", type=float, default=180.0, help=argparse.SUPPRESS)
    ap.add_argument("--ref-audio", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--take-audio", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.ref_audio, args.take_audio, args.memory_child, args.take_seconds)))
        return 0

    ensure_matchmaker()
    rounds, passes, mm_repeat = (1, 5, 2) if args.quick else (3, 15, 5)
    take_seconds = 20.0 if args.quick else 60.0
    mem_minutes = [3.0, 60.0] if args.quick else [3.0, 180.0]
    mem_take = 30.0 if args.quick else 180.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ref, take, pair = audio_pair(folder)
        ref_npy, take_npy = matchmaker_chroma(ref, take, folder)
        print("(a) step throughput ...", file=sys.stderr)
        steps = bench_steps(ref_npy, take_npy, rounds, passes, mm_repeat)
        print("(b) per-hop latency ...", file=sys.stderr)
        latency = bench_latency(ref, take, take_seconds, spice=not args.no_spice)
        print("(c) memory ...", file=sys.stderr)
        memory = bench_memory(ref, take, mem_minutes, mem_take)
    print_report(pair, steps, latency, memory)
    if args.json:
        args.json.write_text(json.dumps({"pair": pair, "steps": steps, "latency": latency, "memory": memory}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
