"""Re-locking after jumps: the online follower on evaluation takes edited to jump, pause or lose audio.

Scenarios (each an edit of an evaluation take, with exact ground truth; T1 is the edit's take time):

* ``restart``  take[0:T1] + take[0:]             the player starts again from the beginning
* ``back``     take[0:T1] + take[T1-20 s:]       jumps 20 s of take back
* ``forward``  take[0:T1] + take[T1+20 s:]       jumps 20 s of take ahead
* ``drop``     take[0:T1] + take[T1+0.5 s:]      500 ms of audio lost
* ``silence``  take[0:T1] + 5 s of zeros + take[T1:]
* ``noise``    take[0:T1] + 5 s of room noise + take[T1:]   (pink, 30 dB below the take's RMS)

Splices are 5 ms equal-power crossfades centred on the splice, so every output sample
away from a splice is one take sample and the timeline stays exact. T1 is placed at
``--places`` points per take and kind, spread over [25 s, end of the annotated music -
6 s - what the edit skips]; a take too short for an edit is skipped (and listed).

Truth: the unedited take maps take time to reference time by linear interpolation of
corresponding annotated points, undefined outside the annotated span: piano, the
note-onset annotations (about four a beat; the 41 beats alone, 1.7 s apart, interpolate
up to 170 ms away from the onsets between them); percussion, the beats; synthetic, the
tempo maps on a quarter-beat grid. An edited take's time maps back to take time segment
by segment. Where the music repeats exactly, every equivalent reference position counts
as truth: in the synthetic percussion pieces, 12-beat cycles with the same strokes
(velocities, which matcher.synth draws per stroke, ignored; a cycle missing a dropped
stroke is unique); shared-data positions are unique. During a pause there is no truth:
the follower should hold where the pause began.

Metrics, per set and kind and pooled:

* re-lock time: from the point the music continues after the edit (the splice; for a
  pause, the end of the pause; for a restart, the first annotated point) to the first
  report within 200 ms of (any equivalent) truth such that every report over the next
  1 s is too; ``never`` when that does not happen before the take ends. Share re-locked
  within 2 s and the median. Reports count whatever their ``lost`` flag.
* pauses: max drift, the largest distance of a report during the pause from where the
  pause began (goal: within 200 ms).
* accuracy outside the jumps: the beat metric (matcher.evaluation.metrics.beat_errors) (a take beat at tB
  scored by the reports' ``ref_t`` interpolated at tB) on the annotated beats of the
  edited take, leaving out the beats within 2 s after each splice, next to the same
  beats of the unedited take followed by the same follower ("base").

Sets: ``piano`` / ``percussion`` (../shared/data, skipped when absent) and synthetic
``synth-melodic`` / ``synth-percussion`` pieces of about 65 s (eval_follow's synthetic
pairs last 24 s, too short for 20-s jumps), made with matcher.evaluation.synthetic
(the tempo warps of tools/eval_follow.py's synthetic pairs).

    .venv/bin/python tools/eval_jumps.py [--sets piano percussion synth-melodic synth-percussion]
        [--kinds restart back forward drop silence noise] [--quick | --places N] [--per-scenario] [--json OUT]

About 3-4.5 min for all sets (211 scenarios, 5 h of audio followed, one process); --quick 1.3 min.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from matcher.evaluation.data import DATA_ROOT
from matcher.evaluation.jump_runs import Outcome, run_piece, shared_pieces, synth_pieces, tables
from matcher.evaluation.jumps import (
    DROP_S,
    EXCLUDE_S,
    FADE_S,
    GOAL_S,
    HOLD_S,
    JUMP_S,
    KINDS,
    LEAD_S,
    PAUSE_S,
    ROOM_NOISE_DB,
    TAIL_S,
    TOL_S,
    placements,
)
from matcher.evaluation.params import add_json_option, add_param_option, follow_params
from matcher.evaluation.report import fmt_pct, fmt_s, jump_table

ALL_SETS = ("piano", "percussion", "synth-melodic", "synth-percussion")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(ALL_SETS), choices=ALL_SETS)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--quick", action="store_true", help="one edit per kind and take (same as --places 1)")
    parser.add_argument("--places", type=int, default=3, help="edits per kind and take (default 3)")
    parser.add_argument("--per-scenario", action="store_true", help="print every scenario's figures")
    add_json_option(parser)
    add_param_option(parser)
    args = parser.parse_args()
    places = 1 if args.quick else args.places

    params = follow_params(args.param)
    began = time.perf_counter()
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    followed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        pieces = shared_pieces(args.sets) + synth_pieces(args.sets, Path(tmp))
        if not pieces:
            print("no evaluation pairs (../shared/data absent and no synthetic set chosen)", file=sys.stderr)
            return 2
        missing = sorted({"piano", "percussion"} & set(args.sets) - {p.case.set_name for p in pieces})
        if missing:
            print(f"skipped sets without data in {DATA_ROOT}: {', '.join(missing)}")
        for piece in pieces:
            skipped += [f"{piece.case.name}: {k}" for k in args.kinds if not placements(k, piece.truth, places)]
            done, secs = run_piece(piece, args.kinds, places, params)
            outcomes += done
            followed += secs
            if args.per_scenario:
                for o in done:
                    d = o.to_dict()
                    drift = "" if d["pause_drift_ms"] is None else f"  drift {d['pause_drift_ms']:.0f} ms"
                    print(f"{o.set_name:<17}{o.piece:<22}{o.scenario.name:<20}relock {fmt_s(o.relock_s):>8}{drift}"
                          f"  ≤50 {d['within_50']:.0f}% (base {d['base_within_50']:.0f}%)")  # fmt: skip
    spent = time.perf_counter() - began

    figures = tables(outcomes, args.kinds)
    for set_name, rows in figures.items():
        n_pieces = len({o.piece for o in outcomes if set_name in ("pooled", o.set_name)})
        print(jump_table(f"{set_name} ({n_pieces} takes)", rows))
    print(
        f"\nre-lock: from the music after the edit to the first report within {TOL_S * 1000:.0f} ms of truth "
        f"for {HOLD_S:g} s; ≤2 s: share re-locked within {GOAL_S:g} s; loc: share of jumps whose first "
        f"{GOAL_S:g} s of music after the edit, matched offline against the whole reference by subsequence "
        f"DTW, end within {TOL_S * 1000:.0f} ms of truth (a bound on re-locking from content); ≤2 s|loc: "
        f"re-locked within {GOAL_S:g} s among those; drift: pauses, largest distance from "
        f"where the pause began (held: ≤{TOL_S * 1000:.0f} ms); edit/base: beats within N ms on the edited take "
        f"(leaving out {EXCLUDE_S:g} s after each splice) / the same beats of the unedited take"
    )
    failures = [o for o in outcomes if o.relock_s > GOAL_S]
    if failures:
        print(f"\nnot re-locked within {GOAL_S:g} s ({len(failures)} of {len(outcomes)}):")
        for (set_name, kind), group in _group(failures).items():
            print(f"  {set_name:<17}{kind:<9}" + ", ".join(f"{o.piece}@{o.scenario.at:g}: {fmt_s(o.relock_s)}"
                                                         for o in group))  # fmt: skip
    if skipped:
        print(f"\nskipped (take too short for the edit): {'; '.join(skipped)}")
    jumps, pooled = figures["pooled"]["jumps"], figures["pooled"]["all"]
    print(
        f"\ngoal: re-locked within {GOAL_S:g} s in ≥95 % of jumps: {jumps['relocked_within_goal_pct']:.1f} % "
        f"({jumps['scenarios']} jumps; {fmt_pct(jumps['locatable_pct'])} locatable from {GOAL_S:g} s of "
        f"content, of which {fmt_pct(jumps['relocked_when_locatable_pct'])} re-locked in time), "
        f"{pooled['relocked_within_goal_pct']:.1f} % with pauses; "
        f"beats ≤50 ms outside the jumps {pooled['within_50']:.1f} % vs {pooled['base_within_50']:.1f} % unedited"
    )
    print(f"{followed:.0f} s of audio followed; {spent:.0f} s in all (references, edits, following, one process)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": " ".join(["tools/eval_jumps.py", *sys.argv[1:]]),
                    "tables": figures,
                    "scenarios": [o.to_dict() for o in outcomes],
                    "skipped": skipped,
                    "truth": {p.case.name: p.truth_source for p in pieces},
                    "settings": {
                        "places": places,
                        "tol_s": TOL_S,
                        "hold_s": HOLD_S,
                        "goal_s": GOAL_S,
                        "exclude_s": EXCLUDE_S,
                        "fade_s": FADE_S,
                        "jump_s": JUMP_S,
                        "pause_s": PAUSE_S,
                        "drop_s": DROP_S,
                        "lead_s": LEAD_S,
                        "tail_s": TAIL_S,
                        "room_noise_db": ROOM_NOISE_DB,
                    },
                    "params": params.__dict__,
                    "seconds": round(spent, 1),
                },
                indent=1,
            )
        )
    return 0


def _group(outcomes: list[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.set_name, o.scenario.kind), []).append(o)
    return groups


if __name__ == "__main__":
    sys.exit(main())
