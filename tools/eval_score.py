"""Validation of the practice scorer: known edits of a take are found as the change of its score.

Every case is a reference and a take that is a *different performance* of the same music
(its own tempo, rubato, timbre). The take is scored as it is, then edited by known amounts
(matcher.evaluation.edits, which knows nothing of the scorer) and scored again; the edit must
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
from pathlib import Path
from typing import Any

import numpy as np

from matcher import Config
from matcher.evaluation.score_cases import same_performance, shared_cases, synth_cases
from matcher.evaluation.score_edits import run_case
from matcher.features.pitch import load_pitch_model


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
