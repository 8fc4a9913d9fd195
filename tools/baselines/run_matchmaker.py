"""Run one pymatchmaker 0.3.0 online-time-warping follower audio-to-audio.

Runs INSIDE tools/baselines/.venv-matchmaker (see setup_matchmaker.sh); the project's
venv cannot import pymatchmaker (numpy < 2). eval_baselines.py calls it as a subprocess.

Three modes:

* Alignment: ``--ref REF.flac --take TAKE.flac --method arzt|dixon --out OUT.json``
  (``--takes A B ...``: several takes of one reference in one process, ``{"results": [...]}``).
  Features come from ``matchmaker.features.audio.compute_features_from_audio`` (chroma
  for Arzt, log-spectral for Dixon, as in the anchors), the reference frame index is the
  follower's state and ``ref_t = frame / 30``, and the take is fed one frame per call
  with ``t = frame index / 30``. The JSON holds every (t, ref_t) report and the timing.
* Score: ``--score SCORE.mid --take TAKE.flac --method outerhmm --out OUT.json``: the
  library's own score follower for audio input (``Matchmaker(score, take, "audio",
  "outerhmm")``: the outer-product HMM of Nakamura et al. on CQT frames, the score's tempo,
  repeats unfolded), with its default settings; its symbolic HMMs (``hmm``, ``pthmm``) take
  MIDI performances only. The take's features are computed in one call of the method's
  processor and fed one frame per call with ``t = frame index x hop / rate`` (the library's
  threaded file stream makes the same frames at about half real time). Reports are score
  positions in quarter notes (the follower's beats mapped through the score's note array).
* Step timing: ``--ref-features R.npy --take-features T.npy --method ...`` on arrays of
  shape (n_frames, n_dims), for speed comparisons on identical inputs; prints frames/s
  (median over ``--repeat`` passes) and writes the timing fields if ``--out`` is given.

Only the per-frame follower calls are timed: feature extraction is excluded, because the
question is how fast the alignment step is, and a live follower's feature cost is paid by
its audio front end either way.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any


def _import_librosa_under_lock() -> None:
    """Import librosa's cached numba gufuncs with an exclusive lock on a file in this venv.

    They compile at import and are cached on disk; two processes compiling them at once
    (``eval_corpus.py --jobs 2`` on a fresh machine) can cache a wrapper and a kernel
    that do not match, and every later run then segfaults (numba issue #10128; seen
    here). matcher's own processes do the same in ``matcher/features/librosa_loader.py``,
    which this venv cannot import (numpy < 2).
    """
    try:
        lock = open(Path(sys.prefix) / "numba-compile.lock", "a")  # noqa: SIM115 - held below
    except OSError:
        return
    with lock:  # closing releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("librosa.util.utils", "librosa.core.audio", "librosa.core.pitch"):
            importlib.import_module(name)


_import_librosa_under_lock()

import matchmaker  # noqa: E402 - after the gufuncs above
import numpy as np  # noqa: E402
from matchmaker.dp import OnlineTimeWarpingArztFrame, OnlineTimeWarpingDixonFrame  # noqa: E402
from matchmaker.features.audio import FRAME_RATE, compute_features_from_audio  # noqa: E402

# Feature processor each method was measured with for the anchors.
DEFAULT_FEATURES = {"arzt": "chroma", "dixon": "log_spectral"}
SCORE_METHODS = ("outerhmm",)


def follow_score(method: str, score: str, take: str) -> dict[str, Any]:
    """pymatchmaker's score follower ``method`` on a take's audio: reports ``[t, quarter]``."""
    import librosa
    from matchmaker import Matchmaker

    mm = Matchmaker(score_file=score, performance_file=take, input_type="audio", method=method)
    y, _ = librosa.load(take, sr=mm.sample_rate, mono=True)
    t0 = time.perf_counter()
    features, _ = mm.processor((y.astype(np.float32), 0.0))
    feature_s = time.perf_counter() - t0
    follower = mm.score_follower
    hop_s = mm.hop_length / mm.sample_rate
    n = len(features)
    t = np.arange(n, dtype=np.float64) * hop_s
    beat = np.empty(n, dtype=np.float64)
    start = time.perf_counter()
    for i in range(n):
        beat[i] = follower(features[i][None, :], t[i])
    step_s = time.perf_counter() - start
    na = mm.score_part.note_array()
    beats, first = np.unique(na["onset_beat"], return_index=True)
    quarter = np.interp(beat, beats, na["onset_quarter"][first].astype(np.float64))
    return {"mode": "score", "score": score, "take": take, "tempo": float(mm.tempo), "frame_rate": 1.0 / hop_s,
            "features": type(mm.processor).__name__,
            "feature_seconds": feature_s, "first_onset_quarter": float(np.min(na["onset_quarter"])),
            "reports": np.column_stack([t, quarter]).tolist(), **_timing(n, step_s)}  # fmt: skip


def make_follower(method: str, ref_features: np.ndarray, frame_rate: int = FRAME_RATE) -> Any:
    """Build a follower whose 'beat' is reference time in seconds.

    Passing ``arange(n) / frame_rate`` as both score positions and the frame-to-beat map
    turns the score follower into an audio-to-audio one: the position it reports is the
    start time of the matched reference frame. All other parameters stay at the
    library's defaults, since the point is the library's behaviour out of the box.
    """
    ref = np.ascontiguousarray(ref_features, dtype=np.float32)
    f = np.arange(len(ref), dtype=np.float64) / frame_rate
    if method == "arzt":
        return OnlineTimeWarpingArztFrame(
            reference_features=ref, score_positions=f, ref_frame_to_beat=f, frame_rate=frame_rate
        )
    if method == "dixon":
        return OnlineTimeWarpingDixonFrame(
            reference_features=ref, score_positions=f, ref_frame_to_beat=f, frame_rate=frame_rate
        )
    raise ValueError(f"unknown method {method!r}")


def follow(
    method: str, ref_features: np.ndarray, take_features: np.ndarray, frame_rate: int = FRAME_RATE
) -> tuple[np.ndarray, np.ndarray, float]:
    """Feed every take frame to a fresh follower.

    Returns (t, ref_t, step_seconds): one report per take frame at t = index / frame_rate,
    and the wall time spent in the follower calls alone.
    """
    follower = make_follower(method, ref_features, frame_rate)
    take = np.ascontiguousarray(take_features, dtype=np.float32)
    n = len(take)
    t = np.arange(n, dtype=np.float64) / frame_rate
    ref_t = np.empty(n, dtype=np.float64)
    call = follower.__call__
    start = time.perf_counter()
    for i in range(n):
        ref_t[i] = call(take[i][None, :], t[i])
    step_seconds = time.perf_counter() - start
    return t, ref_t, step_seconds


def align(method: str, ref_f: np.ndarray, ref: str, take: str, processor: str, frame_rate: int) -> dict[str, Any]:
    """The alignment mode's result for one take against reference features ``ref_f``."""
    t0 = time.perf_counter()
    take_f = compute_features_from_audio(take, processor_name=processor)
    feature_s = time.perf_counter() - t0
    t, ref_t, step_s = follow(method, ref_f, take_f, frame_rate)
    return {"mode": "align", "ref": ref, "take": take, "features": processor, "feature_seconds": feature_s,
            "reports": np.column_stack([t, ref_t]).tolist(), **_timing(len(take_f), step_s)}  # fmt: skip


