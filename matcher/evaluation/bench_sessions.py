"""Many live sessions on one core (tools/bench_sessions.py; its docstring says what is
measured): the sessions' audio, the two ways of serving them (each session its own
FeatureStream + Follower in turn, or one SessionGroup), and the run over numbers of
sessions. Pin the process to one core and one thread before numpy loads (the tool does).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from matcher import Config, build_reference
from matcher.audio import read_audio
from matcher.features import FeatureStream, NoPitch, YinModel
from matcher.features.spectral import SpectralStream
from matcher.follow import Follower, FollowParams, PreparedReference, SessionGroup
from matcher.follow.costs import CostWeights

from .data import DATA_ROOT

CHOPIN = DATA_ROOT / "vienna_chopin_op10_3"


def performances(config: Config, seconds: float) -> tuple[np.ndarray, list[np.ndarray], str]:
    """(reference audio, takes, description) at the model rate."""
    files = sorted(CHOPIN.glob("*_fluidsynth.flac"))
    if len(files) >= 2:
        audio = [read_audio(f, config.sr) for f in files]
        return audio[0], audio[1:], f"Chopin op. 10/3 (../shared/data): reference p01, {len(files) - 1} takes"
    from matcher.synth import TempoMap, melody, render

    notes = melody(48, 4, seed=4)
    n_beats = max(n.beat + n.length for n in notes)
    ref = render(notes, TempoMap((0.0, n_beats), (100.0, 100.0)), config.sr)
    takes = [
        render(notes, TempoMap((0.0, n_beats), (bpm, bpm * 1.1)), config.sr, timbre=1, noise_db=30.0, seed=k)
        for k, bpm in enumerate((90.0, 100.0, 110.0))
    ]
    return ref, takes, "generated melodies (../shared/data absent)"


def session_blocks(takes: list[np.ndarray], n: int, n_hops: int, hop: int) -> list[np.ndarray]:
    """Each session's audio: a take from its own offset, ``n_hops`` hops long (looped)."""
    out = []
    for k in range(n):
        take = takes[k % len(takes)]
        start = (k * 997 * hop) % len(take)
        idx = (start + np.arange(n_hops * hop)) % len(take)
        out.append(take[idx].astype(np.float32))
    return out


def state_bytes(stream: SpectralStream, follower: Follower) -> int:
    """Bytes of the arrays a session owns (the shared reference arrays not counted)."""
    shared = {id(a) for a in vars(follower.prepared).values() if isinstance(a, np.ndarray)}
    own = [a for a in vars(follower).values() if isinstance(a, np.ndarray) and id(a) not in shared]
    return sum(a.nbytes for a in own) + stream.buffer.nbytes


def serve_one_by_one(reference, prepared, audio: list[np.ndarray], hop: int) -> tuple[np.ndarray, int]:
    """Each session its own FeatureStream + Follower, served in turn: latency [s] per (hop, session)."""
    config = reference.config
    sessions = []
    for _ in audio:
        stream = FeatureStream(config, NoPitch(config))
        sessions.append((stream, Follower(reference, lookahead_samples=stream.lookahead_samples, prepared=prepared)))
    latency = np.empty((len(audio[0]) // hop, len(sessions)))
    for h in range(len(latency)):
        start = time.perf_counter()
        for k, (stream, follower) in enumerate(sessions):
            frames = stream.push(audio[k][h * hop : (h + 1) * hop])
            if len(frames):
                follower.steps(frames)
            latency[h, k] = time.perf_counter() - start
    return latency, state_bytes(sessions[0][0].spectral, sessions[0][1])


def serve_as_group(reference, prepared, audio: list[np.ndarray], hop: int) -> tuple[np.ndarray, int]:
    """One SessionGroup: every session's position is ready when the group's push returns."""
    group = SessionGroup(reference)
    ids = [group.add() for _ in audio]
    latency = np.empty((len(audio[0]) // hop, len(ids)))
    for h in range(len(latency)):
        start = time.perf_counter()
        group.push({i: audio[k][h * hop : (h + 1) * hop] for k, i in enumerate(ids)})
        latency[h] = time.perf_counter() - start
    stream, follower = group._sessions[ids[0]]
    return latency, state_bytes(stream, follower)


MODES = {"one by one": serve_one_by_one, "group": serve_as_group}


def run_mode(mode: str, reference, prepared, audio: list[np.ndarray], hop: int) -> dict:
    """One mode of serving over the sessions' ``audio`` (garbage collection off, as a live
    server): latency median, p99 and max [ms] over hops and sessions, the round's median,
    the share of late rounds and a session's own state [kB]."""
    gc.collect()
    gc.disable()  # a live server freezes its heap after warm-up (see matcher.live)
    try:
        latency, state = MODES[mode](reference, prepared, audio, hop)
    finally:
        gc.enable()
    ms = latency * 1000.0
    round_ms = ms[:, -1]
    return {
        "mode": mode,
        "sessions": len(audio),
        "hops": len(ms),
        "median_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "round_median_ms": float(np.median(round_ms)),
        "late_share": float(np.mean(round_ms > 1000.0 * hop / reference.config.sr)),
        "state_kb": state / 1024,
    }


def run(sessions: list[int], seconds: float) -> dict[str, Any]:
    """Pin this process to one core, build the reference, warm up, then every N of
    ``sessions`` in both modes side by side, printing a row each; ``{"description",
    "hop_ms", "rows"}``."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    config = Config(pitch_backend="yin")
    ref_audio, takes, what = performances(config, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        sf.write(Path(tmp) / "reference.wav", ref_audio, config.sr, subtype="FLOAT")
        reference = build_reference(Path(tmp) / "reference.wav", config, YinModel(config), name="reference")
    params = FollowParams()
    prepared = PreparedReference.build(reference, CostWeights(), params)
    hop = config.hop
    n_hops = int(seconds * config.sr) // hop
    for mode in MODES:  # warm-up: kernels compiled, tables built
        run_mode(mode, reference, prepared, session_blocks(takes, 2, 64, hop), hop)
    hop_ms = 1000.0 * hop / config.sr
    print(f"{what}; reference {reference.duration:.0f} s; {seconds:.0f} s of audio per session; one core")
    print(f"hop {hop_ms:.0f} ms; latency = hop start -> the session's position ready")
    print(f"{'mode':>10} {'sessions':>8} {'median':>8} {'p99':>8} {'max':>8} {'round':>8} {'late':>6} {'state':>9}")
    rows = []
    for n in sessions:
        audio = session_blocks(takes, n, n_hops, hop)
        for mode in MODES:  # side by side, each N
            row = run_mode(mode, reference, prepared, audio, hop)
            rows.append(row)
            print(
                f"{mode:>10} {n:>8} {row['median_ms']:>7.2f}  {row['p99_ms']:>7.2f}  {row['max_ms']:>7.2f}  "
                f"{row['round_median_ms']:>7.2f}  {100 * row['late_share']:>4.1f}%  {row['state_kb']:>6.0f} kB"
            )
    print(f"(times in ms; 'round': median time to serve every session once; 'late': rounds over {hop_ms:.0f} ms)")
    return {"description": what, "hop_ms": hop_ms, "rows": rows}
