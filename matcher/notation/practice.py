"""Practice scoring against a score: timing against the notated rhythm at the player's own
tempo, notes missed or added where the take's onsets allow saying so, and pitch in cents
against the written pitches.

The take is first aligned to the reference rendered from the score
(:func:`matcher.align.align_frames`, or the alignment of :func:`matcher.compare.compare`);
each score onset (a chord counts once) is then looked up in the take:

* its **played time** is the take's onset peak (spectral flux standing out of the flux
  around it, so a held note's breath or vibrato is no onset) nearest to where the
  alignment puts it, within ``snap_ms``; without a peak there it is **missed** only where
  the take's onsets allow saying so (the flux near it stands out less than a quarter of
  a typical played onset's, and no other score onset lies within ``2 * snap_ms``), else
  **unclear**;
* its **timing error** is the played time minus the time the notated rhythm predicts from
  the player's own tempo around it: a straight line fitted, by least squares, to the other
  played onsets within ``window_beats`` score beats either side (take time against score
  time, so the score's tempo marks are kept and only the player's tempo is fitted);
* **added** notes are strong take onsets (twice the detection threshold) farther than
  ``snap_ms`` from every score onset;
* **cents**: where the score is monophonic (one written pitch, nothing else sounding), the
  median pitch of the take's voiced frames over the note against the written pitch (only
  within a tritone: further is a wrong note, counted in ``wrong_pitch``, except whole
  octaves, which pitch estimators get wrong as often as players do); chords and
  polyphony are not judged (a single-pitch estimator cannot say which note it heard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..align import Alignment, align_frames, onset_contrast, onset_peaks
from ..compare import Comparison
from ..errors import InputFileError, ParameterError
from ..features.vectors import flux_norms
from .info import ScoreInfo

#: Pitch is judged only where the take's pitch over the note is this steady [semitones,
#: interquartile range] and the pitch model this confident (median voicing confidence).
STEADY_SEMITONES = 0.3
#: A note counts as missed only where the take's flux near it stands out less than this
#: share of a typical played onset's (a missing flute note measured 0.17, the played notes
#: of that take 0.78 and more; before onsets had to stand out, 0.23).
QUIET_ONSET = 0.25
#: An onset must stand out of the flux of the take around it, within this span either side
#: [s] (:func:`~matcher.align.onset_contrast`): a held flute note's breath and vibrato
#: make flux peaks of their own as high as a soft piano onset's.
ONSET_BACKGROUND_S = 0.25
MIN_CONFIDENCE = 0.8


@dataclass(frozen=True)
class NoteResult:
    """One score onset (chord) in the take.

    ``status``: ``"played"``, ``"missed"`` or ``"unclear"`` (no onset found where the
    take's onsets could not tell). Times in seconds: ``ref_t`` in the rendered
    score, ``take_t`` where the alignment puts it, ``played_t`` the onset found (None when
    missed). ``timing_ms`` > 0 is late against the player's own tempo; ``cents`` > 0 sharp.
    """

    index: int
    notes: str
    bar: str
    pass_: int
    beat: float
    ref_t: float
    take_t: float
    played_t: float | None
    status: str
    timing_ms: float | None
    cents: float | None

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None, d: int) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), d)

        return {
            "index": self.index,
            "notes": self.notes,
            "bar": self.bar,
            "pass": self.pass_,
            "beat": round(self.beat, 3),
            "ref_t": r(self.ref_t, 4),
            "take_t": r(self.take_t, 4),
            "played_t": r(self.played_t, 4),
            "status": self.status,
            "timing_ms": r(self.timing_ms, 1),
            "cents": r(self.cents, 1),
        }


@dataclass(frozen=True)
class ScorePractice:
    """The result of :func:`practice_against_score`."""

    notes: tuple[NoteResult, ...]
    added_t: tuple[float, ...]
    tolerance_ms: float
    player_qpm: float
    summary: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"ScorePractice({s.get('onsets')} onsets, {s.get('missed')} missed, {s.get('added')} added, "
            f"{s.get('within_tolerance_pct')} % within {self.tolerance_ms:g} ms)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "notes": [n.to_dict() for n in self.notes],
            "added_t": [round(t, 4) for t in self.added_t],
        }

    def sentence(self) -> str:
        """One sentence of facts for people."""
        s = self.summary
        text = (
            f"{s['played']} of {s['onsets']} score onsets played, {s['missed']} missed, {s['added']} added; "
            f"{s['within_tolerance_pct']} % within {self.tolerance_ms:g} ms of the notated rhythm at your tempo "
            f"({self.player_qpm:.0f} quarter notes per minute)"
        )
        if s.get("median_abs_cents") is not None:
            text += f"; pitch {s['median_abs_cents']:.0f} cents off (median)"
        return text + "."


def _events(info: ScoreInfo) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unique onset times of the score [s] and the notes sounding at each."""
    t = np.round(info.note_t, 6)
    uniq, first = np.unique(t, return_index=True)
    groups = [np.flatnonzero(t == u) for u in uniq]
    return info.note_t[first], groups


def _pct(hits: np.ndarray) -> float | None:
    return round(100.0 * float(np.mean(hits)), 1) if len(hits) else None


def _local_fit(ref_t: np.ndarray, played: np.ndarray, ok: np.ndarray, half_s: np.ndarray) -> np.ndarray:
    """For each event, the take time predicted by a line through the *other* played events
    within ``half_s`` of it on the score's axis (NaN with fewer than two)."""
    pred = np.full(len(ref_t), np.nan)
    for i in range(len(ref_t)):
        sel = ok & (np.abs(ref_t - ref_t[i]) <= half_s[i])
        sel[i] = False
        if sel.sum() < 2 or np.ptp(ref_t[sel]) <= 0:
            continue
        slope, icept = np.polyfit(ref_t[sel], played[sel], 1)
        pred[i] = icept + slope * ref_t[i]
    return pred


def practice_against_score(
    reference: Any,
    take: Any,
    alignment: Alignment | Comparison | None = None,
    *,
    tolerance_ms: float = 50.0,
    snap_ms: float = 100.0,
    window_beats: float = 4.0,
    pitch: bool = True,
    onset_threshold: float = 1.0,
) -> ScorePractice:
    """Score a take against the score a reference was built from.

    Parameters
    ----------
    reference : Reference
        Built by :func:`~matcher.notation.build_score_reference` (``reference.score`` set).
    take : Reference
        The take's frames (same configuration), e.g. from
        :func:`~matcher.reference.build_reference` with ``track=False``.
    alignment : Alignment or Comparison, optional
        Reference (A) to take (B), e.g. ``matcher.compare(reference, take)``; default
        :func:`~matcher.align.align_frames` of the two.
    tolerance_ms : float > 0 [ms]
        Timing errors up to this count as on time.
    snap_ms : float > 0 [ms]
        How far from the aligned place a take onset may be to count as the note's.
    window_beats : float > 0 [score beats]
        Half-width of the span the player's local tempo is fitted over.
    pitch : bool
        Judge pitch (refused for scores with only percussion).
    onset_threshold : float > 0
        Onset peaks must reach this times the take's mean flux norm.

    Raises
    ------
    ParameterError
        When the reference was not built from a score, or on bad options.
    InputFileError
        When pitch is asked of a score with only percussion staves.
    """
    info: ScoreInfo | None = getattr(reference, "score", None)
    if info is None:
        raise ParameterError(f"reference {reference.name!r} was not built from a score; use matcher score REF TAKE")
    for label, value in (("tolerance", tolerance_ms), ("snap", snap_ms), ("window", window_beats)):
        if not value > 0:
            raise ParameterError(f"bad {label} {value!r}: must be > 0")
    if pitch and not info.note_pitched.any():
        raise InputFileError(f"{info.source}: the score has only percussion staves; pitch cannot be judged")
    config = reference.config
    if alignment is None:
        alignment = align_frames(reference.frames, take.frames, config)
    elif not isinstance(alignment, Alignment):  # a Comparison of the score's reference (A) with the take (B)
        alignment = alignment.alignment
    fs = config.frame_seconds
    ev_t, groups = _events(info)
    take_t = np.asarray(alignment.b_at(ev_t), np.float64)
    background = round(ONSET_BACKGROUND_S / fs)
    peaks = onset_peaks(take.frames, config.gate_db, onset_threshold, background_frames=background) * fs
    snap = snap_ms / 1000.0
    # Each event takes the nearest free peak; a peak serves one event only.
    played = np.full(len(ev_t), np.nan)
    used = np.zeros(len(peaks), bool)
    for i in range(len(ev_t)) if len(peaks) else ():
        d = np.abs(peaks - take_t[i])
        d[used] = np.inf
        k = int(np.argmin(d))
        if d[k] <= snap:
            played[i], used[k] = peaks[k], True
    ok = np.isfinite(played)
    # "missed" only where the take's onsets can say so: the take's strongest flux near the
    # note stays below QUIET_ONSET of a typical played onset's, and no other score onset lies
    # within twice the snap distance (dense passages and spread chords hide single onsets);
    # otherwise "unclear".
    norms = onset_contrast(flux_norms(take.frames), background)
    typical = float(np.median(norms[np.round(played[ok] / fs).astype(int)])) if ok.any() else 0.0
    half = max(1, round(snap / fs))
    frame = np.clip(np.round(take_t / fs).astype(int), 0, max(len(norms) - 1, 0))
    near = (
        np.array([norms[max(0, f - half) : f + half + 1].max(initial=0.0) for f in frame])
        if len(norms)
        else frame * 0.0
    )
    gaps = np.diff(take_t)
    isolated = np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf]) >= 2.0 * snap
    missed = ~ok & isolated & (near < QUIET_ONSET * typical)
    beat_s = np.interp(ev_t, info.beat_t[1:], np.diff(info.beat_t)) if len(info.beat_t) > 1 else np.full(len(ev_t), 0.5)
    pred = _local_fit(ev_t, played, ok, window_beats * beat_s)
    timing = (played - pred) * 1000.0
    strong = onset_peaks(take.frames, config.gate_db, 2.0 * onset_threshold, background_frames=background) * fs
    lo, hi = take_t[0] - snap, take_t[-1] + snap
    added = [float(p) for p in strong if lo <= p <= hi and np.min(np.abs(take_t - p)) > snap]
    cents = _cents(info, groups, take, played, take_t, fs) if pitch else np.full(len(ev_t), np.nan)
    results = []
    for i, group in enumerate(groups):
        pos = info.position(float(ev_t[i]))
        names = " ".join(info.note_names[j] for j in group)
        results.append(
            NoteResult(
                i,
                names,
                pos.bar,
                pos.pass_,
                pos.beat,
                float(ev_t[i]),
                float(take_t[i]),
                float(played[i]) if ok[i] else None,
                "played" if ok[i] else ("missed" if missed[i] else "unclear"),
                float(timing[i]) if np.isfinite(timing[i]) else None,
                float(cents[i]) if np.isfinite(cents[i]) else None,
            )
        )
    slope = np.polyfit(ev_t[ok], played[ok], 1)[0] if ok.sum() >= 2 else float("nan")
    q_per_s = np.polyfit(ev_t, np.interp(ev_t, info.beat_t, info.beat_q), 1)[0] if len(ev_t) > 1 else float("nan")
    player_qpm = float(60.0 * q_per_s / slope) if slope and np.isfinite(slope) else float("nan")
    judged = timing[np.isfinite(timing)]
    c = cents[np.isfinite(cents)]
    summary = {
        "onsets": len(ev_t),
        "played": int(ok.sum()),
        "missed": int(missed.sum()),
        "unclear": int((~ok & ~missed).sum()),
        "added": len(added),
        "timed": len(judged),
        "within_tolerance_pct": round(100.0 * float(np.mean(np.abs(judged) <= tolerance_ms)), 1)
        if len(judged)
        else None,
        "mean_abs_timing_ms": round(float(np.mean(np.abs(judged))), 1) if len(judged) else None,
        "mean_timing_ms": round(float(np.mean(judged)), 1) if len(judged) else None,
        "player_qpm": round(player_qpm, 1) if np.isfinite(player_qpm) else None,
        "median_abs_cents": round(float(np.median(np.abs(c))), 1) if len(c) else None,
        "wrong_pitch": int(np.sum(np.isinf(cents))),
    }
    return ScorePractice(tuple(results), tuple(added), float(tolerance_ms), player_qpm, summary)


