"""Baseline methods to compare matcher with: librosa chroma DTW here, pymatchmaker and
synctoolbox in their own virtual environments (tools/baselines/setup_*.sh), called as
subprocesses through tools/baselines/run_matchmaker.py and run_synctoolbox.py.

Each returns its answers as ``(take_t, ref_t)`` [s] with ``take_t`` non-decreasing, ready
for :func:`matcher.evaluation.metrics.beat_errors`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .data import Pair

#: tools/baselines: the scripts that run in the baselines' own environments.
BASELINES_DIR = Path(__file__).resolve().parents[2] / "tools" / "baselines"
MATCHMAKER_PYTHON = BASELINES_DIR / ".venv-matchmaker" / "bin" / "python"
SYNCTOOLBOX_PYTHON = BASELINES_DIR / ".venv-synctoolbox" / "bin" / "python"

CHROMA_SR = 22050  # [Hz]
CHROMA_HOP = 441  # [samples]: 20 ms
# chroma_cqt returns all-zero columns in silence; cosine distance is undefined there,
# so a tiny floor makes silent frames equal to each other instead of NaN.
CHROMA_EPS = 1e-6


def chroma(path: str | Path) -> np.ndarray:
    """Chroma [shape=(12, n_frames)] at a 20 ms hop (librosa ``chroma_cqt``), floored by CHROMA_EPS."""
    import librosa

    y, _ = librosa.load(str(path), sr=CHROMA_SR, mono=True)
    return librosa.feature.chroma_cqt(y=y, sr=CHROMA_SR, hop_length=CHROMA_HOP) + CHROMA_EPS


def chroma_dtw(ref_path: str | Path, take_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Offline full-matrix cosine DTW of chroma (librosa default steps): ``(take_t, ref_t)`` [s].

    An offline aligner sees both whole recordings and so never drifts, but it is
    quadratic in time and memory; on repeating percussion cycles it has no notion of the
    right cycle beyond the global path cost.
    """
    import librosa

    _, wp = librosa.sequence.dtw(X=chroma(ref_path), Y=chroma(take_path), metric="cosine")
    wp = wp[::-1]  # librosa returns the path from the end backwards
    frame_s = CHROMA_HOP / CHROMA_SR
    return wp[:, 1] * frame_s, wp[:, 0] * frame_s


def _run_json(cmd: list[str], out: Path) -> dict[str, Any]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)  # stderr goes into the error
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def matchmaker_files(
    ref_audio: Path, take_audio: Path, method: str = "arzt", python: Path = MATCHMAKER_PYTHON
) -> dict[str, Any]:
    """One pymatchmaker follower (``arzt`` or ``dixon``) on two audio files, in its venv.

    Returns
    -------
    dict
        run_matchmaker.py's JSON: ``reports`` [[t, ref_t], ...] [s], ``n_frames``,
        ``step_seconds``, ``frames_per_s``, ``features``.

    Raises
    ------
    RuntimeError
        When run_matchmaker.py fails (the message ends with its stderr).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(python), str(BASELINES_DIR / "run_matchmaker.py"), "--method", method]
        cmd += ["--ref", str(ref_audio), "--take", str(take_audio), "--out", str(out)]
        return _run_json(cmd, out)


def matchmaker_takes(
    method: str, takes: list[Path], *, ref_audio: Path | None = None, score: Path | None = None,
    python: Path = MATCHMAKER_PYTHON,
) -> list[dict[str, Any]]:  # fmt: skip
    """One pymatchmaker follower on several takes of one reference in one process (its
    start-up, about 3 s, paid once): ``arzt``/``dixon`` against ``ref_audio``, or a score
    follower for audio input (``outerhmm``: its audio score HMM) against ``score``.

    Returns
    -------
    list[dict]
        Per take, run_matchmaker.py's JSON: ``reports`` [[t, ref_t], ...] [s], or for a score
        [[t [s], quarter], ...] (the score position in quarter notes of the score file) with
        ``first_onset_quarter`` and ``tempo``; ``n_frames``, ``step_seconds``, ``features``.

    Raises
    ------
    RuntimeError
        When run_matchmaker.py fails (the message ends with its stderr).
    """
    if (ref_audio is None) == (score is None):
        raise ValueError("give one of ref_audio and score")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(python), str(BASELINES_DIR / "run_matchmaker.py"), "--method", method, "--out", str(out)]
        cmd += ["--ref", str(ref_audio)] if score is None else ["--score", str(score)]
        cmd += ["--takes", *map(str, takes)]
        return _run_json(cmd, out)["results"]


def matchmaker(pair: Pair, method: str, python: Path = MATCHMAKER_PYTHON) -> dict[str, Any]:
    """:func:`matchmaker_files` on one shared pair."""
    return matchmaker_files(pair.ref_audio, pair.take_audio, method, python)


def synctoolbox(pair: Pair, python: Path = SYNCTOOLBOX_PYTHON) -> tuple[np.ndarray, np.ndarray]:
    """synctoolbox MrMsDTW (chroma + DLNCO) on one pair, in its venv: ``(take_t, ref_t)`` [s]."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(python), str(BASELINES_DIR / "run_synctoolbox.py"), "--ref", str(pair.ref_audio)]
        cmd += ["--take", str(pair.take_audio), "--out", str(out)]
        path = np.asarray(_run_json(cmd, out)["path"], np.float64)
    return path[:, 1], path[:, 0]
