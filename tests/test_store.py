"""The reference store: round trips, refusals (names, configuration, corruption), and
robustness against garbage, interrupted writes and impossible store paths."""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import synth

import matcher.reference as reference_mod
from matcher import (
    FEATURE_VERSION,
    Config,
    InputFileError,
    ParameterError,
    Reference,
    ReferenceStore,
    StoreError,
    YinModel,
    build_reference,
)
from matcher.audio import file_sha256
from matcher.reference import check_name, default_store_path, name_from_path

SR = 16000


def assert_same_reference(a: Reference, b: Reference) -> None:
    assert a.name == b.name
    assert a.config == b.config
    for key, value in a.frames.arrays().items():
        got = b.frames.arrays()[key]
        assert got.dtype == value.dtype, key
        np.testing.assert_array_equal(got, value, err_msg=key)  # NaN == NaN here
    for key, value in a.beats.arrays().items():
        np.testing.assert_array_equal(b.beats.arrays()[key], value, err_msg=key)
    assert a.beats.beats_per_bar == b.beats.beats_per_bar
    assert a.beats.source == b.beats.source


@pytest.fixture(scope="module")
def audio_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2.5 s: a melody over a click track."""
    tones, _ = synth.melody([(60, 0.5), (64, 0.5), (67, 0.5), (72, 1.0)], SR, amp=0.3)
    clicks, _ = synth.click_train(120, len(tones) / SR, SR, start=0.0)
    return synth.write(tmp_path_factory.mktemp("audio") / "melody.wav", tones + 0.5 * clicks, SR, "PCM_16")


@pytest.fixture(scope="module")
def ref(audio_file: Path, yin_config: Config, yin_model: YinModel) -> Reference:
    return build_reference(audio_file, yin_config, yin_model)


@pytest.fixture
def store(store_path: Path) -> ReferenceStore:
    return ReferenceStore(store_path)


# -- building --------------------------------------------------------------------------


def test_build_reference(ref: Reference, audio_file: Path, yin_config: Config) -> None:
    n = round(2.5 * SR)
    assert len(ref.frames) == 1 + n // yin_config.hop
    assert ref.name == "melody"
    assert ref.duration == pytest.approx(2.5)
    assert ref.meta["sha256"] == file_sha256(audio_file)
    assert ref.meta["source"] == str(audio_file.resolve())
    assert (ref.meta["source_rate"], ref.meta["source_channels"]) == (SR, 1)
    assert ref.meta["pitch_backend"] == "yin" and ref.meta["feature_version"] == FEATURE_VERSION
    assert Config.from_dict(ref.meta["config"]) == yin_config
    assert ref.beats.source == "tracked" and len(ref.beats) >= 3
    summary = ref.summary()
    assert summary["frames"] == len(ref.frames) and 60 <= summary["median_midi"] <= 72
    json.dumps(summary)  # JSON-ready
    assert repr(ref) == f"Performance('melody', 2.5 s, {len(ref.beats)} beats, pitch=yin)"
    np.testing.assert_allclose(ref.times[:3], np.arange(3) * yin_config.frame_seconds)


def test_build_reference_progress_and_options(tmp_path: Path, audio_file: Path, yin_config, yin_model) -> None:
    calls: list[tuple[int, int]] = []
    beats = tmp_path / "b.txt"
    beats.write_text("0.5\n1.0\n1.5\n2.0\n")
    ref = build_reference(audio_file, yin_config, yin_model, "x-1", beats, 2, lambda d, t: calls.append((d, t)))
    assert ref.name == "x-1" and ref.beats.source == str(beats) and ref.beats.beats_per_bar == 2
    assert calls and calls[-1] == (round(2.5 * SR), round(2.5 * SR))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_build_reference_refuses_silence(tmp_path: Path, yin_config, yin_model) -> None:
    path = synth.write(tmp_path / "quiet.wav", synth.silence(1.0, SR), SR, "PCM_16")
    with pytest.raises(InputFileError, match="silent") as info:
        build_reference(path, yin_config, yin_model)
    assert str(path) in str(info.value)


# -- round trip ------------------------------------------------------------------------


def test_add_load_list_remove(store: ReferenceStore, ref: Reference, yin_config: Config) -> None:
    assert store.names() == [] and not store.root.exists()  # reading does not create the store
    meta = store.add(ref)
    assert store.names() == ["melody"]
    assert meta["file"].endswith(".npz") and (store.root / meta["file"]).is_file()
    assert store.meta("melody")["file_sha256"] == file_sha256(store.root / meta["file"])
    assert store.find_by_hash(ref.meta["sha256"]) == ["melody"]

    loaded = store.load("melody", expect=yin_config)
    assert_same_reference(ref, loaded)
    assert loaded.meta["sha256"] == ref.meta["sha256"]

    # another store object (another process) sees the same
    assert_same_reference(ref, ReferenceStore(store.root).load("melody"))

    store.remove("melody")
    assert store.names() == []
    assert not (store.root / meta["file"]).exists()
    with pytest.raises(StoreError, match="melody"):
        store.load("melody")
    with pytest.raises(StoreError, match="melody"):
        store.remove("melody")


def test_feature_file_needs_no_pickle(store: ReferenceStore, ref: Reference) -> None:
    meta = store.add(ref)
    with np.load(store.root / meta["file"], allow_pickle=False) as data:
        assert {"midi", "flux", "chroma", "beat_times", "beat_numbers", "beat_bars"} <= set(data.files)
        assert all(data[k].dtype != object for k in data.files)


def test_feature_file_is_what_np_savez_writes(
    store: ReferenceStore, ref: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's writer (spooled arrays copied a slice at a time) makes np.savez's
    archive: the same entries holding the same bytes."""
    import io
    import zipfile

    from matcher.features.stream import FrameSink
    from matcher.spool import _mapping, write_npz

    sink = FrameSink(ref.config.n_bands, 0, tmp_path)
    sink.add(ref.frames)
    spooled = Reference(ref.name, sink.frames(), ref.beats, ref.config, ref.meta)
    assert not spooled.frames.flux.flags.writeable  # mapped from the spool file
    assert _mapping(spooled.frames.flux) is not None and _mapping(ref.frames.flux) is None  # copied by slices
    want = {**ref.frames.arrays(), **ref.beats.arrays(), "text": np.array("a string")}
    expect = io.BytesIO()
    np.savez(expect, **want)
    monkeypatch.setattr("matcher.spool.CHUNK_BYTES", 1000)  # many slices, one not whole rows
    for arrays in (want, {**want, **spooled.frames.arrays()}):
        got = io.BytesIO()
        write_npz(got, arrays)
        with zipfile.ZipFile(expect) as a, zipfile.ZipFile(got) as b:
            assert a.namelist() == b.namelist()
            for name in a.namelist():
                assert a.read(name) == b.read(name), name
    store.add(spooled)
    assert_same_reference(ref, store.load("melody"))
    assert list(tmp_path.glob("*")) == [store.root]  # nothing spooled is left


