"""The result types of practice scoring: per beat, onset and bar, and the whole :class:`Score`
(``to_dict()`` is the JSON of ``matcher score``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..compare import Comparison
from ..numbers import beat_number, rounded


@dataclass(frozen=True)
class BeatScore:
    """One reference beat in the take.

    beat : float — the reference's beat number (from 0); bar : int — its bar (from 1, 0 for
    a pickup); ref_t, take_t : float [s]; error_ms : float [ms] — against the reference
    scaled to the take's overall tempo (< 0: early); steadiness_ms : float [ms] — against
    the player's own local tempo (< 0: early; NaN with < 3 beats); cents : float — median
    pitch difference take - reference up to the next beat (NaN where not both voiced).
    """

    beat: float
    bar: int
    ref_t: float
    take_t: float
    error_ms: float
    steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "beat": beat_number(self.beat),
            "bar": self.bar,
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "error_ms": rounded(self.error_ms, 1),
            "steadiness_ms": rounded(self.steadiness_ms, 1),
            "cents": rounded(self.cents, 1),
        }


@dataclass(frozen=True)
class OnsetScore:
    """One reference onset (a peak of its onset flux) in the take: as :class:`BeatScore`,
    with the fractional ``beat`` and ``bar`` of the onset (NaN without beats), and ``cents``
    up to the next onset."""

    ref_t: float
    take_t: float
    beat: float
    bar: float
    error_ms: float
    steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "beat": rounded(self.beat, 3),
            "bar": rounded(self.bar, 3),
            "error_ms": rounded(self.error_ms, 1),
            "steadiness_ms": rounded(self.steadiness_ms, 1),
            "cents": rounded(self.cents, 1),
        }


@dataclass(frozen=True)
class BarScore:
    """One bar: its beats' mean signed and absolute error [ms], share within the tolerance,
    largest |steadiness| [ms] and median pitch difference [cents]."""

    bar: int
    ref_t: float
    take_t: float
    beats: int
    mean_error_ms: float
    mean_abs_error_ms: float
    within: float
    max_abs_steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "bar": self.bar,
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "beats": self.beats,
            "mean_error_ms": rounded(self.mean_error_ms, 1),
            "mean_abs_error_ms": rounded(self.mean_abs_error_ms, 1),
            "within": rounded(self.within, 4),
            "max_abs_steadiness_ms": rounded(self.max_abs_steadiness_ms, 1),
            "cents": rounded(self.cents, 1),
        }


@dataclass(frozen=True)
class Score:
    """Everything :func:`score_take` finds; ``to_dict()`` is the JSON of ``matcher score``.

    Attributes
    ----------
    ref_name, take_name : str
    tolerance_ms : float [ms]
    slope, offset : float
        The steady rendering ``take_t = offset + slope * ref_t`` the errors are measured from.
    beats, onsets, bars : tuples of :class:`BeatScore`, :class:`OnsetScore`, :class:`BarScore`
    summary : dict
        The figures of the summary (see :meth:`to_dict`).
    comparison : Comparison
        The underlying alignment, tempo curve and pitch comparison.
    """

    ref_name: str
    take_name: str
    tolerance_ms: float
    slope: float
    offset: float
    beats: tuple[BeatScore, ...]
    onsets: tuple[OnsetScore, ...]
    bars: tuple[BarScore, ...]
    summary: dict[str, Any]
    comparison: Comparison
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        within = "n/a" if s["within_tolerance"] is None else f"{100 * s['within_tolerance']:.0f} %"
        return (
            f"Score({self.take_name!r} against {self.ref_name!r}, {len(self.beats)} beats, "
            f"{within} within ±{self.tolerance_ms:g} ms, tempo ratio {self.tempo_ratio:.3f})"
        )

    @property
    def tempo_ratio(self) -> float:
        """The take's overall tempo against the reference's (> 1: faster)."""
        return 1.0 / self.slope if self.slope > 0 else float("nan")

    def sentence(self) -> str:
        """One sentence of facts for people (no advice): :func:`matcher.scoring.prose.sentence`."""
        from .prose import sentence

        return sentence(self)

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "reference": {"name": self.ref_name, "duration": round(c.a_duration, 4)},
            "take": {"name": self.take_name, "duration": round(c.b_duration, 4)},
            "tolerance_ms": self.tolerance_ms,
            "method": c.alignment.method,
            "frame_seconds": c.alignment.frame_seconds,
            "tempo_ratio": rounded(self.tempo_ratio, 5),
            "steady": {"slope": rounded(self.slope, 6), "offset": rounded(self.offset, 4)},
            "beats_per_bar": c.beats_per_bar,
            "beats": [b.to_dict() for b in self.beats],
            "bars": [b.to_dict() for b in self.bars],
            "onsets": [o.to_dict() for o in self.onsets],
            "tempo_curve": {
                "take_t": [round(float(t), 3) for t in c.alignment.b_at(c.tempo_a_t)],
                "ref_t": [round(float(t), 3) for t in c.tempo_a_t],
                "ratio": [rounded(float(r), 4) for r in c.tempo_curve],
            },
            "pauses": [p.to_dict() for p in c.pauses],
            "summary": self.summary,
            "sentence": self.sentence(),
            **({"meta": self.meta} if self.meta else {}),
        }


__all__ = ["BarScore", "BeatScore", "OnsetScore", "Score"]
