"""Score following in the Matchmaker benchmark's form (tools/eval_score_following.py): the
score rendered as the reference, a rendered human performance of the same ASAP piece as the take.

Errors are measured on the take's time axis: at each annotated take beat, the score beat
the method reports there (its ``ref_t`` interpolated at the beat, turned into a fractional
beat number by the score's beat times) minus the true beat, times the take's local beat
period [ms]. A piece is **tracked** when no 30-s window of take time (every 10 s) has a
median absolute error above the take's median beat period in it.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import file_blocks
from ..compare import compare
from ..config import Config
from ..follow import follow_blocks
from ..notation import build_score_reference, read_score
from ..notation.render import LEAD_S
from ..reference import build_reference
from .baselines import matchmaker_files
from .corpus import DATA_ROOT as ASAP

TAKE_SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
WITHIN_MS = (50, 100, 300)
METHODS = ("online", "offline", "mm_arzt")


def _labels(path: Path) -> list[str]:
    """The beat labels (``b``, ``db``, ``bR``) of an ASAP annotations file, in order."""
    return [line.split("\t")[2].split(",")[0] for line in path.read_text().splitlines() if line.strip()]


def _times(path: Path) -> np.ndarray:
    """The beat times [s] of an ASAP annotations file, in order."""
    return np.array([float(line.split("\t")[0]) for line in path.read_text().splitlines() if line.strip()])


def choose_pieces(asap: Path, split: str, n: int) -> list[dict[str, str]]:
    """The ``n`` shortest folders of ``split``, each with its shortest performance whose
    beat labels equal the score's."""
    with open(asap / "metadata.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    best: dict[str, tuple[float, dict[str, str]]] = {}
    for row in rows:
        if row["split"] != split:
            continue
        perf, score = asap / row["performance_annotations"], asap / row["midi_score_annotations"]
        if _labels(perf) != _labels(score):
            continue
        length = float(_times(perf)[-1])
        if row["folder"] not in best or length < best[row["folder"]][0]:
            best[row["folder"]] = (length, row)
    return [row for _, row in sorted(best.values(), key=lambda v: v[0])[:n]]


def render_take(midi: Path, out: Path, soundfont: Path) -> Path:
    """The performance MIDI as audio, leading silence kept (the annotations count from 0)."""
    cmd = ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", "22050", "-F", str(out)]
    subprocess.run([*cmd, str(soundfont), str(midi)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return out


def beat_errors_ms(
    take_beats: np.ndarray, ref_beats: np.ndarray, report_t: np.ndarray, report_ref_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """|reported score beat - true beat| x the take's local beat period [ms], per take beat.

    Parameters
    ----------
    take_beats, ref_beats : np.ndarray [shape=(n,), s]
        Beat k of the take and of the score's rendering.
    report_t, report_ref_t : np.ndarray [shape=(m,), s]
        The method's answers: take time (non-decreasing) and reference time.

    Returns
    -------
    (errors, period) : np.ndarray [shape=(n,), ms]
        The errors, and the take's local beat period at each beat.
    """
    ref_t = np.interp(take_beats, report_t, report_ref_t)
    k = np.arange(len(ref_beats), dtype=np.float64)
    slope_lo = 1.0 / (ref_beats[1] - ref_beats[0])
    slope_hi = 1.0 / (ref_beats[-1] - ref_beats[-2])
    beat = np.interp(ref_t, ref_beats, k)
    beat = np.where(ref_t < ref_beats[0], (ref_t - ref_beats[0]) * slope_lo, beat)
    beat = np.where(ref_t > ref_beats[-1], k[-1] + (ref_t - ref_beats[-1]) * slope_hi, beat)
    period = np.gradient(take_beats)
    return np.abs(beat - k) * period * 1000.0, period * 1000.0


def tracked(take_beats: np.ndarray, errors: np.ndarray, period_ms: np.ndarray) -> bool:
    """No 30-s window (every 10 s from 0) whose median error exceeds its median beat period.

    take_beats [s], errors [ms] and period_ms [ms] are per take beat (:func:`beat_errors_ms`).
    """
    start = 0.0
    while start < take_beats[-1]:
        sel = (take_beats >= start) & (take_beats < start + 30.0)
        if sel.any() and np.median(errors[sel]) > np.median(period_ms[sel]):
            return False
        start += 10.0
    return True


def player_tempo(score_midi: Path, score_beats: np.ndarray, take_beats: np.ndarray) -> tuple[float, np.ndarray]:
    """The take's mean tempo [quarter notes per minute] (what a player would give as
    ``--tempo``), and the score's beats [s] in a rendering at that constant tempo."""
    _, marks, _ = read_score(score_midi)
    grid = np.linspace(0.0, 1e5, 400001)  # quarters
    q = np.interp(score_beats + LEAD_S, marks.seconds(grid), grid)
    qpm = 60.0 * (q[-1] - q[0]) / (take_beats[-1] - take_beats[0])
    return float(qpm), LEAD_S + q * 60.0 / qpm


def run_piece(
    row: dict[str, str], config: Config, model: Any, folder: Path, mm_python: Path | None, at_player_tempo: bool
) -> dict[str, Any]:
    """One piece (a :func:`choose_pieces` row): the score and the take rendered in ``folder``, the
    follower online, ``compare`` offline and (``mm_python`` given) pymatchmaker's Arzt OLTW.

    Returns
    -------
    dict
        ``folder``, ``take``, ``beats``, ``tempo_bpm`` (``at_player_tempo``; else None),
        ``seconds`` [s], and per method (``online``, ``offline``, ``mm_arzt``) its
        ``errors`` [ms] per take beat and whether it ``tracked`` the piece.
    """
    score_midi = ASAP / row["midi_score"]
    take_beats = _times(ASAP / row["performance_annotations"])
    # the rendering keeps the score MIDI's seconds exactly, after the lead-in
    ref_beats = _times(ASAP / row["midi_score_annotations"]) + LEAD_S
    tempo_bpm = None
    if at_player_tempo:
        tempo_bpm, ref_beats = player_tempo(score_midi, ref_beats - LEAD_S, take_beats)
    ref_wav = folder / "score.wav"
    ref = build_score_reference(
        score_midi, config=config, pitch_model=model, name="score", tempo_bpm=tempo_bpm, keep_audio=ref_wav
    )
    take_wav = render_take(ASAP / row["midi_performance"], folder / "take.wav", TAKE_SOUNDFONT)
    out: dict[str, Any] = {"folder": row["folder"], "take": Path(row["midi_performance"]).name}
    out["beats"] = len(take_beats)
    out["tempo_bpm"] = tempo_bpm
    out["seconds"] = round(float(take_beats[-1]), 1)
    track = follow_blocks(ref, (b for b, _ in file_blocks(take_wav, config.sr)))
    err, period = beat_errors_ms(take_beats, ref_beats, track.t.astype(np.float64), track.ref_t.astype(np.float64))
    out["online"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    take_ref = build_reference(take_wav, config, model, "take", track=False)
    alignment = compare(ref, take_ref).alignment
    err, period = beat_errors_ms(take_beats, ref_beats, alignment.b_t, alignment.a_t)
    out["offline"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    if mm_python is not None:
        rep = np.asarray(matchmaker_files(ref_wav, take_wav, "arzt", mm_python)["reports"], np.float64)
        err, period = beat_errors_ms(take_beats, ref_beats, rep[:, 0], rep[:, 1])
        out["mm_arzt"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    return out


def summarise(results: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """One method's figures pooled over :func:`run_piece` results: shares within WITHIN_MS [%],
    median [ms], tracked pieces [%], pieces; empty when no result has the method."""
    runs = [r[method] for r in results if method in r]
    if not runs:
        return {}
    err = np.concatenate([np.asarray(r["errors"]) for r in runs])
    row: dict[str, Any] = {f"within_{ms}": round(100.0 * float(np.mean(err <= ms)), 1) for ms in WITHIN_MS}
    row["median_ms"] = round(float(np.median(err)), 1)
    row["tracked"] = round(100.0 * float(np.mean([r["tracked"] for r in runs])), 1)
    row["pieces"] = len(runs)
    return row


def piece_line(res: dict[str, Any]) -> str:
    """One :func:`run_piece` result on a line: beats, seconds, each method's ≤50 / ≤300 ms shares."""
    cells = []
    for m in METHODS:
        if m in res:
            s = summarise([res], m)
            cells.append(f"{m} {s['within_50']:5.1f}/{s['within_300']:5.1f}{'' if res[m]['tracked'] else ' LOST'}")
    return f"{res['folder']:<45} {res['beats']:4d} beats {res['seconds']:6.1f} s  " + "  ".join(cells)


def summary_table(results: list[dict[str, Any]]) -> str:
    """Every method's :func:`summarise` figures, one row a method."""
    lines = [f"{'method':<9} {'<=50 ms':>8} {'<=100 ms':>9} {'<=300 ms':>9} {'median':>8} {'tracked':>8}  pieces"]
    for method in METHODS:
        s = summarise(results, method)
        if s:
            lines.append(
                f"{method:<9} {s['within_50']:7.1f}% {s['within_100']:8.1f}% {s['within_300']:8.1f}% "
                f"{s['median_ms']:6.1f}ms {s['tracked']:7.1f}%  {s['pieces']}"
            )
    return "\n".join(lines)
