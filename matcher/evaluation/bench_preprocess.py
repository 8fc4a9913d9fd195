"""Offline preprocessing's real-time factor and peak memory (tools/bench_preprocess.py;
its docstring says what is measured): the test file, the measuring worker (one backend and
thread count per fresh process), the run and its table.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .data import DATA_ROOT
from .measure import RssAbove, TimedModel, Timer, run_worker

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPICE = REPO.parent / "shared" / "models" / "spice_1"
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


def make_test_file(path: Path, minutes: float, data: Path = DATA_ROOT) -> str:
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


def worker(backend: str, wav: Path | str, threads: int, pitch_model: str | None, repeat: int, profile: bool) -> dict:
    """Load, warm up, then time ``repeat`` extractions of the file (the fastest counts);
    returns the measurements. Meant for a fresh process (``threads`` 1: pinned to one core)."""
    if threads == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, whatever threads exist
    t_start = time.perf_counter()
    from matcher import audio_info, extract, file_blocks

    config, model = _load_model(backend, pitch_model, threads)
    with tempfile.TemporaryDirectory() as tmp:
        warm = _warmup_file(Path(tmp))
        extract((block for block, _ in file_blocks(warm, config.sr)), config, model)
    startup_s = time.perf_counter() - t_start
    path = Path(wav)
    duration = audio_info(path).duration
    runs = []  # (wall, cpu) [s] per run; the machine may be shared, so the best run counts
    with RssAbove(0.02) as rss:
        for _ in range(repeat):
            with Timer() as clock:
                frames = extract((block for block, _ in file_blocks(path, config.sr)), config, model)
            runs.append((clock.seconds, clock.cpu_seconds))
            del frames
    wall, cpu = min(runs)
    result = {
        "backend": backend,
        "threads": threads or "default",
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
    if profile:
        result["profile"] = _profile(path, config, model)
    return result


# -- orchestration -----------------------------------------------------------------------


def run_worker_process(
    tool: Path, backend: str, threads: int, wav: Path, pitch_model: str | None, repeat: int, profile: bool
) -> dict:
    """:func:`worker` in a fresh process (``tool --worker BACKEND ...``); a failure is a row
    with its ``error``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads == 1:
        env.update(ONE_THREAD_ENV)
    cmd = [sys.executable, str(tool), "--worker", backend, "--wav", str(wav), "--threads", str(threads)]
    if pitch_model:
        cmd += ["--pitch-model", pitch_model]
    cmd += ["--repeat", str(repeat)] + (["--profile"] if profile else [])
    try:
        return run_worker(cmd, env)
    except RuntimeError as exc:
        tail = "\n".join(str(exc).strip().splitlines()[-5:])
        return {"backend": backend, "threads": threads or "default", "error": tail}


def print_table(results: list[dict]) -> None:
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


def run(
    tool: Path,
    *,
    wav: str | None,
    minutes: float,
    pitch_model: str | None,
    backends: list[str],
    threads: list[int],
    repeat: int = 1,
    profile: bool = False,
) -> list[dict]:
    """Every thread count and backend in a fresh process, on ``wav`` or a generated file of
    ``minutes``; prints the test file and model lines first. The rows of :func:`print_table`."""
    with tempfile.TemporaryDirectory() as tmp:
        if wav:
            path, what = Path(wav), wav
        else:
            path = Path(tmp) / "bench.wav"
            t0 = time.perf_counter()
            what = make_test_file(path, minutes)
            made = time.perf_counter() - t0
            print(f"test file: {minutes:g} min, {FILE_SR} Hz stereo PCM-16, {what} (made in {made:.0f} s)")
        print(f"SPICE model: {pitch_model}; {os.cpu_count()} CPUs\n")
        return [
            run_worker_process(tool, backend, n, path, pitch_model, repeat, profile)
            for n in threads
            for backend in backends
        ]
