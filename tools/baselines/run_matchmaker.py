"""Run one pymatchmaker 0.3.0 online-time-warping follower audio-to-audio.

Runs INSIDE tools/baselines/.venv-matchmaker (see setup_matchmaker.sh); the project's
venv cannot import pymatchmaker (numpy < 2). eval_baselines.py calls it as a subprocess.

Two modes:

* Alignment: ``--ref REF.flac --take TAKE.flac --method arzt|dixon --out OUT.json``.
  Features come from ``matchmaker.features.audio.compute_features_from_audio`` (chroma
  for Arzt, log-spectral for Dixon, as in the anchors), the reference frame index is the
  follower's state and ``ref_t = frame / 30``, and the take is fed one frame per call
  with ``t = frame index / 30``. The JSON holds every (t, ref_t) report and the timing.
* Step timing: ``--ref-features R.npy --take-features T.npy --method ...`` on arrays of
  shape (n_frames, n_dims), for speed comparisons on identical inputs; prints frames/s
  (median over ``--repeat`` passes) and writes the timing fields if ``--out`` is given.

Only the per-frame follower calls are timed: feature extraction is excluded, because the
question is how fast the alignment step is, and a live follower's feature cost is paid by
its audio front end either way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import matchmaker
import numpy as np
from matchmaker.dp import OnlineTimeWarpingArztFrame, OnlineTimeWarpingDixonFrame
from matchmaker.features.audio import FRAME_RATE, compute_features_from_audio

# Feature processor each method was measured with for the anchors.
DEFAULT_FEATURES = {"arzt": "chroma", "dixon": "log_spectral"}


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


def _timing(n_frames: int, step_seconds: float) -> dict[str, float]:
    return {
        "n_frames": int(n_frames),
        "step_seconds": step_seconds,
        "frames_per_s": n_frames / step_seconds if step_seconds > 0 else float("inf"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=sorted(DEFAULT_FEATURES), required=True)
    ap.add_argument("--ref", help="reference audio file")
    ap.add_argument("--take", help="take audio file")
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

    if args.ref_features or args.take_features:
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
        if not (args.ref and args.take and args.out):
            ap.error("alignment mode needs --ref, --take and --out")
        processor = args.features or DEFAULT_FEATURES[args.method]
        # Both inputs go through the same offline feature path, so take frames are the
        # frames the live follower would see at 30 frames/s.
        t0 = time.perf_counter()
        ref_f = compute_features_from_audio(args.ref, processor_name=processor)
        take_f = compute_features_from_audio(args.take, processor_name=processor)
        feature_s = time.perf_counter() - t0
        t, ref_t, step_s = follow(args.method, ref_f, take_f, args.frame_rate)
        result.update(
            mode="align",
            ref=args.ref,
            take=args.take,
            features=processor,
            feature_seconds=feature_s,
            reports=np.column_stack([t, ref_t]).tolist(),
        )
        result.update(_timing(len(take_f), step_s))

    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
