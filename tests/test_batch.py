"""Batch work (matcher.batch, `matcher batch ...`): rows per item, a corrupt file as one
error row, resuming, and a dask.distributed LocalCluster giving the figures a single
process gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher import synth
from matcher.batch import (
    ITEMS_DIR,
    RESULTS_NAME,
    Runner,
    batch_compare,
    batch_preprocess,
    batch_score,
    compare_pair,
    expand_inputs,
    read_table,
    store_name,
)
from matcher.cli import main
from matcher.compare import compare
from matcher.reference import ReferenceStore


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short renderings of one melody at different tempi, and a corrupt file."""
    folder = tmp_path_factory.mktemp("corpus")
    notes = synth.melody(n_bars=3, seed=3)
    for i, bpm in enumerate((100.0, 112.0, 92.0)):
        audio = synth.render(notes, synth.TempoMap((0.0,), (bpm,)), timbre=i % 2, seed=i)
        sf.write(folder / f"take{i}.wav", audio, 16000)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return folder


def _figures(rows: list[dict]) -> list[tuple]:
    """The rows without nothing that depends on where the batch ran."""
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


def test_expand_inputs(corpus: Path, tmp_path: Path) -> None:
    files = expand_inputs([corpus])
    assert [p.name for p in files] == ["broken.wav", "take0.wav", "take1.wav", "take2.wav"]
    assert expand_inputs([str(corpus / "take*.wav"), corpus / "take0.wav"]) == files[1:]
    with pytest.raises(Exception, match="no such file"):
        expand_inputs([tmp_path / "missing"])
    with pytest.raises(Exception, match="no audio files"):
        expand_inputs([str(tmp_path / "*.flac")])


