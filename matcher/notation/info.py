"""ScoreInfo: what a score says about a reference rendered from it (bars as printed, passes
of repeats, beats in bar, time signatures, tempo marks, sections, note onsets with their
names), on the reference's time axis, and the lookup from a reference time to a place in
the score.

This module imports neither partitura nor a synthesizer: a stored reference's ScoreInfo
loads without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..beats import Beats


@dataclass(frozen=True, eq=False)
class ScoreInfo:
    """A score's structure on the time axis of the audio rendered from it.

    Times are reference seconds (``ref_t``) of the rendering; positions in the notation
    are quarter notes from the start of the score as played (``_q``).

    Attributes
    ----------
    source, format, repeats, tempo : str
        The score file, ``"musicxml"|"midi"|"mei"``, ``"unfold"|"none"``, and how it was
        timed (``"marks"`` or ``"fixed N qpm"``).
    bar_t, bar_end_t : np.ndarray [shape=(n_bars,), s]
        Start and end of each bar in playing order.
    bar_numbers : tuple[str, ...]
        Each bar's number as printed.
    bar_passes : np.ndarray [shape=(n_bars,), int]
        Which time (from 1) the printed bar is played (repeats).
    bar_counts : np.ndarray [shape=(n_bars,), int]
        Running bar count in playing order (the pickup counted as the score counts it).
    bar_beats : np.ndarray [shape=(n_bars,)]
        Beats in a full bar of the bar's metre (compound metres count dotted beats).
    beat_t, beat_q : np.ndarray [shape=(n_beats,), s and quarters]
    beat_bar : np.ndarray [shape=(n_beats,), int]
        Index of the beat's bar.
    beat_in_bar : np.ndarray [shape=(n_beats,)]
        1 on a downbeat; a pickup's beats are the last of their bar.
    note_t, note_end_t, note_q : np.ndarray [shape=(n_notes,), s, s, quarters]
    note_pitch : np.ndarray [shape=(n_notes,), int]
        MIDI number (the key for percussion).
    note_pitched : np.ndarray [shape=(n_notes,), bool]
    note_names : tuple[str, ...]
        Spelled pitch (``"F#5"``) or ``"keyN"`` for percussion.
    time_signatures, tempo_marks, sections, parts : tuple[dict, ...]
        JSON-ready rows (see :func:`matcher.notation.build.describe`).
    """

    source: str
    format: str
    repeats: str
    tempo: str
    bar_t: np.ndarray
    bar_end_t: np.ndarray
    bar_numbers: tuple[str, ...]
    bar_passes: np.ndarray
    bar_counts: np.ndarray
    bar_beats: np.ndarray
    beat_t: np.ndarray
    beat_q: np.ndarray
    beat_bar: np.ndarray
    beat_in_bar: np.ndarray
    note_t: np.ndarray
    note_end_t: np.ndarray
    note_q: np.ndarray
    note_pitch: np.ndarray
    note_pitched: np.ndarray
    note_names: tuple[str, ...]
    time_signatures: tuple[dict[str, Any], ...]
    tempo_marks: tuple[dict[str, Any], ...]
    sections: tuple[dict[str, Any], ...]
    parts: tuple[dict[str, Any], ...]

    _ARRAYS = (
        ("bar_t", np.float64),
        ("bar_end_t", np.float64),
        ("bar_passes", np.int64),
        ("bar_counts", np.int64),
        ("bar_beats", np.float64),
        ("beat_t", np.float64),
        ("beat_q", np.float64),
        ("beat_bar", np.int64),
        ("beat_in_bar", np.float64),
        ("note_t", np.float64),
        ("note_end_t", np.float64),
        ("note_q", np.float64),
        ("note_pitch", np.int64),
        ("note_pitched", np.bool_),
    )
    _TEXTS = ("source", "format", "repeats", "tempo")
    _ROWS = ("time_signatures", "tempo_marks", "sections", "parts")

    def __repr__(self) -> str:
        return (
            f"ScoreInfo({self.format}, {len(self.bar_t)} bars, {len(self.beat_t)} beats, "
            f"{len(self.note_t)} notes, repeats={self.repeats})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers as lists, rows as they are."""
        out: dict[str, Any] = {key: getattr(self, key) for key in self._TEXTS}
        out.update({key: np.asarray(getattr(self, key)).tolist() for key, _ in self._ARRAYS})
        out["bar_numbers"] = list(self.bar_numbers)
        out["note_names"] = list(self.note_names)
        out.update({key: [dict(row) for row in getattr(self, key)] for key in self._ROWS})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreInfo:
        """Inverse of :meth:`to_dict` (raises KeyError, TypeError or ValueError on a bad dict)."""
        kwargs: dict[str, Any] = {key: str(data[key]) for key in cls._TEXTS}
        kwargs.update({key: np.asarray(data[key], dtype=dtype).reshape(-1) for key, dtype in cls._ARRAYS})
        kwargs["bar_numbers"] = tuple(str(x) for x in data["bar_numbers"])
        kwargs["note_names"] = tuple(str(x) for x in data["note_names"])
        kwargs.update({key: tuple(dict(row) for row in data[key]) for key in cls._ROWS})
        info = cls(**kwargs)
        if len(info.bar_numbers) != len(info.bar_t) or len(info.note_names) != len(info.note_t):
            raise ValueError("score info: lengths of bars or notes disagree")
        return info

    def summary(self) -> dict[str, Any]:
        """What ``reference show`` lists: counts, sections, time signatures, tempo marks, parts."""
        return {
            "score": self.source,
            "format": self.format,
            "repeats": self.repeats,
            "tempo": self.tempo,
            "bars": len(self.bar_t),
            "beats": len(self.beat_t),
            "notes": len(self.note_t),
            "sections": [dict(row) for row in self.sections],
            "time_signatures": [dict(row) for row in self.time_signatures],
            "tempo_marks": [dict(row) for row in self.tempo_marks],
            "parts": [dict(row) for row in self.parts],
        }

    def bar_label(self, index: int) -> str:
        """A bar as a player reads it: ``"12"``, or ``"12 (pass 2)"`` on a repeat."""
        number, passes = self.bar_numbers[index], int(self.bar_passes[index])
        return number if passes == 1 else f"{number} (pass {passes})"

    def beats(self, source: str = "score") -> Beats:
        """The score's beats as the reference's :class:`~matcher.beats.Beats`: consecutive
        numbers, and bars counted as the score counts them (``count + (beat - 1) / beats``)."""
        bars = self.bar_counts[self.beat_bar] + (self.beat_in_bar - 1.0) / self.bar_beats[self.beat_bar]
        full = self.bar_beats[self.bar_beats > 0]
        per_bar = max(1, round(float(np.median(full)))) if len(full) else 4
        numbers = np.arange(len(self.beat_t), dtype=np.float64)
        return Beats(self.beat_t.astype(np.float64), numbers, bars.astype(np.float64), per_bar, source)

    def position(self, ref_t: float) -> ScorePosition:
        """Where reference time ``ref_t`` [s] lies in the score (see :func:`score_position`)."""
        return score_position(self, ref_t)


