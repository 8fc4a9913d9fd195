"""Following and comparison on the corpus: ASAP pairs under named acoustic conditions.

Methods, each scored by matcher.evaluation.tracking (beats within 50/100/200/300 ms and
the median error, pooled over beats and the mean over folders; tracked pieces, 30-s
windows every 10 s; false moves per hour):

* ``follow``  — matcher's follower, ``matcher.follow.follow_blocks`` on the take in file
  blocks, against the reference preprocessed by ``build_reference`` (YIN pitch), as
  tools/eval_follow.py runs it; ``--param NAME=VALUE`` sets FollowParams;
* ``compare`` — ``matcher.compare.compare(reference, take)`` offline (its alignment path);
* ``arzt``    — pymatchmaker 0.3.0's Arzt OLTW (chroma), through tools/baselines/
  run_matchmaker.py in its own venv (tools/baselines/setup_matchmaker.sh); skipped with a
  note when that venv is absent;
* ``causal``  — the causal bound of the follower's costs (matcher/evaluation/causal.py):
  the argmin of each column of a full, unbanded DTW of the take's streaming vectors
  against the whole reference; no band to lose, no re-lock, no tempo model; unedited
  takes only, and slow on long pieces, so only when asked.

``--jumps``: tools/eval_jumps.py's scenarios (restart, back, forward, drop) on the corpus
pairs (re-lock time, locatable share); ``--pauses``: 5-s pauses of pink room noise 20 dB
below the take's RMS (held within 200 ms); both per condition and pooled, follower only.

Pairs and conditions as tools/build_corpus.py (renders what is missing); the piano
conditions by default, the other instruments by name (``--conditions strings violin flute
organ guitar``: reference and take both played on that General MIDI program); ``--set
percussion`` runs the synthetic percussion pieces under the same conditions. Report on
``--split validation``; tune on ``dev`` only. ``--jobs 2`` runs two pairs at once (the
machines have two cores); each method's seconds are then CPU-shared wall time.

    .venv/bin/python tools/eval_corpus.py --split dev|validation [--set asap|percussion] [--quick] [--conditions ...]
        [--methods follow compare arzt causal] [--jumps] [--pauses] [--per-pair] [--jobs N] [--json OUT]
        [--param NAME=VALUE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from matcher.evaluation import corpus, tracking
from matcher.evaluation.baselines import MATCHMAKER_PYTHON
from matcher.evaluation.corpus_runs import (
    METHODS,
    PAUSE_DB,
    add_arguments,
    by_condition,
    figures_table,
    run_edits,
    run_pairs,
    selected,
)
from matcher.evaluation.jumps import JUMP_KINDS
from matcher.evaluation.params import add_json_option, add_param_option, follow_params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=[m for m in METHODS if m != "causal"])
    parser.add_argument("--jumps", action="store_true", help="jump scenarios on the pairs (follower)")
    parser.add_argument("--pauses", action="store_true", help="5-s pauses in pink room noise 20 dB below (follower)")
    parser.add_argument("--places", type=int, default=1, help="edits per kind and take (default 1)")
    parser.add_argument("--per-pair", action="store_true", help="print every pair's figures")
    parser.add_argument("--jobs", type=int, default=1, help="pairs run in this many processes at once (default 1)")
    add_json_option(parser)
    add_param_option(parser)
    args = parser.parse_args()
    if not (corpus.DATA_ROOT / "metadata.csv").exists():
        print(f"no ASAP data at {corpus.DATA_ROOT} (set MATCHER_ASAP)", file=sys.stderr)
        return 2
    methods = list(args.methods)
    if "arzt" in methods and not MATCHMAKER_PYTHON.exists():
        print(f"arzt skipped: {MATCHMAKER_PYTHON} absent (run tools/baselines/setup_matchmaker.sh)")
        methods.remove("arzt")
    params = follow_params(args.param)
    cache = args.cache or corpus.cache_root()
    pairs, names = selected(args)
    began = time.perf_counter()
    print(f"{args.split}{' (quick)' if args.quick else ''}: {len(pairs)} pairs, {len(names)} conditions, "
          f"methods {', '.join(methods)}; cache {cache}")  # fmt: skip
    rows, rendered, render_s = run_pairs(pairs, names, methods, params, cache, args.per_pair, args.jobs)
    figures = by_condition(rows, names, methods)
    print(figures_table(f"{args.split}: beats within N ms (pooled over beats), folder mean beside; tracked pieces; "
                        "false moves per hour of take", figures))  # fmt: skip
    pooled = {m: figures["pooled"][m] for m in methods if m != "compare"}
    print("false moves up to the take's last annotated beat (the rest come after it): "
          + ", ".join(f"{m} {f['false_moves_in_music']} of {f['false_moves']}" for m, f in pooled.items()))  # fmt: skip
    eval_s = time.perf_counter() - began
    take_s = sum(r["take_s"] for r in rows if r["method"] == methods[0])
    print(f"\n{take_s / 60:.1f} min of takes per method; wall {eval_s:.0f} s (render/cache {render_s:.0f} s); "
          + ", ".join(f"{m} {figures['pooled'][m]['method_seconds']:.0f} s" for m in methods))  # fmt: skip
    edits = None
    kinds = [*(JUMP_KINDS if args.jumps else ()), *(("noise",) if args.pauses else ())]
    if kinds:
        t0 = time.perf_counter()
        edits, text = run_edits(rendered, params, args.places, kinds, PAUSE_DB)
        print(text)
        print(f"edits: {time.perf_counter() - t0:.0f} s")
    if args.json:
        out = {
            "command": " ".join(["tools/eval_corpus.py", *sys.argv[1:]]),
            "split": args.split,
            "seed": args.seed,
            "conditions": names,
            "figures": figures,
            "pairs": [{k: v for k, v in r.items() if k != "errors"} | tracking.shares(r["errors"]) for r in rows],
            "edits": edits,
            "params": params.__dict__,
            "seconds": round(time.perf_counter() - began, 1),
        }
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