def _timing(n_frames: int, step_seconds: float) -> dict[str, float]:
    return {
        "n_frames": int(n_frames),
        "step_seconds": step_seconds,
        "frames_per_s": n_frames / step_seconds if step_seconds > 0 else float("inf"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=sorted(DEFAULT_FEATURES) + list(SCORE_METHODS), required=True)
    ap.add_argument("--score", help="score file (score mode)")
    ap.add_argument("--ref", help="reference audio file")
    ap.add_argument("--take", help="take audio file")
    ap.add_argument("--takes", nargs="+", help="several takes of one reference or score: JSON {'results': [...]}")
    ap.add_argument("--features", help="matchmaker processor name (default: chroma for arzt, log_spectral for dixon)")
    ap.add_argument("--ref-features", help=".npy (n_frames, n_dims) reference features: timing mode")
    ap.add_argument("--take-features", help=".npy (n_frames, n_dims) take features: timing mode")
    ap.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timing mode: runs over the take, frames/s is their median (default: %(default)s)",
    )
    ap.add_argument("--frame-rate", type=int, default=FRAME_RATE)
    ap.add_argument("--out", help="JSON output path")
    args = ap.parse_args(argv)

    result: dict[str, Any] = {
        "method": args.method,
        "pymatchmaker": matchmaker.__version__,
        "numpy": np.__version__,
        "frame_rate": args.frame_rate,
    }

    takes = args.takes or [args.take]
    if args.score:
        if not ((args.take or args.takes) and args.out) or args.method not in SCORE_METHODS:
            ap.error(f"score mode needs --take (or --takes), --out and --method {'|'.join(SCORE_METHODS)}")
        runs = [follow_score(args.method, args.score, take) for take in takes]
        if args.takes:
            result["results"] = runs
        else:
            result.update(runs[0])
    elif args.method in SCORE_METHODS:
        ap.error(f"--method {args.method} follows a score: give --score")
    elif args.ref_features or args.take_features:
        if not (args.ref_features and args.take_features):
            ap.error("timing mode needs both --ref-features and --take-features")
        ref_f = np.load(args.ref_features)
        take_f = np.load(args.take_features)
        if ref_f.ndim != 2 or take_f.ndim != 2 or ref_f.shape[1] != take_f.shape[1]:
            ap.error(
                f"feature arrays must be (n_frames, n_dims) with equal n_dims, got {ref_f.shape} and {take_f.shape}"
            )
        # One pass over a minute of audio takes well under a second for Arzt, so a single
        # pass is at the mercy of whatever else the machine is doing: take the median.
        runs = [follow(args.method, ref_f, take_f, args.frame_rate)[2] for _ in range(max(1, args.repeat))]
        step_s = float(np.median(runs))
        result.update(mode="timing", ref_shape=list(ref_f.shape), take_shape=list(take_f.shape))
        result.update(_timing(len(take_f), step_s))
        result["frames_per_s_runs"] = [len(take_f) / r for r in runs]
        print(
            f"{args.method}: {result['frames_per_s']:.0f} frames/s (median of {len(runs)}; "
            f"{result['n_frames']} frames in {step_s:.3f} s; "
            f"range {min(result['frames_per_s_runs']):.0f}-{max(result['frames_per_s_runs']):.0f})"
        )
    else:
        if not (args.ref and (args.take or args.takes) and args.out):
            ap.error("alignment mode needs --ref, --take (or --takes) and --out")
        processor = args.features or DEFAULT_FEATURES[args.method]
        # Both inputs go through the same offline feature path, so take frames are the
        # frames the live follower would see at 30 frames/s.
        ref_f = compute_features_from_audio(args.ref, processor_name=processor)
        runs = [align(args.method, ref_f, args.ref, take, processor, args.frame_rate) for take in takes]
        if args.takes:
            result["results"] = runs
        else:
            result.update(runs[0])

    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
