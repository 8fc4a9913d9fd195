"""Practice scoring: the timing (and pitch) of a take against its reference, beat by beat.

:func:`score_take` aligns the take to the reference (:func:`matcher.compare.compare`, so the
offline alignment, the tempo curve and the per-beat pitch difference are the comparison's)
and reads, for every reference beat and every reference onset inside the take:

* ``take_t`` — where the take plays it [s];
* ``error_ms`` — its signed timing error against the reference's timing scaled to the
  take's overall tempo (negative: early): :func:`matcher.timing.deviation_ms` from the
  steady rendering ``take_t = offset + slope * ref_t`` whose slope is the take's pace from
  its first to its last bar (:func:`~matcher.timing.steady_fit`; or a tempo the caller
  fixes) and whose offset is the median one (half the beats early, half late). A gap
  inserted before a beat steps the error of every later beat by the gap relative to the
  earlier ones; re-measured, the overall tempo also takes in the longer take (a tilt of
  up to the gap over the take);
* ``steadiness_ms`` — its signed error against the player's own local tempo
  (:func:`~matcher.scoring.maths.local_steadiness`), so a single hesitation shows at that
  beat only;
* ``cents`` — the median pitch difference take - reference [cents, folded into one octave]
  over the frames from this beat to the next where both are voiced (when enough are:
  :data:`~matcher.scoring.maths.MIN_PITCH_FRAMES`, :data:`~matcher.scoring.maths.MIN_PITCH_SHARE`).

The take is processed with the reference's configuration and pitch backend (see
:func:`load_take`), so pitch is measured the same way on both sides.

Summary: mean |error|, share of beats within ``tolerance_ms``, the trend (the curvature of
a quadratic regression of ``error_ms`` over take time, expressed as the change of the
take's tempo from its first to its last beat: > 0 rushing, < 0 dragging), tempo steadiness
(spread of the inter-beat intervals against the reference's, scaled), the worst bars,
passages of consecutive bars early or late on average, median pitch difference and the
notes (reference onset to onset) most out of tune, within a semitone; notes further off
are counted as other notes.

Live takes: :func:`followed_span` turns a follower's :class:`~matcher.follow.Track` into
alignment options for the part of the reference the take covered; the take itself is
scored offline when it ends. Measured with tools/eval_score.py, the offline take times of
the annotated beats are within 50 ms for 88-100 % of the beats per pair (piano and
percussion), the times at which the follower's reported position reaches them for 44-85 %
(its positions are causal, and hold and jump where the music does), and the follower
computes no pitch.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..align import AlignParams, onset_peaks
from ..beats import Beats
from ..compare import Comparison, compare, path_cents
from ..errors import ParameterError
from ..numbers import rounded
from ..performance import Performance
from ..timing import deviation_ms
from .maths import (
    DEFAULT_TOLERANCE_MS,
    MAX_PASSAGES,
    MAX_WORST,
    MIN_NOTE_FRAMES,
    MIN_PITCH_FRAMES,
    OPEN_MARGIN_S,
    OUT_OF_TUNE_MAX_CENTS,
    PASSAGE_SHARE,
    TREND_MIN_PCT,
    local_steadiness,
    note_name,
    span_cents,
    steady_fit,
    tempo_trend,
)
from .results import BarScore, BeatScore, OnsetScore, Score

if TYPE_CHECKING:
    from ..follow import Track


def take_pitch_model(reference: Performance, handle: str | None = None) -> Any:
    """The pitch model a take of ``reference`` is processed with: the reference's backend
    (for SPICE, ``handle`` or the model the reference was built with)."""
    from ..config import Config
    from ..resolve import ResolveOptions, pitch_model_for

    return pitch_model_for(ResolveOptions(Config(), pitch_model=handle, like=reference))


def load_take(
    spec: str | os.PathLike,
    reference: Performance,
    store: Any = None,
    handle: str | None = None,
    progress: Any = None,
) -> Performance:
    """A take for scoring against ``reference`` (:func:`matcher.resolve.resolve` with
    ``like=reference``): an audio file processed with the reference's configuration and
    pitch backend, or (with ``store``) a stored reference made with the same configuration;
    renamed ``"<name> (take)"`` when it has the reference's name.

    Raises
    ------
    InputFileError
        When ``spec`` is neither a stored name nor a readable, non-silent audio file.
    ParameterError
        When a stored take was made with another configuration or pitch backend.
    """
    from ..resolve import distinct, resolve

    take = resolve(spec, store=store, pitch_model=handle, like=reference, track_beats=False, progress=progress)
    return distinct(take, reference, "take")


def check_tolerance(tolerance_ms: float) -> float:
    try:
        tol = float(tolerance_ms)
    except (TypeError, ValueError):
        tol = float("nan")
    if not (math.isfinite(tol) and tol > 0):
        raise ParameterError(f"tolerance must be a positive number of milliseconds, got {tolerance_ms!r}")
    return tol


def score_take(
    reference: Performance,
    take: Performance,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    params: AlignParams | None = None,
    beats: Beats | None = None,
    smooth_s: float | None = None,
    tempo_ratio: float | None = None,
) -> Score:
    """Score a take's timing and pitch against its reference.

    Parameters
    ----------
    reference : Reference
        Its beats (or ``beats``) number the beats and bars.
    take : Reference
        The take's frames, made with the reference's configuration and pitch backend
        (:func:`load_take`, :func:`matcher.resolve.resolve` with ``like=reference``).
    tolerance_ms : float > 0 [ms]
    params : AlignParams, optional
        Alignment options (open begin / end for a take of part of the piece).
    beats : Beats, optional
    smooth_s : float > 0 [s], optional
        Smoothing of the tempo curve (as :func:`matcher.compare.compare`).
    tempo_ratio : float > 0, optional
        Measure ``error_ms`` against the reference at this tempo (take / reference: 0.8 for
        a take practised at 80 %, or another take's ``tempo_ratio`` to compare two takes on
        one yardstick) instead of the take's own overall tempo.

    Raises
    ------
    ParameterError
        On a bad tolerance or options, or when the take was made with another
        configuration or pitch backend than the reference.
    """
    tol = check_tolerance(tolerance_ms)
    if tempo_ratio is not None and not (math.isfinite(tempo_ratio) and tempo_ratio > 0):
        raise ParameterError(f"tempo ratio must be a positive number (take / reference), got {tempo_ratio!r}")
    why = reference.config.incompatibility(take.config)
    if why is not None:
        raise ParameterError(
            f"cannot score {take.name!r} against {reference.name!r}: {why}; "
            "a take must be processed with its reference's configuration and pitch backend"
        )
    params = params or AlignParams()
    beats = beats if beats is not None else reference.beats
    comp = compare(reference, take, params, smooth_s, beats)
    al, fs, cfg = comp.alignment, reference.config.frame_seconds, reference.config
    ref_t = np.array([b.a_t for b in comp.beats])
    take_t = np.array([b.b_t for b in comp.beats])

    slope, offset = steady_fit(ref_t, take_t, None if tempo_ratio is None else 1.0 / tempo_ratio)
    if not (math.isfinite(slope) and slope > 0):  # < 2 beats, or a degenerate path
        slope = 1.0 / comp.tempo_ratio if comp.tempo_ratio > 0 else 1.0
        offset = float(np.median(take_t - slope * ref_t)) if len(ref_t) else 0.0
    error = deviation_ms(ref_t, take_t, slope, offset)
    steady = local_steadiness(ref_t, take_t, ref_t, take_t)
    a_lo, a_hi = float(al.a_t[0]), float(al.a_t[-1])
    cents = path_cents(al, reference, take)  # per path cell, NaN unless both voiced
    path_a_t = al.a_frames * fs
    beat_cents, _ = span_cents(cents, path_a_t, ref_t, np.append(ref_t[1:], a_hi)[: len(ref_t)], MIN_PITCH_FRAMES)
    beat_rows = tuple(
        BeatScore(b.beat, b.bar, b.a_t, b.b_t, float(e), float(s), float(c))
        for b, e, s, c in zip(comp.beats, error, steady, beat_cents, strict=True)
    )

    # Onsets of the reference inside the aligned range, and pitch per onset-to-onset note.
    threshold = params.onset_anchors if params.onset_anchors is not None else 1.0
    on_ref = onset_peaks(reference.frames, cfg.gate_db, threshold) * fs
    on_ref = on_ref[(on_ref >= a_lo) & (on_ref <= a_hi)]
    on_take = np.asarray(al.b_at(on_ref), np.float64) if len(on_ref) else np.zeros(0)
    on_error = deviation_ms(on_ref, on_take, slope, offset)
    on_steady = local_steadiness(on_ref, on_take, ref_t, take_t)
    on_ends = np.append(on_ref[1:], a_hi)[: len(on_ref)]
    on_cents, on_frames = span_cents(cents, path_a_t, on_ref, on_ends, MIN_PITCH_FRAMES)
    ref_midi = np.where(np.isfinite(cents), reference.frames.midi[al.a_frames].astype(np.float64), np.nan)
    on_midi, _ = span_cents(ref_midi, path_a_t, on_ref, on_ends, MIN_PITCH_FRAMES)
    has_beats = len(beats) > 0
    on_beat = np.asarray(beats.beat_at(on_ref), float) if has_beats else np.full(len(on_ref), np.nan)
    on_bar = np.asarray(beats.bar_at(on_ref), float) if has_beats else np.full(len(on_ref), np.nan)
    onset_rows = tuple(
        OnsetScore(float(r), float(t), float(bn), float(bb), float(e), float(s), float(c))
        for r, t, bn, bb, e, s, c in zip(on_ref, on_take, on_beat, on_bar, on_error, on_steady, on_cents, strict=True)
    )

    bar_rows = _bars(beat_rows, tol, cents, path_a_t, a_hi)
    summary = _summary(beat_rows, onset_rows, bar_rows, tol, slope, comp)
    judged = [k for k in range(len(on_ref)) if on_frames[k] >= MIN_NOTE_FRAMES and math.isfinite(on_cents[k])]
    notes = [
        {
            "ref_t": round(float(on_ref[k]), 3),
            "take_t": round(float(on_take[k]), 3),
            "bar": None if not math.isfinite(on_bar[k]) else int(np.floor(on_bar[k])),
            "beat": rounded(float(on_beat[k]), 2),
            "note": note_name(on_midi[k]),
            "cents": round(on_cents[k], 1),
        }
        for k in sorted(
            (k for k in judged if abs(on_cents[k]) <= OUT_OF_TUNE_MAX_CENTS),
            key=lambda k: -abs(on_cents[k]),
        )[:MAX_WORST]
    ]
    if summary["pitch"] is not None:
        summary["pitch"]["notes"] = len(judged)
        summary["pitch"]["other_notes"] = int(sum(abs(on_cents[k]) > OUT_OF_TUNE_MAX_CENTS for k in judged))
        summary["pitch"]["out_of_tune"] = notes
    return Score(
        ref_name=reference.name,
        take_name=take.name,
        tolerance_ms=tol,
        slope=float(slope),
        offset=float(offset),
        beats=beat_rows,
        onsets=onset_rows,
        bars=bar_rows,
        summary=summary,
        comparison=comp,
        meta={
            **comp.meta,
            "open_begin": params.open_begin,
            "open_end": params.open_end,
            "tempo": "measured" if tempo_ratio is None else "given",
        },
    )


def _bars(
    beats: tuple[BeatScore, ...], tol: float, cents: np.ndarray, path_a_t: np.ndarray, a_hi: float
) -> tuple[BarScore, ...]:
    rows = []
    k = 0
    while k < len(beats):
        stop = k
        while stop < len(beats) and beats[stop].bar == beats[k].bar:
            stop += 1
        group = beats[k:stop]
        end = beats[stop].ref_t if stop < len(beats) else a_hi
        bar_cents, _ = span_cents(cents, path_a_t, np.array([group[0].ref_t]), np.array([end]), MIN_PITCH_FRAMES)
        e = np.array([b.error_ms for b in group])
        s = np.array([b.steadiness_ms for b in group])
        s = s[np.isfinite(s)]
        rows.append(
            BarScore(
                bar=group[0].bar,
                ref_t=group[0].ref_t,
                take_t=group[0].take_t,
                beats=len(group),
                mean_error_ms=float(np.mean(e)),
                mean_abs_error_ms=float(np.mean(np.abs(e))),
                within=float(np.mean(np.abs(e) <= tol)),
                max_abs_steadiness_ms=float(np.max(np.abs(s))) if len(s) else float("nan"),
                cents=float(bar_cents[0]),
            )
        )
        k = stop
    return tuple(rows)


def _passages(bars: tuple[BarScore, ...], beats: tuple[BeatScore, ...], tol: float) -> list[dict[str, Any]]:
    """Runs of consecutive bars early (or late) on average by at least ``PASSAGE_SHARE * tol``,
    the :data:`MAX_PASSAGES` with the largest summed error."""
    runs: list[list[int]] = []
    for i, b in enumerate(bars):
        sign = int(np.sign(b.mean_error_ms)) if abs(b.mean_error_ms) >= PASSAGE_SHARE * tol else 0
        if sign == 0:
            continue
        prev = runs[-1] if runs else None
        if (
            prev is not None
            and prev[-1] == i - 1
            and bars[i - 1].bar + 1 >= b.bar
            and int(np.sign(bars[prev[-1]].mean_error_ms)) == sign
        ):
            prev.append(i)
        else:
            runs.append([i])
    out = []
    for run in runs:
        first, last = bars[run[0]].bar, bars[run[-1]].bar
        e = np.array([x.error_ms for x in beats if first <= x.bar <= last])
        out.append(
            {
                "bars": str(first) if first == last else f"{first}–{last}",
                "first_bar": first,
                "last_bar": last,
                "mean_error_ms": round(float(np.mean(e)), 1),
                "_weight": float(abs(np.sum(e))),
            }
        )
    out.sort(key=lambda p: -p["_weight"])
    out = sorted(out[:MAX_PASSAGES], key=lambda p: p["first_bar"])
    for p in out:
        del p["_weight"]
    return out


def _summary(
    beats: tuple[BeatScore, ...],
    onsets: tuple[OnsetScore, ...],
    bars: tuple[BarScore, ...],
    tol: float,
    slope: float,
    comp: Comparison,
) -> dict[str, Any]:
    e = np.array([b.error_ms for b in beats])
    s = np.array([b.steadiness_ms for b in beats])
    ref_t = np.array([b.ref_t for b in beats])
    take_t = np.array([b.take_t for b in beats])
    numbers = np.array([b.beat for b in beats])
    n = len(beats)
    change = tempo_trend(take_t, e) if n else float("nan")
    label = None
    if math.isfinite(change):
        label = "steady" if abs(change) < TREND_MIN_PCT else ("rushing" if change > 0 else "dragging")
    spread = take_cv = ref_cv = float("nan")
    if n >= 3:
        d_ref, d_take, d_num = np.diff(ref_t), np.diff(take_t), np.diff(numbers)
        ok = (d_ref > 0) & (d_num > 0)
        if ok.sum() >= 2:
            rel = d_take[ok] / (d_ref[ok] * slope)  # 1: the interval the steady rendering expects
            spread = float(np.std(rel) * 100.0)
            per_take, per_ref = d_take[ok] / d_num[ok], d_ref[ok] / d_num[ok]
            take_cv = float(np.std(per_take) / np.mean(per_take) * 100.0)
            ref_cv = float(np.std(per_ref) / np.mean(per_ref) * 100.0)
    worst = sorted(bars, key=lambda b: -b.mean_abs_error_ms)[:MAX_WORST]
    on_e = np.array([o.error_ms for o in onsets])
    measured = any(math.isfinite(b.cents) for b in beats) or any(math.isfinite(o.cents) for o in onsets)
    pitch = None if comp.pitch is None or not measured else {**comp.pitch, "out_of_tune": []}
    s_ok = s[np.isfinite(s)]
    return {
        "beats": n,
        "tolerance_ms": tol,
        "within_tolerance": rounded(float(np.mean(np.abs(e) <= tol)), 4) if n else None,
        "mean_abs_error_ms": rounded(float(np.mean(np.abs(e))), 1) if n else None,
        "median_abs_error_ms": rounded(float(np.median(np.abs(e))), 1) if n else None,
        "tempo_ratio": rounded(1.0 / slope, 5) if slope > 0 else None,
        "trend": {"tempo_change_pct": rounded(change, 2), "label": label},
        "steadiness": {
            "ibi_spread_pct": rounded(spread, 2),
            "take_ibi_cv_pct": rounded(take_cv, 2),
            "ref_ibi_cv_pct": rounded(ref_cv, 2),
            "median_abs_steadiness_ms": rounded(float(np.median(np.abs(s_ok))), 1) if len(s_ok) else None,
        },
        "worst_bars": [
            {
                "bar": b.bar,
                "mean_error_ms": round(b.mean_error_ms, 1),
                "mean_abs_error_ms": round(b.mean_abs_error_ms, 1),
                "within": round(b.within, 4),
            }
            for b in worst
        ],
        "passages": _passages(bars, beats, tol),
        "onsets": {
            "n": len(onsets),
            "within_tolerance": rounded(float(np.mean(np.abs(on_e) <= tol)), 4) if len(on_e) else None,
            "mean_abs_error_ms": rounded(float(np.mean(np.abs(on_e))), 1) if len(on_e) else None,
        },
        "pitch": pitch,
    }


def followed_span(track: Track, reference: Performance, params: AlignParams | None = None) -> AlignParams:
    """Alignment options for a take the follower followed: an open begin when it started
    more than :data:`OPEN_MARGIN_S` into the reference's audible span, an open end when it
    stopped that far before the span's end (a take of part of the piece)."""
    params = params or AlignParams()
    following = ~np.asarray(track.lost, bool)
    if len(track) == 0 or not following.any():
        return params
    cfg = reference.config
    audible = np.flatnonzero(reference.frames.db >= cfg.gate_db) * cfg.frame_seconds
    if len(audible) == 0:
        return params
    r = np.asarray(track.ref_t, np.float64)[following]
    return params.replace(
        open_begin=bool(r[0] > audible[0] + OPEN_MARGIN_S),
        open_end=bool(r[-1] < audible[-1] - OPEN_MARGIN_S),
    )


__all__ = ["check_tolerance", "followed_span", "load_take", "score_take", "take_pitch_model"]
