"""Benchmark offline preprocessing: real-time factor and peak memory of
``matcher.audio.file_blocks`` + ``matcher.features.extract`` on a long file.

A 10-minute 44.1 kHz stereo WAV (so the resampler and the down-mix run) is made from
the shared Chopin piano and percussion recordings, looped (synthetic tones and clicks
when the data is absent). Each backend (SPICE, YIN) runs in its own subprocess, once
restricted to one thread on one core and once with default threads, so peak RSS and
thread settings never leak between runs. "Start-up" is the state after the model is
loaded and every code path has run once on a 2-s warm-up file; peak RSS is measured
above it by sampling /proc/self/status every 20 ms.

    PYTHONPATH=. .venv/bin/python tools/bench_preprocess.py [--minutes 10] [--profile]

The goal is >= 100x real time with SPICE on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher.evaluation.measure import RssAbove, TimedModel, Timer, run_worker

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_SPICE = SHARED / "models" / "spice_1"
FILE_SR = 44100  # [Hz] rate of the generated test file
WARMUP_SECONDS = 2.0

#: Environment that limits every library to one thread; set before any import.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


# -- the test file ---------------------------------------------------------------------


def _source_files(data: Path) -> list[Path]:
    piano = sorted((data / "vienna_chopin_op10_3").glob("*_fluidsynth.flac"))
    perc = sorted((data / "percussion").glob("perc7_*.flac"))
    return piano + perc


def _synthetic_source(sr: int, seconds: float = 60.0) -> np.ndarray:
    """Harmonic notes with clicks, for machines without the shared data."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.4 * sr)) / sr
    notes = []
    for _ in range(int(seconds / 0.4)):
        f0 = 440.0 * 2 ** ((rng.integers(40, 84) - 69) / 12)
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6) if k * f0 < sr / 2)
        x = x * np.exp(-t / 0.3)
        x[: int(0.01 * sr)] += 0.5 * rng.standard_normal(int(0.01 * sr)) * np.exp(-np.arange(int(0.01 * sr)) / 50)
        notes.append(0.2 * x)
    return np.concatenate(notes).astype(np.float32)


def make_test_file(path: Path, minutes: float, data: Path = SHARED / "data") -> str:
    """Write ``minutes`` of 44.1 kHz stereo PCM-16 audio to ``path``; return its source description."""
    import soundfile as sf

    from matcher.audio import read_audio

    files = _source_files(data)
    if files:
        source = np.concatenate([read_audio(f, FILE_SR) for f in files])
        what = f"{len(files)} shared recordings looped"
    else:
        source = _synthetic_source(FILE_SR)
        what = "synthetic notes and clicks looped"
    n = int(minutes * 60 * FILE_SR)
    mono = np.resize(source, n)
    # Different channels (gain and a few samples' delay) so the down-mix matters.
    stereo = np.stack([mono, 0.7 * np.roll(mono, 5)], axis=1)
    sf.write(str(path), np.clip(stereo, -1, 1), FILE_SR, subtype="PCM_16")
    return what


def _warmup_file(folder: Path) -> Path:
    import soundfile as sf

    t = np.arange(int(WARMUP_SECONDS * FILE_SR)) / FILE_SR
    rng = np.random.default_rng(1)
    x = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    path = folder / "warmup.wav"
    sf.write(str(path), np.stack([x, x], axis=1), FILE_SR, subtype="PCM_16")
    return path


# -- measuring in a worker process -------------------------------------------------------


def _load_model(backend: str, handle: str | None, threads: int):
    from matcher import Config, YinModel

    config = Config(pitch_backend=backend)
    if backend == "yin":
        return config, YinModel(config)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from matcher.features.spice import load_spice

    return config, load_spice(config, handle)


def _profile(path: Path, config, model) -> dict[str, float]:
    """Seconds spent decoding + resampling, in the spectral features and in the pitch
    stream (and inside the model), each run on its own over the whole file."""
    from matcher import file_blocks
    from matcher.features.pitch import PitchStream
    from matcher.features.spectral import SpectralStream

    with Timer() as clock:
        blocks = [block for block, _ in file_blocks(path, config.sr)]
    out = {"read+resample": clock.seconds}
    timed = TimedModel(model)
    for name, stream in (("spectral", SpectralStream(config)), ("pitch stream", PitchStream(timed))):
        with Timer() as clock:
            for block in blocks:
                stream.push(block)
            stream.flush()
        out[name] = clock.seconds
    out["of which inside the model"] = timed.seconds
    out["model_calls"] = timed.calls
    return out


