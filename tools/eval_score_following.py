"""Score following in the Matchmaker benchmark's form: the score as the reference, a
rendered human performance of the same piece as the take, under several acoustic conditions.

For every ASAP folder of the split (``validation`` by default; never tune on it) with a
performance whose beat labels equal its score's (its k-th annotated beat is then the score's
k-th beat), its shortest such performance (matcher/evaluation/score_following.py):

* reference: ``midi_score.mid`` through ``matcher.notation.build_score_reference`` (the
  score as quantised MIDI, repeats unfolded as played, its own tempo marks or, with
  ``--player-tempo``, the take's mean tempo as a player's ``--tempo`` would give), rendered
  once per piece and kept in a reference store beside the corpus's audio
  (``~/.cache/matcher/corpus/score-references``, keyed by the score file, tempo, rendering,
  configuration and pitch model; ``--no-ref-cache`` builds it afresh and keeps nothing);
* take: the performance MIDI rendered under each condition of matcher/evaluation/
  conditions.py (default: soundfont, room-small, hardest), cached with the corpus's audio
  (``~/.cache/matcher/corpus``; renders the corpus already made are reused);
* truth: the k-th beat of ``midi_score_annotations.txt`` against the k-th beat of the
  performance's annotations.

Errors are measured on the take's time axis: at each annotated take beat, the score beat
that the method reports there, minus the true beat, times the take's local beat period.
Reported per condition and pooled: beats within 50 / 100 / 300 ms, the median, the tracked
share (30-s windows every 10 s, matcher.evaluation.tracking) and the seconds each method
took; beside them the share within 50 ms at beats the performance plays a note on (within
30 ms) and at beats in its held notes and rests, where ASAP's truth is itself interpolated.
Methods: ``online`` (``follow``), ``offline`` (``compare``), ``mm_arzt``
(pymatchmaker's Arzt OLTW on the same rendered score, audio to audio) and ``mm_hmm``
(pymatchmaker's audio score HMM, ``outerhmm``, on the score MIDI itself), the last two when
its venv exists (tools/baselines/setup_matchmaker.sh).

    .venv/bin/python tools/eval_score_following.py [--split validation] [--pieces N | --quick]
        [--every K] [--conditions soundfont room-small hardest] [--methods online offline mm_arzt mm_hmm]
        [--no-pitch]  # references without pitch, for --methods online alone
        [--param NAME=VALUE]  # a FollowParams setting (diagnosis; the defaults are the follower's)
        [--speed F]  # the score rendered at F x its tempo (tuning on dev)
        [--player-tempo] [--per-piece] [--json OUT] [--mm-python PATH] [--no-ref-cache]

A full validation run (29 pieces, 2.5 h of takes, 3 conditions) takes about 35 minutes on
one core once the takes are cached; ``--quick`` (the 6 shortest pieces) about 5. Once the
score references are kept too, a run of ``--methods online`` is mostly the following.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from matcher import AlignParams, Config
from matcher.evaluation import conditions as cond
from matcher.evaluation import corpus
from matcher.evaluation.baselines import MATCHMAKER_PYTHON
from matcher.evaluation.params import add_param_option, follow_params
from matcher.evaluation.score_following import (
    ASAP,
    CONDITIONS,
    METHODS,
    QUICK_PIECES,
    by_condition,
    piece_line,
    run_piece,
    score_pieces,
    summary_table,
)
from matcher.features import NoPitch, YinModel
from matcher.follow import FollowParams
from matcher.notation.render import Rendering


def write(args: argparse.Namespace, rows: list[dict], methods: list[str]) -> None:
    """The figures and every beat error so far as JSON to ``args.json`` (nothing without it)."""
    if args.json:
        plain = [{k: v.to_dict() if k in METHODS else v for k, v in r.items()} for r in rows]
        out = {"split": args.split, "conditions": args.conditions, "player_tempo": args.player_tempo,
               "speed": args.speed, "figures": by_condition(rows, methods), "rows": plain}  # fmt: skip
        args.json.write_text(json.dumps(out, indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="validation", choices=("validation", "dev"))
    ap.add_argument("--pieces", type=int, help="only the N shortest pieces (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"the {QUICK_PIECES} shortest pieces")
    ap.add_argument("--every", type=int, help="every K-th piece in order of length (before --pieces): a spread subset")
    ap.add_argument("--no-pitch", action="store_true", help="references without pitch (online needs none): faster")
    ap.add_argument("--conditions", nargs="+", choices=list(cond.CONDITIONS), default=list(CONDITIONS))
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--mm-python", type=Path, default=MATCHMAKER_PYTHON, help="pymatchmaker's venv python")
    ap.add_argument("--json", type=Path, help="write every beat error here")
    ap.add_argument("--per-piece", action="store_true", help="a line per piece and condition")
    ap.add_argument(
        "--player-tempo",
        action="store_true",
        help="render each score at its take's mean tempo (as with --tempo) instead of its tempo marks",
    )
    ap.add_argument("--speed", type=float, help="the score's tempo times this (default: Rendering's)")
    ap.add_argument("--no-ref-cache", action="store_true", help="build every score reference afresh, keep none")
    ap.add_argument(
        "--score-passes", type=int, choices=(1, 2), default=AlignParams().score_passes,
        help="offline: align once, or again at the tempo found (AlignParams.score_passes; default %(default)s)",
    )  # fmt: skip
    add_param_option(ap)
    args = ap.parse_args(argv)
    if not (ASAP / "metadata.csv").exists():
        print(f"no ASAP data at {ASAP}", file=sys.stderr)
        return 1
    missing = cond.missing_tools()
    if shutil.which("fluidsynth") is None or missing:
        print(f"missing: {', '.join(missing) or 'fluidsynth'} (tools/setup_system.sh --eval)", file=sys.stderr)
        return 1
    methods = list(args.methods)
    mm_python = args.mm_python if args.mm_python.exists() else None
    if mm_python is None and any(m.startswith("mm_") for m in methods):
        print(f"pymatchmaker not run: no {args.mm_python} (tools/baselines/setup_matchmaker.sh)", file=sys.stderr)
        methods = [m for m in methods if not m.startswith("mm_")]
    pieces = score_pieces(args.split)[:: args.every or 1]
    pieces = pieces[: QUICK_PIECES if args.quick and not args.pieces else args.pieces]
    config = Config(pitch_backend="yin")
    if args.no_pitch and set(methods) != {"online"}:
        ap.error("--no-pitch is for --methods online only")
    model = NoPitch(config) if args.no_pitch else YinModel(config)
    params = follow_params(args.param, FollowParams.for_score())
    rendering = Rendering() if args.speed is None else Rendering(speed=args.speed)
    print(f"{args.split}: {len(pieces)} pieces, conditions {', '.join(args.conditions)}, methods {', '.join(methods)}, "
          f"tempo {'player' if args.player_tempo else 'marks'}, {rendering}", flush=True)  # fmt: skip
    ref_cache = None if args.no_ref_cache else corpus.cache_root() / "score-references"
    began = time.perf_counter()
    rows = []
    for piece in pieces:
        with tempfile.TemporaryDirectory(prefix="matcher-evalscore-") as tmp:
            mine = run_piece(
                piece, args.conditions, methods, config, model, Path(tmp), mm_python,
                at_player_tempo=args.player_tempo, params=params, rendering=rendering,
                align=AlignParams(score_passes=args.score_passes), ref_cache=ref_cache,
            )  # fmt: skip
        rows += mine
        if args.per_piece:
            for row in mine:
                print(piece_line(row), flush=True)
        print(
            f"  done {piece.name} ({mine[0]['seconds']:.0f} s), {time.perf_counter() - began:.0f} s so far",
            flush=True,
        )
        write(args, rows, methods)  # after every piece: a run cut short keeps what it measured
    figures = by_condition(rows, methods)
    print()
    print(summary_table(figures))
    print(f"\n{time.perf_counter() - began:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