def test_spooling_store_refuses_a_file_path(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="is a file"), ReferenceStore(tmp_path / "afile" / "s").spooling():
        pass


def test_same_name_needs_replace(store: ReferenceStore, ref: Reference, yin_config, yin_model, tmp_path) -> None:
    first = store.add(ref)
    with pytest.raises(StoreError, match="exists already"):
        store.add(ref)
    path = synth.write(tmp_path / "melody.wav", synth.tone(330.0, 1.0, SR), SR, "PCM_16")
    other = build_reference(path, yin_config, yin_model)
    assert other.name == ref.name
    second = store.add(other, replace=True)
    assert second["file"] != first["file"]
    assert not (store.root / first["file"]).exists()  # the old version's file is gone
    assert sorted(p.name for p in store.root.glob("*.npz")) == [second["file"]]
    assert len(store.load("melody").frames) == len(other.frames)


def test_bad_names(store: ReferenceStore, ref: Reference) -> None:
    for name in ("", ".hidden", "a/b", "../up", "x" * 101, "with space"):
        with pytest.raises(ParameterError, match="bad reference name"):
            check_name(name)
    with pytest.raises(ParameterError):
        store.add(Reference("../evil", ref.frames, ref.beats, ref.config, ref.meta))
    assert name_from_path("/x/My Song (take 2).flac") == "My_Song_take_2"
    assert name_from_path("...wav") == "reference"
    assert check_name(name_from_path("/x/" + "é" * 300 + ".wav"))


def test_unknown_name_lists_known(store: ReferenceStore, ref: Reference) -> None:
    store.add(ref)
    with pytest.raises(StoreError, match=r"no reference named 'other'.*have: melody"):
        store.load("other")


# -- refusals ------------------------------------------------------------------------


def test_other_configuration_is_refused(store: ReferenceStore, ref: Reference, yin_config: Config) -> None:
    store.add(ref)
    other = yin_config.replace(hop=yin_config.hop * 2)
    with pytest.raises(StoreError) as info:
        store.load("melody", expect=other)
    message = str(info.value)
    assert f"hop={yin_config.hop}" in message
    assert f"matcher reference add {ref.meta['source']} --name melody --force" in message  # how to rebuild


