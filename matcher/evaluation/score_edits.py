"""Validation of the practice scorer by known edits of a take (the method is stated in
tools/eval_score.py): every edit of :mod:`matcher.evaluation.edits` must show as the change
of the take's score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Config, Reference, build_reference, read_audio
from ..audio import file_blocks
from ..follow import follow_blocks
from ..scoring import Score, steady_fit, tempo_trend
from . import edits as ea
from .metrics import beat_errors
from .score_cases import Case, _write, score

#: Edit points lie this long [s] before the annotated take beat (in the previous note's tail).
LEAD_S = 0.010
GAPS_MS = (30, -30, 60, -60, 100, -100)
#: The control: the whole take delayed by this much [s].
DELAY_S = 0.037
STRETCH = 1.2
RUSH = 0.15
PITCH_CENTS = (50.0, -30.0)
#: No onset of the take may lie inside a cut or this close [s] before it.
CUT_CLEAR_S = 0.04
#: Places of the edits, as shares of the annotated beats.
GAP_PLACES = (0.25, 0.35, 0.45, 0.55, 0.65, 0.75)


def _rows(s: Score) -> dict[float, Any]:
    return {b.beat: b for b in s.beats}


def _follower_errors(ref: Reference, path: Path, truth: dict[float, float]) -> np.ndarray:
    """|take time - truth| [ms] of each annotated beat as the live follower places it: the
    take time ``t`` at which its reported ``ref_t`` (made non-decreasing) reaches the beat
    (the beat metric with the axes swapped)."""
    track = follow_blocks(ref, (b for b, _ in file_blocks(path, ref.config.sr)))
    beats = {float(n): float(t) for n, t in zip(ref.beats.numbers, ref.beats.times, strict=True)}
    nums = [b for b in truth if b in beats]
    ref_beats, take_truth = np.array([beats[b] for b in nums]), np.array([truth[b] for b in nums])
    return beat_errors(ref_beats, take_truth, np.maximum.accumulate(track.ref_t), track.t)


def _pick_beat(case: Case, share: float, need_before: float, used: set[float]) -> float | None:
    """An annotated take beat near ``share`` of the way through whose previous ``need_before``
    seconds hold no take onset (and not used yet)."""
    numbers = sorted(case.take_beats)
    order = sorted(range(len(numbers)), key=lambda i: abs(i - share * (len(numbers) - 1)))
    for i in order:
        b = numbers[i]
        if i < 2 or i > len(numbers) - 3 or b in used:
            continue
        t = case.take_beats[b]
        on = case.take_onsets
        if np.any((on > t - LEAD_S - need_before) & (on < t - 0.02)):
            continue
        return b
    return None


def _delta(a: Score, b: Score, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Beat numbers present in both, and the change of ``field`` from a to b."""
    ra, rb = _rows(a), _rows(b)
    common = np.array(sorted(set(ra) & set(rb)))
    return common, np.array([getattr(rb[k], field) - getattr(ra[k], field) for k in common])


def _held_error_change(base: Score, edited: Score) -> tuple[np.ndarray, np.ndarray]:
    """Beat numbers and the change of error_ms when the edited take is measured at the
    unedited take's tempo (the scorer's steady_fit with the slope given)."""
    rb, re_ = _rows(base), _rows(edited)
    nums = np.array(sorted(set(rb) & set(re_)))
    ref_t = np.array([rb[k].ref_t for k in nums])
    take_e = np.array([re_[k].take_t for k in nums])
    take_u = np.array([rb[k].take_t for k in nums])
    slope, offset = steady_fit(ref_t, take_e, base.slope)
    held = (take_e - (offset + slope * ref_t)) * 1000.0
    _, offset_u = steady_fit(ref_t, take_u, base.slope)
    return nums, held - (take_u - (offset_u + base.slope * ref_t)) * 1000.0