@dataclass(frozen=True)
class ScorePosition:
    """A place in the score.

    ``bar`` as printed, ``pass_`` which time it is played (from 1), ``beat`` the
    fractional beat in bar (1.0 = downbeat), ``note`` the name of the nearest score note
    onset, ``note_t`` its reference time [s], ``note_pitch`` its MIDI number.
    """

    ref_t: float
    bar: str
    pass_: int
    beat: float
    bar_index: int
    note: str | None
    note_t: float | None
    note_pitch: int | None

    def __repr__(self) -> str:
        again = f" (pass {self.pass_})" if self.pass_ > 1 else ""
        return f"ScorePosition(bar {self.bar}{again}, beat {self.beat:.2f}, note {self.note})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref_t": round(self.ref_t, 4),
            "bar": self.bar,
            "pass": self.pass_,
            "beat": round(self.beat, 3),
            "note": self.note,
            "note_t": None if self.note_t is None else round(self.note_t, 4),
            "note_pitch": self.note_pitch,
        }


def score_position(info: ScoreInfo, ref_t: float) -> ScorePosition:
    """Map a reference time to the score: bar as printed, pass, beat in bar and nearest note.

    Parameters
    ----------
    info : ScoreInfo
    ref_t : float [s]
        Reference time; before the first bar it is the first bar, after the last the last.

    Returns
    -------
    ScorePosition
        The beat in bar is interpolated linearly between the score's beats (and to the
        bar's end after its last beat); the nearest note is the score onset closest in time.
    """
    ref_t = float(ref_t)
    bar = int(np.clip(np.searchsorted(info.bar_t, ref_t, side="right") - 1, 0, len(info.bar_t) - 1))
    lo, hi = np.searchsorted(info.beat_bar, [bar, bar + 1])  # beats are in playing order: O(log n) per call
    in_bar = np.arange(lo, hi)
    beat = 1.0
    if len(in_bar):
        times = info.beat_t[in_bar]
        numbers = info.beat_in_bar[in_bar]
        ends_t = np.r_[times, max(float(info.bar_end_t[bar]), times[-1] + 1e-9)]
        ends_b = np.r_[numbers, numbers[-1] + 1.0]
        beat = float(np.interp(ref_t, ends_t, ends_b, left=numbers[0], right=ends_b[-1]))
    elif len(info.beat_t) > 1:  # a bar shorter than a beat: count from its end if a pickup, else its start
        k = int(np.clip(np.searchsorted(info.beat_t, ref_t), 1, len(info.beat_t) - 1))
        beat_s = float(info.beat_t[k] - info.beat_t[k - 1])
        if bar == 0:
            beat = float(info.bar_beats[0] + 1.0 - (info.bar_end_t[0] - ref_t) / beat_s)
        else:
            beat = 1.0 + (ref_t - float(info.bar_t[bar])) / beat_s
    note = note_t = pitch = None
    if len(info.note_t):
        k = int(np.searchsorted(info.note_t, ref_t))
        cands = [i for i in (k - 1, k) if 0 <= i < len(info.note_t)]
        best = min(cands, key=lambda i: abs(info.note_t[i] - ref_t))
        # among simultaneous notes the highest is the one named (the melody, usually)
        chord = np.flatnonzero(np.abs(info.note_t - info.note_t[best]) < 1e-6)
        best = int(chord[np.argmax(info.note_pitch[chord])])
        note, note_t, pitch = info.note_names[best], float(info.note_t[best]), int(info.note_pitch[best])
    return ScorePosition(ref_t, info.bar_numbers[bar], int(info.bar_passes[bar]), beat, bar, note, note_t, pitch)
