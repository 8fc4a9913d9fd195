"""Speed and memory of the online follower, with pymatchmaker's Arzt follower as a
yardstick (tools/bench_follow.py): (a) step throughput on identical inputs, (b) per-hop
latency of live following, (c) peak memory above start-up following a long reference,
(d) the far-move search's worst case on a 3-hour reference. See the tool's docstring for
what each figure means.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import BASELINES_DIR as BASELINES
from .baselines import MATCHMAKER_PYTHON as MM_PYTHON
from .bench_follow_live import HOP_BUDGET_MS, bench_latency, bench_memory
from .data import DATA_ROOT

CHOPIN = DATA_ROOT / "vienna_chopin_op10_3"

BAND_S = 10.0  # search band either side [s], pymatchmaker's default window_size too
MM_FRAME_RATE = 30  # pymatchmaker's frame rate [frames/s]

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


def have_matchmaker() -> bool:
    """Whether pymatchmaker's venv is there; if not, says so on stderr (the step
    throughput (a) is then not measured)."""
    if MM_PYTHON.exists():
        return True
    print(
        f"pymatchmaker venv missing ({MM_PYTHON}; tools/baselines/setup_matchmaker.sh makes it): "
        "(a) step throughput not measured",
        file=sys.stderr,
    )
    return False


def matchmaker_chroma(ref: Path, take: Path, folder: Path) -> tuple[Path, Path]:
    r, t = folder / "ref_chroma.npy", folder / "take_chroma.npy"
    subprocess.run([str(MM_PYTHON), "-c", MM_FEATURES, str(ref), str(r), str(take), str(t)], check=True)
    return r, t


# -- our follower on given feature arrays ------------------------------------------------------


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


def given_vectors(frames) -> np.ndarray:
    """The cost vectors of frames compared as they are: the flux columns followed by the
    chroma columns, unchanged (no flux scaling, no chroma normalisation)."""
    return np.ascontiguousarray(np.hstack([frames.flux, frames.chroma]), np.float32)


def feature_follower(ref_features: np.ndarray, frame_rate: int, band_s: float, pad: int = 0):
    """A Follower over ``ref_features`` at ``frame_rate`` [frames/s], band ``round(band_s *
    frame_rate)`` frames either side (as pymatchmaker's window), whose reference arrays are
    :func:`given_vectors` (a :class:`~matcher.follow.prepared.PreparedReference` built as
    usual, its vectors and coarse features replaced). Step it with :func:`given_steps`."""
    from matcher import Config
    from matcher.beats import Beats
    from matcher.follow import Follower, FollowParams
    from matcher.follow.costs import CostWeights
    from matcher.follow.prepared import PreparedReference, coarse_features
    from matcher.reference import Reference

    hop = 512
    sr = frame_rate * hop  # only the frame rate matters here
    config = Config(sr=sr, hop=hop, n_fft=1024, n_bands=max(pad, 1), fmax=0.45 * sr, pitch_backend="yin")
    beats = Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none")
    frames = feature_frames(ref_features, pad)
    reference = Reference("features", frames, beats, config, {})
    params, weights = FollowParams(band_s=band_s), CostWeights()
    built = PreparedReference.build(reference, weights, params)
    vectors = given_vectors(frames)
    coarse = coarse_features(vectors, built.n_flux)
    for a in (vectors, coarse):
        a.setflags(write=False)
    prepared = replace(built, ref_vectors=vectors, ref_coarse=coarse)
    return Follower(reference, params, weights, lookahead_samples=0, prepared=prepared)


def given_steps(follower, frames):
    """``Follower.steps`` on frames compared as they are: ``steps_vectors`` on
    :func:`given_vectors`, with the frames' levels and noise-like flags as ``steps`` reads
    them (the kernel fades the chroma columns by the levels brought to the reference's)."""
    from matcher.follow.activity import noise_like

    return follower.steps_vectors(given_vectors(frames), np.asarray(frames.db, np.float64), noise_like(frames.chroma))


def given_step(follower, frame):
    """``Follower.step`` (one frame, its Position) on a frame compared as it is."""
    return given_steps(follower, frame)[0]


def kernel_steps(follower, take: np.ndarray) -> np.ndarray:
    """The kernel alone (``follow_chunk`` via ``Follower.run_kernel``, as ``steps`` calls it)
    on the take's cost vectors [float32, shape=(m, d), C-contiguous], every frame at 0 dBFS
    and not noise-like (audible);
    positions [reference frames]."""
    return follower.run_kernel(take, np.zeros(len(take)), np.zeros(len(take), bool))[1]


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
        given_steps(feature_follower(ref_f, MM_FRAME_RATE, BAND_S, pad), feature_frames(take_f[:10], pad))
    except Exception as exc:  # any refusal: retry padded, and say so in the report
        pad, padded_because = 12, f"{type(exc).__name__}: {exc}"
    else:
        padded_because = ""
    take_frames = feature_frames(take_f, pad)
    one_frames = [take_frames[i : i + 1] for i in range(n)]  # sliced before timing
    take_vectors = given_vectors(take_frames)

    def make():
        return feature_follower(ref_f, MM_FRAME_RATE, BAND_S, pad)

    def steps_many(f) -> None:
        given_steps(f, take_frames)

    def steps_one(f) -> None:
        for frame in one_frames:
            given_steps(f, frame)

    def step_one(f) -> None:
        for frame in one_frames:
            given_step(f, frame)

    def kernel_many(f) -> None:
        kernel_steps(f, take_vectors)

    def kernel_one(f) -> None:
        for i in range(n):
            kernel_steps(f, take_vectors[i : i + 1])

    # Warm up (numba cache load); check the band and where our follower ends.
    f = make()
    end = float(given_steps(f, take_frames).ref_t[-1] / f.frame_s)
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


# -- report ---------------------------------------------------------------------------------------


def print_steps(s: dict) -> None:
    """Print the figures of (a), step throughput."""
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


def print_report(pair: str, steps: dict | None, latency: dict, memory: list[dict]) -> None:
    """Print the three parts' figures (``steps`` None: (a) not measured)."""
    print(f"\ndata: {pair}")
    if steps is None:
        print("\n(a) step throughput not measured: pymatchmaker venv missing")
    else:
        print_steps(steps)

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


def twin_worst_case(hours: float = 3.0, repeats: int = 5) -> dict[str, float]:
    """The look-alike search of a far move (``kernels.nearest_twin``) at its worst: a lost
    follower on an ``hours``-long reference where every place has the leader's evidence
    and none is a look-alike of it. Median ms of ``repeats`` calls, beside the real time
    of the coarse take frame it runs in."""
    from ..config import Config
    from ..follow import kernels as K

    rate = 1.0 / Config().frame_seconds
    n_c = int(hours * 3600 * rate / K.COARSE)
    coarse = np.random.default_rng(0).normal(size=(n_c, K.SEARCH_WIDTH)).astype(np.float32)
    params = np.zeros(K.N_PARAMS)
    params[K.P_TWIN_SPAN], params[K.P_TWIN_RATIO], params[K.P_SELF_UNIT] = round(4 * rate / K.COARSE), 0.5, 1.0
    params[K.P_RELOCK_FAR], params[K.P_TWIN_SHARE] = round(rate / K.COARSE), 0.5
    col = np.full(n_c, -10.0)
    call = lambda: K.nearest_twin(coarse, col, n_c - 1, -10.0, n_c // 2, params)  # noqa: E731
    call()  # compiled
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return {"hours": hours, "ms": float(np.median(times)) * 1000.0, "column_ms": K.COARSE * 1000.0 / rate}


def run(tool: Path, quick: bool, spice: bool) -> dict[str, Any]:
    """All four parts; ``{"pair", "steps" (None without pymatchmaker), "latency", "memory", "twin"}``.
    ``tool`` is the script that runs :func:`memory_child` given ``--memory-child``."""
    rounds, passes, mm_repeat = (1, 5, 2) if quick else (3, 15, 5)
    take_seconds = 20.0 if quick else 60.0
    mem_minutes = [3.0, 60.0] if quick else [3.0, 180.0]
    mem_take = 30.0 if quick else 180.0
    steps = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ref, take, pair = audio_pair(folder)
        if have_matchmaker():
            ref_npy, take_npy = matchmaker_chroma(ref, take, folder)
            print("(a) step throughput ...", file=sys.stderr)
            steps = bench_steps(ref_npy, take_npy, rounds, passes, mm_repeat)
        print("(b) per-hop latency ...", file=sys.stderr)
        latency = bench_latency(ref, take, take_seconds, spice=spice)
        print("(c) memory ...", file=sys.stderr)
        memory = bench_memory(tool, ref, take, mem_minutes, mem_take)
    print("(d) far-move search ...", file=sys.stderr)
    return {"pair": pair, "steps": steps, "latency": latency, "memory": memory, "twin": twin_worst_case()}


def print_twin(twin: dict[str, float]) -> None:
    print(f"\n(d) far-move look-alike search, worst case ({twin['hours']:.0f}-hour reference, every place with the "
          f"leader's evidence): {twin['ms']:.2f} ms per call = {twin['ms'] / twin['column_ms']:.3f}x the real time of "
          f"the coarse take frame it runs in ({twin['column_ms']:.0f} ms)")  # fmt: skip
