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
    # Different channels (gain and a few samples' delay) so the down-mix matters; written
    # a loop of the source at a time (hours of float64 stereo would not fit in memory).
    delayed = 0.7 * np.roll(source, 5)
    with sf.SoundFile(str(path), "w", FILE_SR, 2, "PCM_16") as f:
        for start in range(0, n, len(source)):
            m = min(len(source), n - start)
            f.write(np.clip(np.stack([source[:m], delayed[:m]], axis=1), -1, 1))
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
    from matcher.features.spice import load_spice, prepare_tensorflow

    prepare_tensorflow()  # as the library sets it up, before this import of its own
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
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


#: What a worker measures: ``extract`` (the features alone, held in memory: the baseline)
#: or ``add`` (what ``matcher reference add`` does: features with flux and chroma spooled
#: to the store's folder, beats tracked, the feature file written into a temporary store).
MODES = ("extract", "add")


def _extract_once(path: Path, config, model) -> dict[str, float]:
    from matcher import extract, file_blocks

    frames = extract((block for block, _ in file_blocks(path, config.sr)), config, model)
    del frames
    return {}


def _add_once(path: Path, config, model, store) -> dict[str, float]:
    """``reference add`` as the CLI runs it; CPU seconds of its parts."""
    from matcher import build_reference

    with Timer() as build, store.spooling():
        ref = build_reference(path, config, model, name="bench")
    with Timer() as write:
        store.add(ref, replace=True)
    del ref
    return {"features+beats cpu_s": build.cpu_seconds, "store write cpu_s": write.cpu_seconds}


def worker(
    backend: str,
    wav: Path | str,
    threads: int,
    pitch_model: str | None,
    repeat: int,
    profile: bool,
    mode: str = "extract",
) -> dict:
    """Load, warm up, then time ``repeat`` runs of ``mode`` (:data:`MODES`) on the file (the
    fastest counts); returns the measurements. Meant for a fresh process (``threads`` 1:
    pinned to one core)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if threads == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, whatever threads exist
    t_start = time.perf_counter()
    from matcher import ReferenceStore, audio_info

    config, model = _load_model(backend, pitch_model, threads)
    with tempfile.TemporaryDirectory() as tmp:
        store = ReferenceStore(Path(tmp) / "store")

        def once(p: Path) -> dict[str, float]:
            return _add_once(p, config, model, store) if mode == "add" else _extract_once(p, config, model)

        once(_warmup_file(Path(tmp)))
        startup_s = time.perf_counter() - t_start
        path = Path(wav)
        duration = audio_info(path).duration
        runs = []  # (wall, cpu, parts) per run; the machine may be shared, so the best run counts
        with RssAbove(0.02) as rss:
            for _ in range(repeat):
                with Timer() as clock:
                    parts = once(path)
                runs.append((clock.seconds, clock.cpu_seconds, parts))
    wall, cpu, parts = min(runs, key=lambda r: r[0])
    result = {
        "backend": backend,
        "mode": mode,
        "threads": threads or "default",
        "hop": config.hop,
        "model": getattr(model, "handle", "") or "-",
        "audio_s": duration,
        "walls_s": [round(r[0], 2) for r in runs],
        "startup_s": startup_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "rtf": duration / wall,
        "rtf_cpu": duration / cpu,
        "parts": parts,
        "startup_rss_mb": rss.start_mb,
        "peak_above_startup_mb": rss.peak_mb - rss.start_mb,
    }
    if profile:
        result["profile"] = _profile(path, config, model)
    return result


# -- orchestration -----------------------------------------------------------------------


def run_worker_process(
    tool: Path,
    backend: str,
    threads: int,
    wav: Path,
    pitch_model: str | None,
    repeat: int,
    profile: bool,
    mode: str = "extract",
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
    cmd += ["--repeat", str(repeat), "--mode", mode] + (["--profile"] if profile else [])
    try:
        return run_worker(cmd, env)
    except RuntimeError as exc:
        tail = "\n".join(str(exc).strip().splitlines()[-5:])
        return {"backend": backend, "mode": mode, "threads": threads or "default", "error": tail}


def print_table(results: list[dict]) -> None:
    """One row per run; an ``add`` row's ratios are against the ``extract`` row of the same
    backend and threads (the features alone, held in memory), measured in the same run."""
    head = f"{'backend':8} {'mode':7} {'threads':>7} {'hop':>4} {'RTF':>7} {'RTF cpu':>7} {'wall s':>7} {'cpu s':>7} "
    head += f"{'start-up s':>10} {'RSS start MB':>12} {'peak above MB':>13} {'vs extract':>16}  all runs [s]"
    print(head)
    print("-" * len(head))
    base = {(r["backend"], r["threads"]): r for r in results if r.get("mode") == "extract" and "error" not in r}
    for r in results:
        if "error" in r:
            print(f"{r['backend']:8} {r.get('mode', ''):7} {r['threads']!s:>7}  failed: {r['error']}")
            continue
        b = base.get((r["backend"], r["threads"]))
        ratio = "-"
        if r.get("mode") == "add" and b is not None:
            mem = r["peak_above_startup_mb"] / b["peak_above_startup_mb"]
            ratio = f"cpu {r['cpu_s'] / b['cpu_s']:.2f} mem {mem:.2f}"
        print(
            f"{r['backend']:8} {r.get('mode', 'extract'):7} {r['threads']!s:>7} {r['hop']:>4} {r['rtf']:>6.0f}x "
            f"{r.get('rtf_cpu', float('nan')):>6.0f}x {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} {r['startup_s']:>10.1f} "
            f"{r['startup_rss_mb']:>12.0f} {r['peak_above_startup_mb']:>13.1f} {ratio:>16}  "
            f"{' '.join(map(str, r['walls_s']))}"
        )
    parted = [r for r in results if r.get("parts")]
    for r in parted:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["parts"].items())
        print(f"  {r['backend']} {r['mode']} threads={r['threads']}: {parts}")
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
    modes: tuple[str, ...] = ("extract",),
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
            run_worker_process(tool, backend, n, path, pitch_model, repeat, profile, mode)
            for n in threads
            for backend in backends
            for mode in modes
        ]
