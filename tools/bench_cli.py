"""Whole commands as a user runs them, in fresh processes, against their floors.

* ``matcher follow STORED --input TAKE --jsonl FILE``: a stored reference (made with YIN;
  the take's stream computes no pitch whatever the reference's backend) and a take of
  ``--minutes`` (16.4 by default: the shared Chopin piano and samulnori-like percussion
  performances concatenated, their takes in the same order). Floor: ``matcher --help``
  (the interpreter and the CLI's imports).
* ``matcher follow REF.flac --input TAKE.flac --pitch spice`` on a ``--audio-minutes``
  pair (10 by default): the reference preprocessed with SPICE on the fly. Floors:
  ``python -c "import tensorflow"`` and that plus ``tensorflow_hub.load`` of the model.

CPU seconds (user + system of the process, from wait4: on a shared machine wall time
grows with the other load, CPU time hardly) and peak RSS (ru_maxrss, absolute); the
least CPU of ``--repeat`` runs counts, after one run that makes the caches (numba's,
the filterbanks). RTF cpu = audio seconds per CPU second. Each floor row shows how many
times its command's CPU and RSS the floor is. ``--split`` adds where the CPU goes, each
part run alone in a worker process, with librosa's own whole-signal features for the same
frames beside the take's features (STFT, mel bands and their onset flux, chroma, level).

    PYTHONPATH=. .venv/bin/python tools/bench_cli.py [--minutes 16.4] [--audio-minutes 10] [--split]

Goals (issue 13): follow STORED >= 400x real time; follow REF.flac with SPICE >= 150x,
peak RSS <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from matcher.evaluation.bench_cli import DEFAULT_SPICE, print_report, run, split_worker
from matcher.evaluation.params import add_json_option, write_json


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=16.4, help="stored reference and take [min]")
    ap.add_argument("--audio-minutes", type=float, default=10.0, help="audio pair followed with SPICE [min]")
    ap.add_argument(
        "--pitch-model",
        default=os.environ.get("MATCHER_SPICE_MODEL") or (str(DEFAULT_SPICE) if DEFAULT_SPICE.is_dir() else None),
        help="SPICE SavedModel folder (default: $MATCHER_SPICE_MODEL, else ../shared/models/spice_1); "
        "without one the SPICE rows are left out",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per command (the least CPU counts)")
    ap.add_argument("--split", action="store_true", help="also where the CPU goes")
    add_json_option(ap)
    ap.add_argument("--split-worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.split_worker:
        print(json.dumps(split_worker(args.split_worker[0], args.split_worker[1:])))
        return 0
    out = run(
        minutes_stored=args.minutes,
        minutes_audio=args.audio_minutes,
        pitch_model=args.pitch_model,
        repeat=args.repeat,
        split=args.split,
        tool=Path(__file__),
    )
    print_report(out)
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