def _expected_error_change(base: Score, disp: dict[float, float]) -> tuple[np.ndarray, np.ndarray, float]:
    """Beat numbers, the change of error_ms a perfect measurement of displacements ``disp``
    [s] would give under the scorer's definition, and the change of the trend [%]."""
    beats = [b for b in base.beats if b.beat in disp]
    ref_t = np.array([b.ref_t for b in beats])
    take_u = np.array([b.take_t for b in beats])
    take_e = take_u + np.array([disp[b.beat] for b in beats])
    out = []
    for take in (take_u, take_e):
        slope, offset = steady_fit(ref_t, take)
        out.append((take - (offset + slope * ref_t)) * 1000.0)
    trend = tempo_trend(take_e, out[1]) - tempo_trend(take_u, out[0])
    return np.array([b.beat for b in beats]), out[1] - out[0], trend


def run_case(case: Case, config: Config, model: Any, folder: Path) -> dict[str, Any]:
    """Score the unedited take and every edit of it; the figures of each (see tools/eval_score.py)."""
    sr = config.sr
    ref = build_reference(case.ref_audio, config, model, "ref")
    ref = Reference(ref.name, ref.frames, case.ref_beats, ref.config, ref.meta)
    y = read_audio(case.take_audio, sr)
    base_path = _write(folder / "take.wav", y, sr)
    base = score(ref, base_path)
    rows = _rows(base)
    truth = {b: t for b, t in case.take_beats.items() if b in rows}
    align_err = np.array([abs(rows[b].take_t - t) * 1000 for b, t in truth.items()])
    live_err = _follower_errors(ref, base_path, truth)
    out: dict[str, Any] = {
        "set": case.set_name,
        "case": case.name,
        "beats": len(base.beats),
        "base_within_50": float(np.mean(np.abs([b.error_ms for b in base.beats]) <= 50)),
        "take_t_within_50": float(np.mean(align_err <= 50)),
        "take_t_median_ms": float(np.median(align_err)),
        "follower_within_50": float(np.mean(live_err <= 50)),
        "follower_median_ms": float(np.median(live_err)),
        "edits": [],
    }
    numbers = sorted(truth)
    used: set[float] = set()

    def scored(edit: ea.Edit, name: str) -> Score:
        return score(ref, _write(folder / f"{name}.wav", edit.audio, sr))

    # gaps and cuts
    for gap_ms, share in zip(GAPS_MS, GAP_PLACES, strict=True):
        g = gap_ms / 1000.0
        k = _pick_beat(case, share, CUT_CLEAR_S + max(0.0, -g), used)
        if k is None:
            continue
        used.add(k)
        at = truth[k] - LEAD_S
        edit = ea.insert_silence(y, sr, at, g) if g > 0 else ea.cut(y, sr, at, -g)
        s = scored(edit, f"gap{gap_ms}")
        _, ds = _delta(base, s, "steadiness_ms")
        # error_ms with the tempo held at the unedited take's (score_take(tempo_ratio=...)),
        # and as scored (the overall tempo re-measured on the longer / shorter take)
        nums, held = _held_error_change(base, s)
        _, de = _delta(base, s, "error_ms")
        before, after = held[nums < k], held[nums >= k]
        step = float(np.median(after) - np.median(before))
        step_refit = float(np.median(de[nums >= k]) - np.median(de[nums < k]))
        later = np.abs(after - np.median(before) - gap_ms)
        at_k = float(ds[nums == k][0])
        others = np.abs(ds[(nums != k) & np.isfinite(ds)])
        out["edits"].append(
            {
                "kind": "gap",
                "name": f"gap{gap_ms:+d}",
                "beat": k,
                "amount_ms": gap_ms,
                "step_ms": round(step, 1),
                "recovery_ms": round(abs(step - gap_ms), 1),
                "later_p90_ms": round(float(np.percentile(later, 90)), 1),
                "step_refit_ms": round(step_refit, 1),
                "recovery_refit_ms": round(abs(step_refit - gap_ms), 1),
                "shift_before_ms": round(float(np.median(before)), 1),
                "steadiness_at_k_ms": round(at_k, 1),
                "steadiness_recovery_ms": round(abs(at_k - gap_ms), 1),
                "steadiness_elsewhere_max_ms": round(float(others.max()), 1) if len(others) else None,
                "steadiness_elsewhere_p90_ms": round(float(np.percentile(others, 90)), 1) if len(others) else None,
            }
        )

    # a control: the whole take delayed (nothing about the performance changes)
    edit = ea.delay(y, sr, DELAY_S)
    s = scored(edit, "delay")
    _, de = _delta(base, s, "error_ms")
    _, ds = _delta(base, s, "steadiness_ms")
    ds = np.abs(ds[np.isfinite(ds)])
    out["control"] = {
        "error_spread_p90_ms": round(float(np.percentile(np.abs(de - np.median(de)), 90)), 1),
        "steadiness_p90_ms": round(float(np.percentile(ds, 90)), 1),
        "steadiness_max_ms": round(float(ds.max()), 1),
    }

    # a section stretched, and a gradual rush
    bar = case.bar_beats
    for kind, share in (("stretch", 0.3), ("rush", 0.4)):
        k = _pick_beat(case, share, 0.0, set())
        i = numbers.index(k) if k is not None else -1
        if k is None or i + 2 * bar >= len(numbers):
            continue
        k2 = numbers[i + 2 * bar] if kind == "stretch" else numbers[-1]
        t0, t1 = truth[k] - LEAD_S, truth[k2] - LEAD_S
        edit = ea.stretch(y, sr, t0, t1, STRETCH) if kind == "stretch" else ea.rush(y, sr, t0, t1, RUSH)
        s = scored(edit, kind)
        disp = {b: float(edit.new_time(t) - t) for b, t in truth.items()}
        nums_x, expected, trend_x = _expected_error_change(base, disp)
        nums, de = _delta(base, s, "error_ms")
        common = sorted(set(nums_x.tolist()) & set(nums.tolist()))
        sel = [b for b in common if b >= k]
        ex = dict(zip(nums_x.tolist(), expected.tolist(), strict=True))
        me = dict(zip(nums.tolist(), de.tolist(), strict=True))
        dev = np.array([me[b] - ex[b] for b in sel])
        take_dev = np.array([(_rows(s)[b].take_t - rows[b].take_t - disp[b]) * 1000 for b in sel])
        trend_m = s.summary["trend"]["tempo_change_pct"] - base.summary["trend"]["tempo_change_pct"]
        out["edits"].append(
            {
                "kind": kind,
                "name": kind,
                "beat": k,
                "max_shift_ms": round(max(abs(disp[b]) for b in sel) * 1000, 1),
                "recovery_ms": round(float(np.median(np.abs(dev))), 1),
                "p90_ms": round(float(np.percentile(np.abs(dev), 90)), 1),
                "take_t_recovery_ms": round(float(np.median(np.abs(take_dev))), 1),
                "trend_change_pct": round(trend_m, 2),
                "trend_expected_pct": round(trend_x, 2),
            }
        )

    # pitch
    for cents, share in zip(PITCH_CENTS, (0.4, 0.7), strict=True):
        k = _pick_beat(case, share, 0.0, set())
        i = numbers.index(k) if k is not None else -1
        if k is None or i + 2 * bar >= len(numbers):
            continue
        k2 = numbers[i + 2 * bar]
        edit = ea.pitch_shift(y, sr, truth[k] - LEAD_S, truth[k2] - LEAD_S, cents)
        s = scored(edit, f"pitch{cents:+.0f}")
        nums, dc = _delta(base, s, "cents")
        inside = (nums >= k) & (nums < numbers[i + 2 * bar - 1]) & np.isfinite(dc)
        outside = ((nums < k - 1) | (nums > k2)) & np.isfinite(dc)
        # it shows where at least half the passage's beats are voiced in both takes
        shows = inside.sum() >= max(1, (2 * bar - 1) // 2)
        found = float(np.median(dc[inside])) if shows else float("nan")
        out["edits"].append(
            {
                "kind": "pitch",
                "name": f"pitch{cents:+.0f}",
                "beat": k,
                "amount_cents": cents,
                "beats_voiced": int(inside.sum()),
                "found_cents": None if not np.isfinite(found) else round(found, 1),
                "recovery_cents": None if not np.isfinite(found) else round(abs(found - cents), 1),
                "outside_median_abs_cents": round(float(np.median(np.abs(dc[outside]))), 1) if outside.any() else None,
            }
        )
    return out
