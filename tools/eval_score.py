"""Validation of the practice scorer: known edits of a take are found as the change of its score.

Every case is a reference and a take that is a *different performance* of the same music
(its own tempo, rubato, timbre). The take is scored as it is, then edited by known amounts
(tools/edit_audio.py, which knows nothing of the scorer) and scored again; the edit must
show as the difference of the two scores:

* ``gap+30`` ... ``gap-100`` — silence inserted (+) or audio cut (-) 10 ms before an
  annotated take beat K: ``error_ms`` of every later beat steps by the gap relative to
  the earlier beats (measured: median change after K minus median change before K, with
  the tempo held at the unedited take's, ``score_take(tempo_ratio=...)``), and
  ``steadiness_ms`` changes by the gap at K only. Recovery error: |step - gap|; also the
  spread of the later beats' changes around the step, the step with the overall tempo
  re-measured (as ``matcher score`` does: the longer take has a slower overall tempo, which
  tilts the errors by up to the gap over the take), the change of ``steadiness_ms`` at K
  against the gap, and the largest change elsewhere.
* ``stretch`` — two bars from beat K lengthened by 20 % (phase vocoder); ``rush`` — from
  beat K (40 % into the take) the tempo rises linearly to +15 % at the last beat. Every later
  beat moves by a known amount d; the change of ``error_ms`` a perfect measurement gives
  is the scorer's own definition applied to (unedited take times + d). Recovery error:
  median over the beats from K on of |measured change - that change|. For ``rush`` also
  the change of the trend (tempo change over the take) against the one from d.
* ``delay`` (a control) — the whole take delayed by 37 ms: nothing about the performance
  changes, so what changes in the score is the measurement's own noise (frame grid
  16 ms): the spread of the change of ``error_ms`` and the change of ``steadiness_ms``.
* ``pitch+50`` / ``pitch-30`` — two bars from beat K shifted by +50 / -30 cents. Recovery
  error: |median change of ``cents`` over the beats inside - shift|, where it shows: at
  least half of those beats voiced in both takes (n/a otherwise, e.g. percussion).

Then the same-performance check: a take that is the reference's own performance in
another timbre plus noise (synthetic: matcher.synth with the same notes and tempo map,
timbre 1, 30 dB SNR; real data, where a render in another timbre is impossible: the
reference audio low-passed at 2 kHz plus noise at 25 dB SNR) must score >= 95 % of beats
within 50 ms on ``error_ms``.

The table of unedited takes also shows how well the take times of the annotated beats are
found: by the scorer (offline alignment) and by the live follower (the take time at which
its reported position reaches the beat), the figures behind scoring a live take offline
when it ends.

Sets: ``synth-melodic`` / ``synth-percussion`` (made here: a steady reference and a take
with ±15 % rubato, another timbre and 30 dB noise), ``piano`` / ``percussion`` (the pairs
of ../shared/data, skipped when absent). All audio goes through the model rate (16 kHz)
before editing, and the unedited take is scored from the same 16 kHz file.

    .venv/bin/python tools/eval_score.py [--sets ...] [--pitch yin|spice] [--per-edit] [--json OUT]

About 3 min for all sets with YIN (12 takes, 11 scorings each, one process).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "baselines"))
import edit_audio as ea  # noqa: E402  (tools/ is not a package)
import pairs as shared_pairs  # noqa: E402

from matcher import Beats, Config, Reference, build_reference  # noqa: E402
from matcher.audio import read_audio  # noqa: E402
from matcher.features.pitch import load_pitch_model  # noqa: E402
from matcher.scoring import Score, load_take, score_take, steady_fit, tempo_trend  # noqa: E402
from matcher.synth import Note, TempoMap, melody, percussion, render  # noqa: E402

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


@dataclass(frozen=True)
class Case:
    set_name: str
    name: str
    ref_audio: Path
    take_audio: Path
    ref_beats: Beats  # numbered like the take's annotation
    take_beats: dict[float, float]  # beat number -> take time [s] (truth)
    take_onsets: np.ndarray  # take onset times [s] (to keep cuts clear of notes)
    bar_beats: int  # beats per bar (edit lengths)
    pitched: bool


# -- cases ----------------------------------------------------------------------------------


def _write(path: Path, y: np.ndarray, sr: int) -> Path:
    sf.write(path, y, sr, subtype="FLOAT")
    return path


def synth_cases(sets: list[str], folder: Path) -> list[Case]:
    sr = Config().sr
    out = []
    for kind in ("melodic", "percussion"):
        if f"synth-{kind}" not in sets:
            continue
        for piece in range(2):
            notes = melody(16, 4, seed=piece + 10) if kind == "melodic" else percussion(5, seed=piece + 10)
            n_beats = float(np.floor(max(n.beat + n.length for n in notes)))
            ref_map = TempoMap((0.0, n_beats), (100.0, 100.0))
            rng = np.random.default_rng(piece + 20)
            knots = tuple(np.arange(0.0, n_beats + 4, 4.0))
            take_map = TempoMap(knots, tuple(100 * (1 + 0.15 * rng.uniform(-1, 1, len(knots)))))
            ref = _write(folder / f"{kind}{piece}_ref.wav", render(notes, ref_map, sr, timbre=0), sr)
            take = _write(
                folder / f"{kind}{piece}_take.wav", render(notes, take_map, sr, timbre=1, noise_db=30.0, seed=piece), sr
            )
            numbers = np.arange(0.0, n_beats + 1)
            bpb = 4 if kind == "melodic" else 12
            beats = Beats.from_numbers(ref_map.seconds(numbers), numbers, bpb, "synth")
            onsets = take_map.seconds(np.array(sorted({n.beat for n in notes})))
            out.append(
                Case(
                    f"synth-{kind}", f"{kind}{piece}", ref, take, beats,
                    dict(zip(numbers.tolist(), take_map.seconds(numbers).tolist(), strict=True)),
                    onsets, 4, kind == "melodic",
                )
            )  # fmt: skip
    return out


def _read_csv(path: Path) -> dict[float, float]:
    return shared_pairs.read_beats(path) if path.exists() else {}


def shared_cases(sets: list[str]) -> list[Case]:
    out = []
    for p in shared_pairs.all_pairs():
        if p.set_name not in sets or not (p.ref_audio.exists() and p.take_audio.exists()):
            continue
        ref = shared_pairs.read_beats(p.ref_beats)
        take = shared_pairs.read_beats(p.take_beats)
        common = sorted(set(ref) & set(take))
        bpb = 2 if p.set_name == "piano" else 4  # Chopin op. 10/3 is in 2/4
        beats = Beats.from_numbers(np.array([ref[b] for b in common]), np.array(common), bpb, str(p.ref_beats))
        onset_file = Path(str(p.take_beats).replace("_beats.csv", "_onsets.csv"))
        onsets = _read_onsets(onset_file)
        if not len(onsets):
            onsets = np.array(sorted(take.values()))
        out.append(
            Case(
                p.set_name, p.name, p.ref_audio, p.take_audio, beats, {b: take[b] for b in common}, onsets, bpb,
                p.set_name == "piano",
            )
        )  # fmt: skip
    return out


def _read_onsets(path: Path) -> np.ndarray:
    import csv

    if not path.exists():
        return np.zeros(0)
    with open(path, newline="") as fh:
        return np.array(sorted(float(r["perf_time_sec"]) for r in csv.DictReader(fh)))


# -- one case -----------------------------------------------------------------------------------


def _score(ref: Reference, path: Path) -> Score:
    return score_take(ref, load_take(path, ref))


def _rows(s: Score) -> dict[float, Any]:
    return {b.beat: b for b in s.beats}


def _follower_errors(ref: Reference, path: Path, truth: dict[float, float]) -> np.ndarray:
    """|take time - truth| [ms] of each annotated beat as the live follower places it: the
    take time ``t`` at which its reported ``ref_t`` (made non-decreasing) reaches the beat."""
    from matcher.audio import file_blocks
    from matcher.follow import follow_blocks

    track = follow_blocks(ref, (b for b, _ in file_blocks(path, ref.config.sr)))
    ref_t = np.maximum.accumulate(track.ref_t)
    beats = {float(n): float(t) for n, t in zip(ref.beats.numbers, ref.beats.times, strict=True)}
    nums = [b for b in truth if b in beats]
    found = np.interp([beats[b] for b in nums], ref_t, track.t)
    return np.abs(found - np.array([truth[b] for b in nums])) * 1000.0


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
    sr = config.sr
    ref = build_reference(case.ref_audio, config, model, "ref")
    ref = Reference(ref.name, ref.frames, case.ref_beats, ref.config, ref.meta)
    y = read_audio(case.take_audio, sr)
    base_path = _write(folder / "take.wav", y, sr)
    base = _score(ref, base_path)
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
        return _score(ref, _write(folder / f"{name}.wav", edit.audio, sr))

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


# -- the same performance in another timbre ------------------------------------------------------


def same_performance(sets: list[str], config: Config, model: Any, folder: Path) -> list[dict[str, Any]]:
    sr = config.sr
    out = []
    for kind in ("melodic", "percussion"):
        if f"synth-{kind}" not in sets:
            continue
        for piece in range(2):
            notes: list[Note] = melody(16, 4, seed=piece + 10) if kind == "melodic" else percussion(5, seed=piece + 10)
            n_beats = float(np.floor(max(n.beat + n.length for n in notes)))
            rng = np.random.default_rng(piece + 30)
            knots = tuple(np.arange(0.0, n_beats + 4, 4.0))
            perf = TempoMap(knots, tuple(100 * (1 + 0.15 * rng.uniform(-1, 1, len(knots)))))
            numbers = np.arange(0.0, n_beats + 1)
            beats = Beats.from_numbers(perf.seconds(numbers), numbers, 4, "synth")
            ref_path = _write(folder / "same_ref.wav", render(notes, perf, sr, timbre=0), sr)
            take_path = _write(
                folder / "same_take.wav", render(notes, perf, sr, timbre=1, noise_db=30.0, seed=piece + 3), sr
            )
            out.append(_same(f"synth-{kind}", f"{kind}{piece}", ref_path, take_path, beats, config, model))
    for p in shared_pairs.all_pairs():
        if p.set_name not in sets or not p.ref_audio.exists():
            continue
        if p.set_name == "piano" and p.name.split("->")[0] in {r["case"] for r in out}:
            continue  # p05 is the reference of two pairs
        from scipy.signal import butter, sosfilt

        y = read_audio(p.ref_audio, sr)
        dark = sosfilt(butter(2, 2000.0, "low", fs=sr, output="sos"), y)
        power = np.mean(dark[np.abs(dark) > 1e-4] ** 2)
        noisy = dark + np.random.default_rng(7).normal(0, np.sqrt(power / 10**2.5), len(dark))
        take_path = _write(folder / "same_take.wav", (noisy / np.max(np.abs(noisy)) * 0.7).astype(np.float32), sr)
        ref_beats = shared_pairs.read_beats(p.ref_beats)
        numbers = np.array(sorted(ref_beats))
        beats = Beats.from_numbers(np.array([ref_beats[b] for b in numbers]), numbers, 4, "annotated")
        name = p.name.split("->")[0] if p.set_name == "piano" else p.name
        out.append(_same(p.set_name, name, p.ref_audio, take_path, beats, config, model))
    return out


def _same(set_name: str, name: str, ref_path: Path, take_path: Path, beats: Beats, config: Config, model: Any) -> dict:
    ref = build_reference(ref_path, config, model, "ref")
    ref = Reference(ref.name, ref.frames, beats, ref.config, ref.meta)
    s = _score(ref, take_path)
    e = np.abs([b.error_ms for b in s.beats])
    return {
        "set": set_name,
        "case": name,
        "beats": len(e),
        "within_50": float(np.mean(e <= 50)),
        "median_abs_ms": float(np.median(e)),
        "tempo_ratio": s.tempo_ratio,
    }


# -- report ----------------------------------------------------------------------------------------


def table(results: list[dict[str, Any]], same: list[dict[str, Any]], per_edit: bool) -> str:
    lines = []
    edits = [dict(e, set=r["set"], case=r["case"]) for r in results for e in r["edits"]]
    lines.append("unedited takes (a different performance from the reference)")
    lines.append(
        f"  {'set':<18}{'case':<10}{'beats':>6}{'take_t ≤50 ms':>15}{'median':>8}"
        f"{'follower ≤50':>14}{'median':>8}{'error_ms ≤50':>14}"
    )
    for r in results:
        lines.append(
            f"  {r['set']:<18}{r['case']:<10}{r['beats']:>6}{100 * r['take_t_within_50']:>14.0f}%"
            f"{r['take_t_median_ms']:>8.1f}{100 * r['follower_within_50']:>13.0f}%{r['follower_median_ms']:>8.1f}"
            f"{100 * r['base_within_50']:>13.0f}%"
        )
    lines.append(
        "  (take_t: the scorer's take time of each annotated beat against the annotation; follower: the same from"
        " the live follower's Track; error_ms: the take's own timing against the reference scaled to its tempo)"
    )
    lines.append("\nedits recovered (median over edits; per-edit error in brackets: p90, max)")
    lines.append(f"  {'edit':<12}{'set':<18}{'n':>4}{'median':>9}{'p90':>8}{'max':>8}   unit")
    kinds = ["gap", "stretch", "rush", "pitch"]
    sets = [*dict.fromkeys(e["set"] for e in edits), "all"]
    for kind in kinds:
        for s in sets:
            sel = [e for e in edits if e["kind"] == kind and (s == "all" or e["set"] == s)]
            vals = np.array([e["recovery_cents" if kind == "pitch" else "recovery_ms"] for e in sel], dtype=float)
            vals = vals[np.isfinite(vals)]
            if not len(vals):
                if sel:
                    lines.append(f"  {kind:<12}{s:<18}{0:>4}{'n/a':>9}   (too few voiced beats: does not show)")
                continue
            unit = "cents" if kind == "pitch" else "ms"
            lines.append(
                f"  {kind:<12}{s:<18}{len(vals):>4}{np.median(vals):>9.1f}{np.percentile(vals, 90):>8.1f}"
                f"{vals.max():>8.1f}   {unit}"
            )
    timing = np.array([e["recovery_ms"] for e in edits if e["kind"] != "pitch"], dtype=float)
    pitch = np.array([e["recovery_cents"] for e in edits if e["kind"] == "pitch" and e["recovery_cents"] is not None])
    lines.append(
        f"  all timing edits: n={len(timing)}, median {np.median(timing):.1f} ms"
        + (f"; pitch edits: n={len(pitch)}, median {np.median(pitch):.1f} cents" if len(pitch) else "")
    )
    gaps = [e for e in edits if e["kind"] == "gap"]
    if gaps:
        st = np.array([e["steadiness_recovery_ms"] for e in gaps])
        el = np.array([e["steadiness_elsewhere_max_ms"] for e in gaps if e["steadiness_elsewhere_max_ms"] is not None])
        p90 = np.array([e["steadiness_elsewhere_p90_ms"] for e in gaps if e["steadiness_elsewhere_p90_ms"] is not None])
        sh = np.abs([e["shift_before_ms"] for e in gaps])
        lp = np.array([e["later_p90_ms"] for e in gaps])
        rf = np.array([e["recovery_refit_ms"] for e in gaps])
        lines.append(
            f"  gaps, tempo held: every later beat within p90 {np.median(lp):.1f} ms of the step (median over gaps); "
            f"earlier beats moved by median {np.median(sh):.1f} ms (the median offset)"
        )
        lines.append(
            f"  gaps, tempo re-measured (as scored): |step - gap| median {np.median(rf):.1f} ms, "
            f"p90 {np.percentile(rf, 90):.1f} ms"
        )
        lines.append(
            f"  gaps: steadiness_ms at the beat off the gap by median {np.median(st):.1f} ms (max {st.max():.1f}); "
            f"at other beats |change| p90 {np.median(p90):.1f} ms, max {np.median(el):.1f} ms (medians over gaps)"
        )
    controls = [r["control"] for r in results if "control" in r]
    if controls:
        lines.append(
            "  control (whole take delayed 37 ms; medians over takes): error_ms change spread p90 "
            f"{np.median([c['error_spread_p90_ms'] for c in controls]):.1f} ms; steadiness_ms change p90 "
            f"{np.median([c['steadiness_p90_ms'] for c in controls]):.1f} ms, max "
            f"{np.median([c['steadiness_max_ms'] for c in controls]):.1f} ms"
        )
    rush = [e for e in edits if e["kind"] == "rush"]
    if rush:
        d = np.array([e["trend_change_pct"] - e["trend_expected_pct"] for e in rush])
        found = ", ".join(f"{e['trend_change_pct']:+.1f}" for e in rush)
        expected = ", ".join(f"{e['trend_expected_pct']:+.1f}" for e in rush)
        lines.append(
            f"  rush (tempo +15 % from 40 % of the take to its end): trend change found vs expected from the "
            f"true displacements: median |diff| {np.median(np.abs(d)):.2f} % (found {found}; expected {expected})"
        )
    if per_edit:
        lines.append("\nper edit")
        for e in edits:
            extra = {k: v for k, v in e.items() if k not in ("set", "case", "kind", "name")}
            lines.append(f"  {e['set']:<18}{e['case']:<10}{e['name']:<10}{json.dumps(extra)}")
    if same:
        lines.append("\nsame performance, another timbre + noise (error_ms)")
        lines.append(f"  {'set':<18}{'case':<10}{'beats':>6}{'≤50 ms':>9}{'median':>8}{'tempo':>8}")
        for r in same:
            lines.append(
                f"  {r['set']:<18}{r['case']:<10}{r['beats']:>6}{100 * r['within_50']:>8.1f}%"
                f"{r['median_abs_ms']:>8.1f}{r['tempo_ratio']:>8.3f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    all_sets = ["synth-melodic", "synth-percussion", "piano", "percussion"]
    ap.add_argument("--sets", nargs="+", choices=all_sets, default=all_sets)
    ap.add_argument("--pitch", choices=["yin", "spice"], default="yin", help="pitch backend of the references")
    ap.add_argument("--no-same", action="store_true", help="skip the same-performance check")
    ap.add_argument("--per-edit", action="store_true", help="print every edit's figures")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args(argv)

    config = Config(pitch_backend=args.pitch)
    model = load_pitch_model(config)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-score-") as tmp:
        folder = Path(tmp)
        cases = synth_cases(args.sets, folder) + shared_cases(args.sets)
        if not cases:
            print("no evaluation cases (../shared/data absent and no synthetic set chosen)", file=sys.stderr)
            return 2
        results = []
        for case in cases:
            c0 = time.perf_counter()
            results.append(run_case(case, config, model, folder))
            print(f"  {case.set_name:<18}{case.name:<10}{time.perf_counter() - c0:6.1f} s", file=sys.stderr, flush=True)
        same = [] if args.no_same else same_performance(args.sets, config, model, folder)
    print(table(results, same, args.per_edit))
    wall = time.perf_counter() - t0
    print(f"\npitch backend {args.pitch}; wall time {wall:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"cases": results, "same": same, "wall_seconds": wall}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
