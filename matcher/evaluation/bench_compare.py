"""``matcher compare`` on long recordings, against librosa's full-matrix DTW where that fits
in memory (tools/bench_compare.py; its docstring says what is measured): the inputs with a
known map, the measuring workers (each run in a fresh process), the run over sizes and its
table.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .data import DATA_ROOT
from .measure import peak_rss_mb, rss_mb, run_worker
from .metrics import beat_errors, summarize

DATA = DATA_ROOT
SR = 16000
CHUNK_S = 10.0


# -- inputs ------------------------------------------------------------------------------


def source_audio() -> list[np.ndarray]:
    from matcher.audio import read_audio

    files = sorted((DATA / "vienna_chopin_op10_3").glob("*.flac")) + sorted((DATA / "percussion").glob("perc7_*.flac"))
    if files:
        return [read_audio(f, SR) for f in files]
    from matcher.synth import TempoMap, melody, percussion, render

    out = []
    for seed in range(6):
        notes = melody(24, 4, seed=seed) if seed % 2 == 0 else percussion(8, seed=seed)
        nb = max(n.beat + n.length for n in notes)
        out.append(render(notes, TempoMap((0.0, nb), (90.0 + 5 * seed, 100.0)), SR, timbre=seed % 2))
    return out


def build_pair(seconds: float, folder: Path, seed: int = 0) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """Write A and B (16 kHz PCM_16 WAV) of about ``seconds``; return their paths and the
    true map as knots (A seconds, B seconds)."""
    import librosa
    import soundfile as sf

    sources = source_audio()
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    chunk = int(CHUNK_S * SR)
    n_chunks = -(-n // chunk)
    knots = np.linspace(0, 1, max(4, n_chunks // 6))
    curve = np.interp(np.linspace(0, 1, n_chunks), knots, rng.uniform(0.88, 1.12, len(knots)))
    a_path, b_path = folder / f"a_{int(seconds)}.wav", folder / f"b_{int(seconds)}.wav"
    ka, kb = [0.0], [0.0]
    with sf.SoundFile(a_path, "w", SR, 1, "PCM_16") as fa, sf.SoundFile(b_path, "w", SR, 1, "PCM_16") as fb:
        buf = np.zeros(0, np.float32)
        order = 0
        written = 0
        for k in range(n_chunks):
            while len(buf) < chunk:
                buf = np.concatenate([buf, sources[order % len(sources)]])
                order += 1
            piece, buf = buf[:chunk], buf[chunk:]
            piece = piece[: n - written]
            written += len(piece)
            stretched = librosa.effects.time_stretch(piece, rate=float(curve[k]))
            power = float(np.mean(stretched**2)) or 1e-8
            stretched = stretched + rng.normal(0, np.sqrt(power / 1000.0), len(stretched)).astype(np.float32)
            fa.write(np.clip(piece, -1, 1))
            fb.write(np.clip(stretched, -1, 1))
            ka.append(ka[-1] + len(piece) / SR)
            kb.append(kb[-1] + len(stretched) / SR)
    return a_path, b_path, np.array(ka), np.array(kb)


# -- workers (run in subprocesses) --------------------------------------------------------


def warm_up() -> None:
    """Import and compile everything once on tiny inputs (numba kernels, librosa's YIN and
    beat tracker, the CLI), so that start-up RSS includes it."""
    import soundfile as sf

    from matcher.align import AlignParams, align_vectors
    from matcher.beats import track_beats
    from matcher.cli import main as cli_main
    from matcher.synth import TempoMap, melody, render

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    align_vectors(X, X[::2], 0.016, AlignParams(method="banded", coarse_cells=1000))
    track_beats(np.abs(rng.normal(size=5000)), SR, 256)
    with tempfile.TemporaryDirectory() as tmp:
        notes = melody(2, 4, seed=0)
        for name, bpm in (("a", 100.0), ("b", 110.0)):
            sf.write(Path(tmp) / f"{name}.wav", render(notes, TempoMap((0.0, 8.0), (bpm, bpm)), SR), SR)
        cli_main(["compare", f"{tmp}/a.wav", f"{tmp}/b.wav", "-q", "--json", f"{tmp}/c.json", "--store", f"{tmp}/s"])


def worker_matcher(a: str, b: str) -> dict[str, Any]:
    """``matcher compare A B --json OUT -q`` in this process, as a user runs it."""
    from matcher.cli import main as cli_main

    warm_up()
    start = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "c.json"
        t0 = time.perf_counter()
        rc = cli_main(["compare", a, b, "--json", str(out_json), "-q", "--store", str(Path(tmp) / "store")])
        total = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError(f"matcher compare exited {rc}")
        data = json.loads(out_json.read_text())
    path = np.asarray(data["path"], np.float64)
    return {
        "total_s": total,
        "method": data["method"],
        "beats": len(data["beats"]),
        "start_mb": start,
        "peak_above_start_mb": peak_rss_mb() - start,
        "a_t": path[:, 0].tolist(),
        "b_t": path[:, 1].tolist(),
    }


def worker_stages(a: str, b: str) -> dict[str, Any]:
    """The same work stage by stage: features of each file, then alignment + comparison."""
    from matcher import Config, YinModel
    from matcher.align import AlignParams
    from matcher.compare import compare, prepare_performance

    warm_up()
    config = Config(pitch_backend="yin")
    model = YinModel(config)
    t0 = time.perf_counter()
    ra = prepare_performance(a, config, model, "A")
    t1 = time.perf_counter()
    rb = prepare_performance(b, config, model, "B", track=False)
    t2 = time.perf_counter()
    result = compare(ra, rb, AlignParams())
    t3 = time.perf_counter()
    return {
        "features_a_s": t1 - t0,
        "features_b_s": t2 - t1,
        "align_compare_s": t3 - t2,
        "frames": [len(ra.frames), len(rb.frames)],
        "cells": result.alignment.cells,
    }


def _vectors(a: str, b: str, pool: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    from matcher import Config, build_reference
    from matcher.align import AlignParams, AlignWeights, feature_vectors
    from matcher.align_kernels import pool as pool_rows
    from matcher.features import NoPitch

    config = Config(pitch_backend="yin")
    model = NoPitch(config)  # the cost does not use pitch (weight 0)
    onsets = AlignParams().chroma_onsets  # the vectors `compare` aligns
    X = feature_vectors(build_reference(a, config, model, "A").frames, AlignWeights(), config.gate_db, onsets)
    Y = feature_vectors(build_reference(b, config, model, "B").frames, AlignWeights(), config.gate_db, onsets)
    if pool > 1:
        X, Y = pool_rows(X, pool), pool_rows(Y, pool)
    return X, Y, config.frame_seconds * pool


def worker_librosa(a: str, b: str) -> dict[str, Any]:
    import librosa
    from scipy.spatial.distance import cdist

    X, Y, _ = _vectors(a, b)
    librosa.sequence.dtw(C=cdist(X[:50], Y[:60]))  # warm-up (numba)
    start = rss_mb()
    t0 = time.perf_counter()
    librosa.sequence.dtw(C=cdist(X, Y))
    return {"align_s": time.perf_counter() - t0, "start_mb": start, "peak_above_start_mb": peak_rss_mb() - start}


def worker_agree(a: str, b: str, pool: int) -> dict[str, Any]:
    from matcher.align import AlignParams, align_vectors

    X, Y, fs = _vectors(a, b, pool)
    t0 = time.perf_counter()
    banded = align_vectors(X, Y, fs, AlignParams(method="banded"))
    t1 = time.perf_counter()
    full = align_vectors(X, Y, fs, AlignParams(method="dtw", memory_mb=1e9))
    t2 = time.perf_counter()
    # for every B frame, the A frames each path pairs it with (midpoint of the run)
    grid = np.arange(len(Y)) * fs
    diff = np.abs(banded.a_at(grid) - full.a_at(grid)) / fs
    return {
        "frames": [len(X), len(Y)],
        "frame_s": fs,
        "within_1_frame": float(np.mean(diff <= 1.0)),
        "max_frames": float(diff.max()),
        "banded_s": t1 - t0,
        "dtw_python_s": t2 - t1,
        "banded_cells": banded.cells,
        "dtw_cells": full.cells,
    }


WORKERS = ("matcher", "stages", "librosa", "agree")


def run_worker_kind(kind: str, *args: str) -> dict[str, Any]:
    """What a worker process runs: ``matcher A B``, ``stages A B``, ``librosa A B`` or
    ``agree A B POOL``."""
    if kind == "agree":
        return worker_agree(args[0], args[1], int(args[2]))
    return {"matcher": worker_matcher, "stages": worker_stages, "librosa": worker_librosa}[kind](*args)


def worker(tool: Path, *args: str) -> dict[str, Any]:
    """One measurement in a fresh process (``tool --worker KIND ...``, which calls
    :func:`run_worker_kind`)."""
    return run_worker([sys.executable, str(tool), "--worker", *args])


def truth_errors(res: dict[str, Any], ka: np.ndarray, kb: np.ndarray) -> dict[str, float]:
    """Path error against the known map, on a 1 s grid of A time (the beat metric with A as the take)."""
    grid = np.arange(1.0, ka[-1] - 1.0, 1.0)
    figures = summarize(beat_errors(grid, np.interp(grid, ka, kb), res["a_t"], res["b_t"]))
    return {"median_ms": figures["median_ms"], "p95_ms": figures["p95_ms"], "within_50": figures["within_50"]}


def run(
    tool: Path, sizes: list[float], baseline_max_gb: float, agree_pool: int, folder: Path | None = None
) -> dict[str, Any]:
    """Every size: build the pair, measure matcher (and its stages), librosa where it fits
    in ``baseline_max_gb``, the banded/full agreement on a pair of 500-700 s (``agree_pool``
    0: skip); progress on stderr. ``{"sizes": {label: row}}``."""
    results: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for seconds in sizes:
            label = f"{seconds / 60:.0f} min"
            t0 = time.perf_counter()
            a, b, ka, kb = build_pair(seconds, Path(tmp))
            row: dict[str, Any] = {"a_s": float(ka[-1]), "b_s": float(kb[-1]), "build_s": time.perf_counter() - t0}
            print(f"{label}: A {ka[-1]:.0f} s, B {kb[-1]:.0f} s (built in {row['build_s']:.0f} s)", file=sys.stderr)
            m = worker(tool, "matcher", str(a), str(b))
            row["matcher"] = {k: v for k, v in m.items() if k not in ("a_t", "b_t")}
            row["matcher"]["truth"] = truth_errors(m, ka, kb)
            row["matcher"].update(worker(tool, "stages", str(a), str(b)))
            print(f"  matcher {json.dumps(row['matcher'])}", file=sys.stderr)
            n, k = row["matcher"]["frames"]
            need_gb = n * k * (8 + 8 + 4) / 2**30
            if need_gb <= baseline_max_gb:
                row["librosa"] = worker(tool, "librosa", str(a), str(b))
            else:
                row["librosa"] = {"skipped": f"needs about {need_gb:.0f} GB for {n} x {k} cells"}
            print(f"  librosa {json.dumps(row['librosa'])}", file=sys.stderr)
            if agree_pool and 500 <= seconds <= 700:
                row["agreement"] = worker(tool, "agree", str(a), str(b), str(agree_pool))
                print(f"  agreement {json.dumps(row['agreement'])}", file=sys.stderr)
            results["sizes"][label] = row
    return results


def format_table(results: dict[str, Any]) -> str:
    lines = [
        f"{'pair':<8}{'frames A x B':>16}{'engine':>8}{'feat A+B s':>11}{'align+cmp s':>12}{'total s':>9}"
        f"{'peak MiB':>10}{'err med/p95 ms':>16}{'librosa s':>10}{'librosa MiB':>12}"
    ]
    for label, row in results["sizes"].items():
        m = row["matcher"]
        lib = row["librosa"]
        lib_s = f"{lib['align_s']:.1f}" if "align_s" in lib else "-"
        lib_mb = f"{lib['peak_above_start_mb']:.0f}" if "align_s" in lib else "no fit"
        lines.append(
            f"{label:<8}{m['frames'][0]:>8} x {m['frames'][1]:<6}{m['method']:>8}"
            f"{m['features_a_s'] + m['features_b_s']:>11.1f}"
            f"{m['align_compare_s']:>12.1f}{m['total_s']:>9.1f}{m['peak_above_start_mb']:>10.0f}"
            f"{m['truth']['median_ms']:>8.1f}/{m['truth']['p95_ms']:<7.1f}{lib_s:>10}{lib_mb:>12}"
        )
        if "agreement" in row:
            g = row["agreement"]
            lines.append(
                f"  banded vs dtw-python full matrix ({g['frames'][0]} x {g['frames'][1]} frames of "
                f"{g['frame_s'] * 1000:.0f} ms): {100 * g['within_1_frame']:.2f} % of frames within 1 frame "
                f"(max {g['max_frames']:.0f}); banded {g['banded_s']:.1f} s, dtw-python {g['dtw_python_s']:.1f} s"
            )
    sizes = list(results["sizes"].values())
    if len(sizes) >= 2:
        ratio = sizes[-1]["matcher"]["peak_above_start_mb"] / max(sizes[0]["matcher"]["peak_above_start_mb"], 1e-9)
        lines.append(f"peak memory ratio, longest / shortest pair: {ratio:.2f}")
    return "\n".join(lines)
