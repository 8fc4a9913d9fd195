"""Soak test: a 2-hour rehearsal session followed without a break, fast-forwarded.

A reference is built (YIN pitch, no TensorFlow) from a synthetic piece of a few minutes
(matcher.synth, steady tempo, its beats given). The take is a seeded sequence of passages
of the same piece played with other timbres and tempo warps, as a rehearsal goes: play
on for a while, start again from the beginning, jump back or ahead by 10-30 s, stop for
3-10 s of silence and go on, lose up to a second of audio, move on to another rendering,
stop at the end of the piece. Only a few renderings of the piece are held in memory; the
session's audio is cut from them one block at a time (never the whole take at once).

The blocks go through :func:`matcher.follow.follow_blocks`, the loop ``matcher follow``
runs for files and :class:`matcher.live.LiveSession` for a microphone: FeatureStream.push,
Follower.steps, and the positions kept for the session's summary. As a live session
does, the warm-up runs first and the garbage collector's objects are frozen. No pacing:
each block is followed as soon as the previous one is done.

Measured (matcher.evaluation.soak):

* memory: RSS (VmRSS from /proc, after glibc's malloc_trim) once
  the session has followed its first seconds (the baseline: reference built, kernels
  compiled, the take's renderings made), then every simulated minute and at the end; the
  peak growth over the baseline in MB and %. The positions the session keeps (as a live
  session does, for its summary) are part of it; their size is printed beside it.
* latency: the time each block takes from entering the pipeline to its positions
  (perf_counter), median / p99 / max per 10-minute slice of the session, and the last
  slice's p99 over the first's;
* speed: seconds of audio per second spent following (x real time), and per second of
  the whole session loop (cutting blocks and sampling memory included);
* positions reported, the follower's relocks, the edits the take went through, errors
  (exceptions, and positions with a non-finite time or tempo).

Acceptance (exit status 1 otherwise): memory growth < 5 % and no error.

    .venv/bin/python tools/soak.py [--minutes 120] [--block 1024] [--seed 7]
        [--piece melodic|percussion] [--piece-minutes 3] [--json OUT]

The full 2 hours take about a minute and a half on one core (the follower runs over 100
times faster than real time); other processes competing for the cores show as latency.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from matcher.evaluation.soak import run_soak, verdict


def print_report(report: dict[str, Any]) -> None:
    mem, lat = report["memory"], report["latency"]
    events = ", ".join(f"{k} {v}" for k, v in sorted(report["events"].items()))
    print(f"\n{report['audio_s'] / 60:.1f} min of session followed in {report['wall_s']:.0f} s; "
          f"{report['segments']} segments ({events})")  # fmt: skip
    print(f"memory: baseline {mem['baseline_mb']:.1f} MB (after {mem['baseline_at_s']} s), peak {mem['peak_mb']:.1f} "
          f"MB, end {mem['end_mb']:.1f} MB; growth {mem['growth_mb']:+.1f} MB ({mem['growth_pct']:+.2f} %), of which "
          f"the positions the session keeps {mem['kept_positions_mb']:.1f} MB (the rest: "
          f"{mem['growth_besides_positions_pct']:+.2f} %)")  # fmt: skip
    print(f"\nblock processing ({report['block']} samples = {report['block_ms']} ms of audio):")
    print(f"  {'minutes':>13}{'blocks':>8}{'median':>10}{'p99':>10}{'max':>10}{'>block':>8}")
    rows = [(f"{s['from_min']:g}-{s['to_min']:g}", s) for s in report["latency_slices"]]
    for span, s in [*rows, ("all", lat)] if lat else []:
        print(f"  {span:>13}{s['blocks']:>8}{s['median_ms']:>8.2f}ms{s['p99_ms']:>8.2f}ms{s['max_ms']:>8.2f}ms"
              f"{s['over_block']:>8}")  # fmt: skip
    print(f"  p99 of the last slice / the first: {report['p99_last_over_first']}")
    print(f"speed: {report['speed_x_realtime']:.0f}x real time following, {report['session_x_realtime']:.0f}x for "
          f"the whole session loop")  # fmt: skip
    print(f"positions {report['positions']} ({report['lost_share'] * 100:.1f} % lost), relocks {report['relocks']}, "
          f"errors {report['errors']}")  # fmt: skip
    for message in report["error_messages"]:
        print(f"  error {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="simulated session length [min] (default 120)")
    parser.add_argument("--block", type=int, default=1024, help="block size [samples at 16 kHz] (default 1024)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the piece, renderings and session plan")
    parser.add_argument("--piece", choices=("melodic", "percussion"), default="melodic")
    parser.add_argument("--piece-minutes", type=float, default=3.0, help="length of the piece [min] (default 3)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.block <= 0 or args.piece_minutes <= 0:
        parser.error("--minutes, --block and --piece-minutes must be positive")

    report = run_soak(args.minutes, args.block, args.seed, args.piece, args.piece_minutes)
    print_report(report)
    checks = verdict(report)
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'} {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"command": " ".join(["tools/soak.py", *(sys.argv[1:] if argv is None else argv)]), **report}, indent=1
            )
        )
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
