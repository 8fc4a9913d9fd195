"""Batch throughput on Dask: files/min with 1 and 2 local workers, the scaling ratio, and an
estimate of what a 1000-recording corpus needs on N machines.

    .venv/bin/python tools/bench_batch.py [--files 16] [--bars 12] [--out out/bench_batch]

A synthetic corpus (matcher.synth melodies at different tempi, YIN pitch) is preprocessed
and then compared against its first file, once per worker count, each time into a fresh
store. Workers are single-threaded processes (numba, BLAS, OpenMP, TensorFlow held to one
thread); the cluster's start-up and each worker's warm-up (imports, numba compilation) are
timed apart. Per-item costs measured with one worker
give the estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from matcher.batch import ONE_THREAD_ENV


def make_corpus(folder: Path, n: int, bars: int) -> tuple[list[Path], float]:
    import soundfile as sf

    from matcher import synth

    folder.mkdir(parents=True, exist_ok=True)
    files, seconds = [], 0.0
    for i in range(n):
        notes = synth.melody(n_bars=bars, seed=i % 4)
        bpm = 90.0 + 3.0 * i
        audio = synth.render(notes, synth.TempoMap((0.0, bars * 4.0), (bpm, bpm * 1.05)), timbre=i % 2, seed=i)
        path = folder / f"rec{i:03d}.wav"
        sf.write(path, audio, 16000)
        files.append(path)
        seconds += len(audio) / 16000
    return files, seconds


def warm_up(a: str, b: str, work: str) -> None:
    """Imports and numba compilation, once per worker process (a real batch pays this once
    per worker, which a 1000-file corpus amortises; a short benchmark would not)."""
    import tempfile

    from matcher.batch import compare_pair, preprocess_file, store_name

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for path in (a, b):
            preprocess_file(path, tmp, tmp)
        compare_pair(store_name(a), store_name(b), tmp, tmp, a, b)


def run(workers: int, files: list[Path], work: Path) -> dict[str, float]:
    from matcher.batch import Runner, batch_compare, batch_preprocess

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    with Runner(None, workers=workers) as runner:
        runner.client.run(warm_up, str(files[0]), str(files[1]), str(work))
        t1 = time.perf_counter()
        rows = batch_preprocess(files, work / "store", work / "pre", runner, resume=False)
        t2 = time.perf_counter()
        pairs = batch_compare(files[1:], work / "store", work / "cmp", runner, against=files[0], resume=False)
        t3 = time.perf_counter()
    bad = [r for r in rows + pairs if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"failed items: {bad[:2]}")
    return {
        "workers": workers,
        "startup_s": t1 - t0,
        "preprocess_s": t2 - t1,
        "compare_s": t3 - t2,
        "files": len(files),
        "pairs": len(pairs),
        "files_per_min": 60.0 * len(files) / (t2 - t1),
        "pairs_per_min": 60.0 * len(pairs) / (t3 - t2),
    }


def estimate(one: dict[str, float], ratio: float, audio_s_per_file: float, machines: list[int]) -> list[str]:
    """Hours for 1000 recordings (of the corpus's length) on N machines of 2 cores each."""
    pre = one["preprocess_s"] / one["files"]  # seconds per file, one worker
    cmp = one["compare_s"] / one["pairs"]  # seconds per pair, one worker
    eff = ratio / 2.0  # per-core efficiency measured from 1 to 2 workers
    n, all_pairs = 1000, 1000 * 999 // 2
    lines = [
        f"measured per item (one worker): preprocess {pre:.2f} s per {audio_s_per_file:.0f} s file "
        f"({pre / audio_s_per_file:.3f} s per audio second), compare {cmp:.2f} s per pair",
        f"assumed: 2 cores per machine, {100 * eff:.0f} % per-core efficiency (measured 1 -> 2), "
        "the same efficiency across machines (items are independent; the store on a shared filesystem)",
    ]
    for m in machines:
        cores = 2 * m * eff
        pre_h = n * pre / cores / 3600
        against_h = (n - 1) * cmp / cores / 3600
        pairs_h = all_pairs * cmp / cores / 3600
        lines.append(
            f"{m:>3} machine(s): preprocess {pre_h:6.2f} h, each against one reference {against_h:6.2f} h, "
            f"every pair ({all_pairs} pairs) {pairs_h:8.1f} h"
        )
    lines.append(
        "for longer recordings: preprocessing grows linearly with duration; a pair grows with the product "
        "of the two durations while full DTW fits 1 GiB, then linearly (banded)."
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--bars", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("out/bench_batch"))
    args = parser.parse_args()
    os.environ.update(ONE_THREAD_ENV)  # inherited by the local workers (which also get it from the Runner)
    files, audio_s = make_corpus(args.out / "corpus", args.files, args.bars)
    print(f"corpus: {len(files)} files, {audio_s / len(files):.1f} s each; {os.cpu_count()} cores")
    results = [run(w, files, args.out / f"w{w}") for w in (1, 2)]
    for r in results:
        print(
            f"{r['workers']} worker(s): start-up and warm-up {r['startup_s']:.1f} s; "
            f"preprocess {r['preprocess_s']:.1f} s "
            f"= {r['files_per_min']:.1f} files/min; compare against one {r['compare_s']:.1f} s "
            f"= {r['pairs_per_min']:.1f} pairs/min"
        )
    one, two = results
    ratio_pre = two["files_per_min"] / one["files_per_min"]
    ratio_cmp = two["pairs_per_min"] / one["pairs_per_min"]
    total_ratio = (one["preprocess_s"] + one["compare_s"]) / (two["preprocess_s"] + two["compare_s"])
    print(f"scaling 1 -> 2 workers: preprocess {ratio_pre:.2f}x, compare {ratio_cmp:.2f}x, together {total_ratio:.2f}x")
    lines = estimate(one, total_ratio, audio_s / len(files), [1, 2, 4, 8, 16])
    print("\n".join(lines))
    (args.out / "bench_batch.json").write_text(
        json.dumps({"runs": results, "scaling": [ratio_pre, ratio_cmp, total_ratio], "estimate": lines}, indent=1)
    )


if __name__ == "__main__":
    main()
