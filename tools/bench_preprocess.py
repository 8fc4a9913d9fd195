"""Benchmark offline preprocessing: real-time factor and peak memory of
``matcher.features.extract`` (the features alone, held in memory: the baseline) and of
``matcher reference add`` (features with flux and chroma spooled to the store's folder,
beats tracked, the feature file written) on a long file, side by side.

A 10-minute 44.1 kHz stereo WAV (so the resampler and the down-mix run) is made from
the shared Chopin piano and percussion recordings, looped (synthetic tones and clicks
when the data is absent). Each backend (SPICE, YIN) and mode runs in its own subprocess,
once restricted to one thread on one core and once with default threads, so peak RSS and
thread settings never leak between runs. "Start-up" is the state after the model is
loaded and every code path has run once on a 2-s warm-up file; peak RSS is measured
above it by sampling /proc/self/status every 20 ms. RTF is audio seconds per wall
second, RTF cpu per CPU second (the machine may be shared).

    PYTHONPATH=. .venv/bin/python tools/bench_preprocess.py [--minutes 10] [--profile]
    PYTHONPATH=. .venv/bin/python tools/bench_preprocess.py --minutes 180 --backends spice --threads 1

The goals (issue 13): ``reference add`` of a 3-hour file with SPICE on one core at
>= 150x real time, <= 300 MB above start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from matcher.evaluation.bench_preprocess import DEFAULT_SPICE, MODES, print_table, run, worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated file [min]")
    parser.add_argument("--wav", help="use this audio file instead of generating one")
    parser.add_argument(
        "--pitch-model",
        default=os.environ.get("MATCHER_SPICE_MODEL") or (str(DEFAULT_SPICE) if DEFAULT_SPICE.is_dir() else None),
        help="SPICE SavedModel folder or TF Hub address (default: $MATCHER_SPICE_MODEL, else ../shared/models/spice_1)",
    )
    parser.add_argument("--backends", default="spice,yin", help="comma-separated pitch backends")
    parser.add_argument("--threads", default="1,0", help="thread counts to run (0 = library defaults)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per backend (the fastest is reported)")
    parser.add_argument("--profile", action="store_true", help="also time reading, spectral and pitch parts")
    parser.add_argument(
        "--modes",
        default="extract,add",
        help="comma-separated: extract (features held in memory: the baseline), add (reference add: "
        "flux and chroma spooled, beats tracked, stored)",
    )
    parser.add_argument("--mode", choices=MODES, default="extract", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=("spice", "yin"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(
            args.worker, args.wav, int(args.threads), args.pitch_model, args.repeat, args.profile, args.mode
        )
        print(json.dumps(result))
        return 0
    results = run(
        Path(__file__),
        wav=args.wav,
        minutes=args.minutes,
        pitch_model=args.pitch_model,
        backends=args.backends.split(","),
        threads=[int(n) for n in args.threads.split(",")],
        repeat=args.repeat,
        profile=args.profile,
        modes=tuple(args.modes.split(",")),
    )
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