def test_other_feature_version_is_refused(store: ReferenceStore, ref: Reference, yin_config: Config) -> None:
    store.add(ref)
    index_path = store.root / "index.json"
    data = json.loads(index_path.read_text())
    data["references"]["melody"]["config"]["version"] = FEATURE_VERSION - 1
    index_path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"feature-code version .*rebuild it: matcher reference add"):
        store.load("melody", expect=yin_config)
    store.load("melody")  # without expectations it still loads (for show)


def test_unusable_stored_configuration(store: ReferenceStore, ref: Reference) -> None:
    store.add(ref)
    index_path = store.root / "index.json"
    data = json.loads(index_path.read_text())
    data["references"]["melody"]["config"]["hop"] = -1
    index_path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="stored configuration is unusable"):
        store.load("melody")


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_corrupt_feature_file_is_refused(store: ReferenceStore, ref: Reference, where: float) -> None:
    meta = store.add(ref)
    path = store.root / meta["file"]
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i : i + 4] = bytes(b ^ 0xFF for b in data[i : i + 4])
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        store.load("melody")


def test_missing_feature_file(store: ReferenceStore, ref: Reference) -> None:
    meta = store.add(ref)
    (store.root / meta["file"]).unlink()
    with pytest.raises(StoreError, match="missing"):
        store.load("melody")


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not json", b"[1, 2]", b"{}", b'{"references": []}', b'{"references": 3}', b"\xff\xfe\x00"],
    ids=["empty", "text", "list", "no-references", "references-list", "references-number", "binary"],
)
def test_garbage_index(store: ReferenceStore, ref: Reference, garbage: bytes) -> None:
    store.root.mkdir()
    (store.root / "index.json").write_bytes(garbage)
    for action in (store.names, lambda: store.load("melody"), lambda: store.add(ref), lambda: store.remove("x")):
        with pytest.raises(StoreError, match=r"index\.json"):
            action()
    assert (store.root / "index.json").read_bytes() == garbage  # left for the user to look at


# -- crashes and odd paths -------------------------------------------------------------


def test_leftover_temporary_files_are_not_references(store: ReferenceStore, ref: Reference) -> None:
    store.add(ref)
    for name in (".tmp-abc123.npz", ".tmp-def456.json", "orphan.0123abcd.npz", "notes.txt"):
        (store.root / name).write_bytes(b"partial")
    assert store.names() == ["melody"]
    store.load("melody")


def test_interrupted_feature_write_leaves_store_unchanged(
    store: ReferenceStore, ref: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(ref)
    before = (store.root / "index.json").read_bytes()
    files_before = sorted(p.name for p in store.root.iterdir())

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(reference_mod, "write_npz", lambda f, arrays: crash(f, **arrays))
    other = Reference("second", ref.frames, ref.beats, ref.config, ref.meta)
    with pytest.raises(KeyboardInterrupt):
        store.add(other)
    assert (store.root / "index.json").read_bytes() == before
    assert sorted(p.name for p in store.root.iterdir()) == files_before  # no temporary file left
    assert store.names() == ["melody"]


def test_failed_index_write_is_a_store_error(
    store: ReferenceStore, ref: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while the index is replaced: one StoreError, old index intact, no orphans."""
    store.add(ref)
    before = (store.root / "index.json").read_bytes()
    files_before = sorted(p.name for p in store.root.iterdir())
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("index.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(reference_mod.os, "replace", replace)
    with pytest.raises(StoreError, match="No space left"):
        store.add(Reference("second", ref.frames, ref.beats, ref.config, ref.meta))
    assert (store.root / "index.json").read_bytes() == before
    assert sorted(p.name for p in store.root.iterdir()) == files_before


def test_store_path_inside_a_file(tmp_path: Path, ref: Reference) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for root in (blocker, blocker / "store", blocker / "a" / "b"):
        store = ReferenceStore(root)
        for action in (lambda s=store: s.add(ref), store.names):
            with pytest.raises(StoreError) as info:
                action()
            assert f"{blocker} is a file, not a folder" in str(info.value)


def test_concurrent_adds_keep_every_reference(store: ReferenceStore, ref: Reference) -> None:
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            ReferenceStore(store.root).add(Reference(f"r{i}", ref.frames, ref.beats, ref.config, ref.meta))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.names() == [f"r{i}" for i in range(6)]
    assert len(list(store.root.glob("*.npz"))) == 6


def test_default_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MATCHER_HOME", raising=False)
    assert default_store_path() == Path("references")
    monkeypatch.setenv("MATCHER_HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home"
    assert ReferenceStore().root == tmp_path / "home"
    assert repr(ReferenceStore(tmp_path)) == f"ReferenceStore({str(tmp_path)!r})"
