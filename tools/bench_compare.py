"""Time and peak memory of ``matcher compare`` on long recordings, against librosa's
full-matrix DTW where that fits in memory.

Inputs are built here: A concatenates the recordings of ../shared/data (piano and
percussion, each resampled to 16 kHz; synthetic performances from matcher.synth when the
data is absent) until it is long enough; B is A time-stretched chunk by chunk (10 s
chunks, phase vocoder, rates following a smooth random curve within ±12 %) with noise at
30 dB SNR, so the true A <-> B map is known and piecewise linear.

Each measurement runs in a fresh subprocess; "peak RSS above start-up" is the process's
peak resident size (ru_maxrss) minus its resident size after imports and numba warm-up
on a tiny input. Measured per size:

* ``matcher``: ``matcher compare A B --json OUT`` run in-process (features of both files
  with YIN pitch, A's beats tracked, alignment with the auto engine — banded beyond the
  dtw-python budget —, comparison, JSON); then, in another process, the same stage by
  stage for the split of the time;
* ``librosa``: librosa.sequence.dtw on the same cost vectors (full matrix), only where its
  estimated need (local-cost and accumulated-cost matrices, float64, plus the step matrix)
  is under ``--baseline-max-gb``;
* on the 10-minute pair, agreement of the banded path with dtw-python's full-matrix path
  on the same vectors (pooled by ``--agree-pool`` frames so that dtw-python's
  24 bytes per cell fit in memory): share of B frames whose A frame differs by <= 1.

    .venv/bin/python tools/bench_compare.py [--sizes 600 3600] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matcher.evaluation.bench_compare import format_table, run, run_worker_kind
from matcher.evaluation.params import add_json_option, write_json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[600.0, 3600.0], help="pair lengths [s]")
    ap.add_argument("--baseline-max-gb", type=float, default=8.0)
    ap.add_argument("--agree-pool", type=int, default=2, help="frames pooled for the agreement check (0: skip)")
    ap.add_argument("--folder", type=Path, help="where to write the inputs (default: a temporary folder)")
    add_json_option(ap, help=None)
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker_kind(*args.worker)))
        return 0
    results = run(Path(__file__), args.sizes, args.baseline_max_gb, args.agree_pool, args.folder)
    print(format_table(results))
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
