"""Latency, overflows and memory of live following, on a take fed at real-time pace.

Generates a reference and a tempo-warped take of ``--minutes`` (matcher.synth, exact
ground truth), then follows the take live:

* ``--via pulse`` (default): through a real audio path. A private PulseAudio server with
  a file-fed microphone (matcher.evaluation.pulse) and ``matcher follow REF --device pulse
  --duration S --stats --json --jsonl FILE`` in a subprocess, exactly what a user runs; its
  figures are read from the one JSON object it prints at the end, its memory (VmRSS)
  sampled from /proc every few seconds.
* ``--via paced``: no sound server; :class:`matcher.live.LiveSession` in this process
  with a stream that delivers 10 ms blocks at real-time pace from a thread.

Reports the time from a block's arrival to the Position it produced (median, p99, max),
the worker's processing time, overflows and dropped blocks, memory over the session, and
the share of beats within 50/100/200 ms (the take's lead-in silence subtracted).

    .venv/bin/python tools/bench_live.py --minutes 10 [--via pulse|paced] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys

from matcher.evaluation.bench_live import meets_goal, print_report, run
from matcher.evaluation.params import add_json_option, write_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the take [min]")
    parser.add_argument("--via", choices=("pulse", "paced"), default="pulse")
    parser.add_argument("--rate", type=int, default=44100, help="microphone rate [Hz]")
    parser.add_argument("--every", type=float, default=5.0, help="memory sampling interval [s]")
    add_json_option(parser, help="write the figures here")
    args = parser.parse_args()
    report = run(args.minutes, args.via, args.rate, args.every)
    print_report(report)
    write_json(args.json, report)
    return 0 if meets_goal(report) else 1


if __name__ == "__main__":
    sys.exit(main())