def worker(args: argparse.Namespace) -> dict:
    """Load, warm up, then time one extraction of the file; returns the measurements."""
    if args.threads == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, whatever threads exist
    t_start = time.perf_counter()
    from matcher import audio_info, extract, file_blocks

    config, model = _load_model(args.backend, args.pitch_model, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        warm = _warmup_file(Path(tmp))
        extract((block for block, _ in file_blocks(warm, config.sr)), config, model)
    startup_s = time.perf_counter() - t_start
    path = Path(args.wav)
    duration = audio_info(path).duration
    runs = []  # (wall, cpu) [s] per run; the machine may be shared, so the best run counts
    with RssAbove(0.02) as rss:
        for _ in range(args.repeat):
            with Timer() as clock:
                frames = extract((block for block, _ in file_blocks(path, config.sr)), config, model)
            runs.append((clock.seconds, clock.cpu_seconds))
            del frames
    wall, cpu = min(runs)
    result = {
        "backend": args.backend,
        "threads": args.threads or "default",
        "hop": config.hop,
        "model": getattr(model, "handle", "") or "-",
        "audio_s": duration,
        "walls_s": [round(w, 2) for w, _ in runs],
        "startup_s": startup_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "rtf": duration / wall,
        "startup_rss_mb": rss.start_mb,
        "peak_above_startup_mb": rss.peak_mb - rss.start_mb,
    }
    if args.profile:
        result["profile"] = _profile(path, config, model)
    return result


# -- orchestration -----------------------------------------------------------------------


def _run_worker(backend: str, threads: int, wav: Path, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads == 1:
        env.update(ONE_THREAD_ENV)
    cmd = [sys.executable, __file__, "--worker", backend, "--wav", str(wav), "--threads", str(threads)]
    if args.pitch_model:
        cmd += ["--pitch-model", args.pitch_model]
    cmd += ["--repeat", str(args.repeat)] + (["--profile"] if args.profile else [])
    try:
        return run_worker(cmd, env)
    except RuntimeError as exc:
        tail = "\n".join(str(exc).strip().splitlines()[-5:])
        return {"backend": backend, "threads": threads or "default", "error": tail}


def _print_table(results: list[dict]) -> None:
    head = f"{'backend':8} {'threads':>7} {'hop':>4} {'RTF':>7} {'wall s':>7} {'cpu s':>7} {'start-up s':>10} "
    head += f"{'RSS start MB':>12} {'peak above MB':>13}  all runs [s]"
    print(head)
    print("-" * len(head))
    for r in results:
        if "error" in r:
            print(f"{r['backend']:8} {r['threads']!s:>7}  failed: {r['error']}")
            continue
        print(
            f"{r['backend']:8} {r['threads']!s:>7} {r['hop']:>4} {r['rtf']:>6.0f}x {r['wall_s']:>7.2f} "
            f"{r['cpu_s']:>7.2f} {r['startup_s']:>10.1f} {r['startup_rss_mb']:>12.0f} "
            f"{r['peak_above_startup_mb']:>13.1f}  {' '.join(map(str, r['walls_s']))}"
        )
    profiled = [r for r in results if "profile" in r]
    if profiled:
        print("\nwhere the time goes (each part run alone over the whole file; RTF = audio s / part s):")
        for r in profiled:
            prof = dict(r["profile"])
            calls = prof.pop("model_calls")
            parts = ", ".join(f"{k} {v:.2f}s ({r['audio_s'] / v:.0f}x)" for k, v in prof.items())
            print(f"  {r['backend']} threads={r['threads']}: {parts}; {calls} model calls")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated file [min]")
    parser.add_argument("--wav", help="use this audio file instead of generating one")
    parser.add_argument(
        "--pitch-model",
        default=os.environ.get("MATCHER_SPICE_MODEL") or (str(DEFAULT_SPICE) if DEFAULT_SPICE.is_dir() else None),
        help="SPICE SavedModel folder or TF Hub address (default: $MATCHER_SPICE_MODEL, else ../shared/models/spice_1)",
    )
    parser.add_argument("--backends", default="spice,yin", help="comma-separated pitch backends")
    parser.add_argument("--threads", default="1,0", help="thread counts to run (0 = library defaults)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per backend (the fastest is reported)")
    parser.add_argument("--profile", action="store_true", help="also time reading, spectral and pitch parts")
    parser.add_argument("--worker", choices=("spice", "yin"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.backend = args.worker
        args.threads = int(args.threads)
        print(json.dumps(worker(args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.wav:
            wav, what = Path(args.wav), args.wav
        else:
            wav = Path(tmp) / "bench.wav"
            t0 = time.perf_counter()
            what = make_test_file(wav, args.minutes)
            made = time.perf_counter() - t0
            print(f"test file: {args.minutes:g} min, {FILE_SR} Hz stereo PCM-16, {what} (made in {made:.0f} s)")
        print(f"SPICE model: {args.pitch_model}; {os.cpu_count()} CPUs\n")
        results = [
            _run_worker(backend, int(threads), wav, args)
            for threads in args.threads.split(",")
            for backend in args.backends.split(",")
        ]
    _print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
