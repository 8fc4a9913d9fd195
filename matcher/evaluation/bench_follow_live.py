"""Live following's cost for tools/bench_follow.py: (b) per-hop latency of a take fed in
hop-sized blocks (with and without SPICE), (c) peak memory above start-up following a long
(tiled) reference, in a fresh process."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .measure import RssAbove, TimedModel, run_worker

SPICE_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "models" / "spice_1"
HOP_BUDGET_MS = 1000.0 * 256 / 16000  # one hop of audio at the model rate


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


def bench_memory(
    tool: Path, ref_path: Path, take_path: Path, ref_minutes: list[float], take_seconds: float
) -> list[dict]:
    """:func:`memory_child` for each reference length, each in a fresh process running
    ``tool --memory-child MINUTES ...`` (the tool calls :func:`memory_child`)."""
    out = []
    for minutes in ref_minutes:
        cmd = [sys.executable, str(tool), "--memory-child", str(minutes), "--take-seconds", str(take_seconds)]
        cmd += ["--ref-audio", str(ref_path), "--take-audio", str(take_path)]
        out.append(run_worker(cmd))
    return out
