"""Render the evaluation corpus: ASAP performance pairs under the named acoustic conditions.

Pairs (matcher/evaluation/corpus.py): two performances of the same ASAP folder with
identical beat label sequences, seeded, at most 3 pairs per folder for ``dev`` and 2 for
``validation``. Conditions (matcher/evaluation/conditions.py): the reference rendered by
FluidSynth (FluidR3 GM, dry), the take through other engines, soundfonts, rooms,
microphones, noise, levels and tunings, and the ``hardest``. Audio is cached outside the
repository (``--cache``, default ``$MATCHER_CORPUS_CACHE`` or
``${XDG_CACHE_HOME:-~/.cache}/matcher/corpus``); files already there are kept, so a
second run renders nothing.

    .venv/bin/python tools/build_corpus.py --split dev|validation [--quick] [--conditions ...]
        [--set asap|percussion] [--seed N] [--cache DIR] [--list]

``--set percussion``: synthetic percussion pieces (4 dev, 3 validation; quick 2) written as
General MIDI drums and rendered under the same conditions (other kits, rooms, noise).

``--quick``: at most 3 pairs (one per folder, takes of at most 100 s) under the quick
conditions; tools/eval_corpus.py --quick evaluates the same subset.
"""

from __future__ import annotations

import argparse
import sys
import time

import soundfile as sf

from matcher.evaluation import conditions as cond
from matcher.evaluation import corpus
from matcher.evaluation.corpus_runs import add_arguments, selected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--list", action="store_true", help="print the pairs and conditions, render nothing")
    args = parser.parse_args()
    if not (corpus.DATA_ROOT / "metadata.csv").exists():
        print(f"no ASAP data at {corpus.DATA_ROOT} (set MATCHER_ASAP)", file=sys.stderr)
        return 2
    missing = cond.missing_tools()
    if missing and not args.list:
        print(f"missing: {', '.join(missing)} (run tools/setup_system.sh --eval)", file=sys.stderr)
        return 2
    cache = args.cache or corpus.cache_root()
    pairs, names = selected(args)
    print(f"{args.split}{' (quick)' if args.quick else ''}: {len(pairs)} pairs from "
          f"{len({p.folder for p in pairs})} folders, seed {args.seed}; cache {cache}")  # fmt: skip
    for name in names:
        c = cond.CONDITIONS[name]
        print(f"  {name:<13}{c.engine.key:<28}{' '.join(c.sox):<24}"
              f"{(c.noise or '-') + (f' {c.snr_db:g} dB' if c.noise else ''):<12}"
              f"gain {c.gain_db:+g} dB  A4 {c.a4_hz:g} Hz")  # fmt: skip
    if args.list:
        for p in pairs:
            print(f"  {p.name}  ({len(p.beats()[0])} beats)")
        return 0
    began = time.perf_counter()
    rendered = seconds = 0.0
    for p in pairs:
        for name in names:
            t0 = time.perf_counter()
            fresh = [not f.exists() for f in corpus.pair_paths(p, name, cache)]
            r = corpus.render_pair(p, name, cache)
            dur = sf.info(r.take_audio).duration
            seconds += dur
            rendered += sum(fresh)
            state = "rendered" if any(fresh) else "cached"
            print(f"{p.name:<58}{name:<13}{dur:7.1f} s  {len(r.take_beats):4d} beats  {state} "
                  f"{time.perf_counter() - t0:5.1f} s")  # fmt: skip
    print(f"{int(rendered)} files rendered, {seconds / 60:.1f} min of takes, {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
