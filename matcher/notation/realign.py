"""Aligning a take to a score in two passes.

A score is rendered at its tempo marks, and a player may take a passage at a third of
that or twice it. Where the two differ that much, one rendered note stands against a
long stretch of the take (or the reverse) and the alignment has little to hold on to in
held notes and rests. So against a score :func:`matcher.compare.compare` aligns once,
reads from that alignment the tempo the player took every few beats, renders the score
again at that tempo and aligns the take to the new rendering, whose notes now fall about
where the player's do. The second path is mapped back to the first rendering's time
axis through the score's quarter notes, so every result stays on the reference's axis.

Measured on ASAP dev pieces (``tools/eval_score_following.py --methods offline``): see
``docs/DESIGN.md``, "Scores".
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from ..align import Alignment, AlignParams, align_frames
from ..audio import file_sha256
from ..beats import interp_extrapolated
from ..errors import MatcherError
from ..reference import Reference
from .info import ScoreInfo
from .render import TempoMap

#: Beats per piece of the played tempo (one tempo per this many score beats).
SEGMENT_BEATS = 4
#: Bounds of a played tempo [quarter notes per minute] (a stalled first pass gives extremes).
QPM_RANGE = (10.0, 1000.0)


def played_tempo(info: ScoreInfo, alignment: Alignment, every: int = SEGMENT_BEATS) -> TempoMap:
    """The tempo a take was played at, as a first alignment of it (B) to the score's
    rendering (A) shows it: one tempo per ``every`` score beats, from the take times of
    the beats' renderings; the first holds from the score's start."""
    beat_q, beat_t = np.asarray(info.beat_q, np.float64), np.asarray(info.beat_t, np.float64)
    if len(beat_q) < 2:
        raise MatcherError("a score with fewer than two beats has no tempo to read")
    idx = np.unique(np.r_[np.arange(0, len(beat_q) - 1, every), len(beat_q) - 1])
    q = beat_q[idx]
    take_t = np.asarray(alignment.b_at(beat_t[idx]), np.float64)
    dq = np.diff(q)
    dt = np.maximum(np.diff(take_t), dq * 60.0 / QPM_RANGE[1])
    qpm = np.clip(60.0 * dq / dt, *QPM_RANGE)
    starts = np.r_[0.0, q[1:-1]]
    return TempoMap(starts, qpm)


def reference_seconds(info: ScoreInfo, q: np.ndarray) -> np.ndarray:
    """Seconds of the reference's own rendering at quarter positions ``q``, through its
    beats and note onsets (the tempo changes at one of them)."""
    qs = np.r_[info.beat_q, info.note_q]
    ts = np.r_[info.beat_t, info.note_t]
    qs, first = np.unique(qs, return_index=True)
    return np.asarray(interp_extrapolated(np.asarray(q, np.float64), qs, ts[first]))


def _mapped(alignment: Alignment, to_ref_t: np.ndarray, n_ref: int) -> Alignment:
    """``alignment`` with its A axis replaced: A time ``a_t`` becomes ``to_ref_t`` (same
    length as ``a_t`` and increasing) and the path's A frames follow, rounded."""
    fs = alignment.frame_seconds
    frames_t = np.interp(alignment.a_frames * fs, alignment.a_t, to_ref_t)
    a_frames = np.clip(np.round(frames_t / fs), 0, n_ref - 1).astype(alignment.a_frames.dtype)
    a_frames = np.maximum.accumulate(a_frames)
    return dataclasses.replace(alignment, a_frames=a_frames, a_t=to_ref_t, method=f"{alignment.method}, 2 passes")


def score_source(reference: Reference) -> Path | None:
    """The score file ``reference`` was rendered from, when it is still there unchanged."""
    source = reference.meta.get("source")
    if not source or not Path(source).is_file():
        return None
    sha = reference.meta.get("sha256")
    if sha and file_sha256(source) != sha:
        return None
    return Path(source)


def realign(reference: Reference, take: Reference, first: Alignment, params: AlignParams) -> tuple[Alignment, str]:
    """The second pass: ``take`` aligned to ``reference``'s score rendered again at the
    tempo ``first`` shows; returns the alignment on the reference's axis and what was
    done (``"2 passes"``), or ``first`` and why not (the score file gone or changed, no
    synthesizer)."""
    from ..features import NoPitch
    from ..reference import build_reference
    from .parse import read_notation
    from .render import find_soundfont, render_audio

    info = reference.score
    if info is None:
        return first, "not a score"
    source = score_source(reference)
    if source is None:
        return first, "1 pass: the score file is gone or changed"
    try:
        notation = read_notation(source, reference.meta.get("repeats") or info.repeats)
        tempo = played_tempo(info, first)
        font = reference.meta.get("soundfont")
        font = font if font and Path(font).is_file() else find_soundfont(None)
        with tempfile.TemporaryDirectory(prefix="matcher-realign-") as tmp:
            wav = render_audio(notation, tempo, Path(tmp) / "played.wav", font)
            played = build_reference(wav, reference.config, NoPitch(reference.config), name="played", track=False)
    except MatcherError as exc:
        return first, f"1 pass: {exc}"
    second = align_frames(played.frames, take.frames, reference.config, params)
    to_ref_t = reference_seconds(info, tempo.quarters(second.a_t))
    # Strictly increasing like any path's A times (rounding at the ends could tie them).
    to_ref_t = np.maximum.accumulate(to_ref_t)
    keep = np.r_[True, np.diff(to_ref_t) > 0]
    second = dataclasses.replace(second, a_t=second.a_t[keep], b_t=second.b_t[keep])
    return _mapped(second, to_ref_t[keep], len(reference.frames)), "2 passes"