def test_compare_sync_rows_match_direct_compare(corpus: Path, tmp_path: Path) -> None:
    out, root = tmp_path / "out", tmp_path / "store"
    with Runner("sync") as runner:
        rows = batch_compare([corpus], root, out, runner)
    # the corrupt file: one error row, and its pairs left out; the other three pairs complete
    errors = [r for r in rows if r["status"] != "ok"]
    assert len(errors) == 1 and errors[0]["a"].endswith("broken.wav") and "not a readable" in errors[0]["error"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 3
    table = read_table(out / RESULTS_NAME)
    assert len(table) == 4 and {r["status"] for r in table} == {"ok", "error"}
    # the figures are those of compare() on the stored features
    store = ReferenceStore(root)
    for row in ok:
        a, b = store.load(store_name(row["a"])), store.load(store_name(row["b"]))
        result = compare(a, b)
        assert row["tempo_ratio"] == round(result.tempo_ratio, 5)
        assert row["beats"] == len(result.beats)
        item = json.loads((out / ITEMS_DIR / f"{row['key']}.json").read_text())
        assert item["row"] == row and item["comparison"]["tempo_ratio"] == row["tempo_ratio"]

    # resumable: a second run recomputes no pair that finished (the broken file is retried)
    class NoPairs(Runner):
        def map(self, func, items, progress=None):
            assert func is not compare_pair or not items, "recomputed a finished pair"
            return super().map(func, items, progress)

    again = batch_compare([corpus], root, out, NoPairs("sync"))
    assert _figures(again) == _figures(rows)


def test_preprocess_and_score_sync(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Runner("sync") as runner:
        rows = batch_preprocess([corpus], root, tmp_path / "pre", runner)
        assert [r["status"] for r in rows] == ["error", "ok", "ok", "ok"]
        assert len(ReferenceStore(root).names()) == 3
        scores = batch_score(str(corpus / "take0.wav"), [corpus], root, tmp_path / "score", runner, 80.0)
    assert [r["status"] for r in scores] == ["error", "ok", "ok", "ok"]
    same = next(r for r in scores if r["take"].endswith("take0.wav"))
    assert same["within_tolerance"] == 1.0 and same["tempo_ratio"] == 1.0
    faster = next(r for r in scores if r["take"].endswith("take1.wav"))
    assert faster["tempo_ratio"] == pytest.approx(112 / 100, rel=0.03)


def test_cli_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "compare", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["batch", "preprocess", str(tmp_path), "--workers", "0"]) == 2


def test_cli_score_sync(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["batch", "score", str(corpus / "take0.wav"), str(corpus / "take1.wav"), str(corpus / "broken.wav")]
    args += ["--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--scheduler", "sync"]
    assert main(args) == 1  # an item failed: the batch says so in its exit status
    captured = capsys.readouterr()
    table = tmp_path / "o" / RESULTS_NAME
    assert "1 done, 1 failed" in captured.out and f"results in {table}" in captured.out
    assert "broken.wav" in captured.err and "1 of 2 item(s) failed" in captured.err
    assert len(read_table(table)) == 2


def test_cli_all_done_exits_0_and_says_where(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["batch", "preprocess", str(corpus / "take0.wav"), "--store", str(tmp_path / "s")]
    args += ["--out", str(tmp_path / "o"), "--scheduler", "sync"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"results in {tmp_path / 'o' / RESULTS_NAME}" in captured.out and captured.err == ""


def test_local_cluster_two_workers_matches_single_process(corpus: Path, tmp_path: Path) -> None:
    """The same batch on a dask.distributed LocalCluster of 2 worker processes: identical table."""
    with Runner("sync") as runner:
        single = batch_compare([corpus], tmp_path / "s1", tmp_path / "o1", runner)
    from distributed import get_task_stream

    with Runner(None, workers=2) as runner:
        assert len(runner.client.scheduler_info()["workers"]) == 2
        threads = runner.client.run(lambda: __import__("os").environ.get("NUMBA_NUM_THREADS"))
        assert set(threads.values()) == {"1"}
        with get_task_stream(runner.client) as stream:
            dist = batch_compare([corpus], tmp_path / "s2", tmp_path / "o2", runner)
        # Both workers took items: the speed-up itself is measured by tools/bench_batch.py.
        assert len({task["worker"] for task in stream.data}) == 2
    assert _figures(dist) == _figures(single)
    t1, t2 = read_table(tmp_path / "o1" / RESULTS_NAME), read_table(tmp_path / "o2" / RESULTS_NAME)
    assert t1 == t2
    for row in single:
        if row["status"] == "ok":
            a = json.loads((tmp_path / "o1" / ITEMS_DIR / f"{row['key']}.json").read_text())
            b = json.loads((tmp_path / "o2" / ITEMS_DIR / f"{row['key']}.json").read_text())
            assert a == b
    assert np.isfinite([float(r["tempo_ratio"]) for r in t1 if r["status"] == "ok"]).all()


def test_stored_reference_of_another_configuration_is_an_error_row(corpus: Path, tmp_path: Path) -> None:
    """compare_pair and score_file load stored references through follow's configuration
    check; preprocess_file rebuilds such an entry instead of reusing it."""
    from matcher.batch import preprocess_file, score_file

    root, out = tmp_path / "store", tmp_path / "out"
    take0, take1 = corpus / "take0.wav", corpus / "take1.wav"
    for take in (take0, take1):
        assert preprocess_file(str(take), str(root), str(out))["status"] == "ok"
    store = ReferenceStore(root)
    name = store_name(take0)
    ref = store.load(name)
    store.add(type(ref)(name, ref.frames, ref.beats, ref.config.replace(hop=128), ref.meta), replace=True)
    row = compare_pair(name, store_name(take1), str(root), str(out), str(take0), str(take1))
    assert row["status"] == "error" and "another configuration" in row["error"] and "rebuild" in row["error"]
    row = score_file(name, str(take1), str(root), str(out))
    assert row["status"] == "error" and "another configuration" in row["error"]
    assert preprocess_file(str(take0), str(root), str(out))["status"] == "ok"
    assert store.load(name).config.hop == ref.config.hop  # rebuilt with this version's configuration