def _cents(
    info: ScoreInfo, groups: list[np.ndarray], take: Any, played: np.ndarray, take_t: np.ndarray, fs: float
) -> np.ndarray:
    """Cents of the take's median pitch over each played note against the nearest written
    pitch; NaN where unvoiced or unpitched, +inf beyond a tritone (a wrong note)."""
    midi = np.asarray(take.frames.midi, np.float64)
    out = np.full(len(groups), np.nan)
    for i, group in enumerate(groups):
        pitched = group[info.note_pitched[group]]
        if len(pitched) != 1 or not np.isfinite(played[i]):
            continue
        # one written pitch, and no other pitched note still sounding: a monophonic moment
        t0 = info.note_t[pitched[0]]
        sounding = info.note_pitched & (info.note_t < t0 - 1e-6) & (info.note_end_t > t0 + 0.02)
        if sounding.any():
            continue
        end = take_t[i + 1] if i + 1 < len(take_t) else played[i] + 0.5
        a, b = round((played[i] + 0.04) / fs), round(min(end, played[i] + 1.0) / fs)
        seg = midi[a : max(b, a + 1)]
        conf = np.asarray(take.frames.confidence[a : max(b, a + 1)], np.float64)
        seg = seg[np.isfinite(seg)]
        # a steady, confident pitch only: ringing notes (pedal, legato) blur a single-pitch estimate
        if len(seg) < 3 or np.subtract(*np.percentile(seg, [75, 25])) > STEADY_SEMITONES:
            continue
        if float(np.median(conf)) < MIN_CONFIDENCE:
            continue
        got = float(np.median(seg))
        written = info.note_pitch[pitched].astype(np.float64)
        diff = got - written[np.argmin(np.abs(written - got))]
        if abs(diff) > 6.0 and abs(diff - 12.0 * round(diff / 12.0)) < 0.5:
            continue  # an octave off: the pitch estimator's octave error as likely as the player's
        out[i] = 100.0 * diff if abs(diff) <= 6.0 else np.inf
    return out
