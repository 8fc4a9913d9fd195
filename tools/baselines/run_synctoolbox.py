"""Align one reference -> take pair with synctoolbox's MrMsDTW (runs in its own venv).

Müller, Özer, Krause, Prätzlich & Driedger (2021), "Sync Toolbox: A Python Package for
Efficient, Robust, and Accurate Music Synchronization", JOSS 6(64). The pipeline is the
package's own audio-audio demo (``sync_audio_audio_full.ipynb``): tuning estimation,
quantised chroma plus DLNCO onset features at 50 Hz, CENS-based chroma shift, then
multi-resolution multi-scale DTW with step weights (1.5, 1.5, 2.0) and a strictly
monotonic path.

This file is executed by ``.venv-synctoolbox/bin/python`` (made by setup_synctoolbox.sh),
never imported by the project: synctoolbox needs librosa < 1.0 and numba < 0.66.

    tools/baselines/.venv-synctoolbox/bin/python tools/baselines/run_synctoolbox.py \\
        --ref REF.flac --take TAKE.flac --out OUT.json

OUT.json: ``{"path": [[ref_s, take_s], ...], "seconds": wall time of features + DTW,
"feature_rate": 50}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import librosa
import numpy as np

SAMPLE_RATE = 22050
FEATURE_RATE = 50  # frames per second (20 ms), the toolbox's default
STEP_WEIGHTS = np.array([1.5, 1.5, 2.0])
THRESHOLD_REC = 10**6


def features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantised chroma and DLNCO features (12, n) at FEATURE_RATE."""
    from synctoolbox.feature.chroma import pitch_to_chroma, quantize_chroma
    from synctoolbox.feature.dlnco import pitch_onset_features_to_DLNCO
    from synctoolbox.feature.pitch import audio_to_pitch_features
    from synctoolbox.feature.pitch_onset import audio_to_pitch_onset_features
    from synctoolbox.feature.utils import estimate_tuning

    tuning = estimate_tuning(audio, SAMPLE_RATE)
    pitch = audio_to_pitch_features(f_audio=audio, Fs=SAMPLE_RATE, tuning_offset=tuning, feature_rate=FEATURE_RATE)
    chroma = quantize_chroma(f_chroma=pitch_to_chroma(f_pitch=pitch))
    onsets = audio_to_pitch_onset_features(f_audio=audio, Fs=SAMPLE_RATE, tuning_offset=tuning)
    dlnco = pitch_onset_features_to_DLNCO(
        f_peaks=onsets, feature_rate=FEATURE_RATE, feature_sequence_length=chroma.shape[1], visualize=False
    )
    return chroma, dlnco


def align(ref_path: str, take_path: str) -> np.ndarray:
    """Warping path [shape=(n, 2), seconds]: columns reference time, take time."""
    from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw
    from synctoolbox.dtw.utils import compute_optimal_chroma_shift, make_path_strictly_monotonic, shift_chroma_vectors
    from synctoolbox.feature.chroma import quantized_chroma_to_CENS

    ref, _ = librosa.load(ref_path, sr=SAMPLE_RATE, mono=True)
    take, _ = librosa.load(take_path, sr=SAMPLE_RATE, mono=True)
    chroma_1, dlnco_1 = features(ref)
    chroma_2, dlnco_2 = features(take)
    cens_1 = quantized_chroma_to_CENS(chroma_1, 201, 50, FEATURE_RATE)[0]
    cens_2 = quantized_chroma_to_CENS(chroma_2, 201, 50, FEATURE_RATE)[0]
    shift = compute_optimal_chroma_shift(cens_1, cens_2)
    chroma_2 = shift_chroma_vectors(chroma_2, shift)
    dlnco_2 = shift_chroma_vectors(dlnco_2, shift)
    wp = sync_via_mrmsdtw(
        f_chroma1=chroma_1,
        f_onset1=dlnco_1,
        f_chroma2=chroma_2,
        f_onset2=dlnco_2,
        input_feature_rate=FEATURE_RATE,
        step_weights=STEP_WEIGHTS,
        threshold_rec=THRESHOLD_REC,
        verbose=False,
    )
    wp = make_path_strictly_monotonic(wp)
    return (np.asarray(wp, np.float64) / FEATURE_RATE).T


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="synctoolbox MrMsDTW on one pair")
    ap.add_argument("--ref", required=True)
    ap.add_argument("--take", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    path = align(args.ref, args.take)
    seconds = time.perf_counter() - t0
    Path(args.out).write_text(json.dumps({"path": path.tolist(), "seconds": seconds, "feature_rate": FEATURE_RATE}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
