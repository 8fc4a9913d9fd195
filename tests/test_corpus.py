"""The evaluation corpus: pairing rules, rendered conditions and the tracking metrics.

Pairing runs on a small ASAP-like tree made here (and on the real data when
/work/shared/data/asap is present); rendering needs fluidsynth/timidity/sox and is skipped
without them; the metrics use textbook cases.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from matcher.evaluation import conditions as cond
from matcher.evaluation import corpus, corpus_check, corpus_runs, tracking

LABELS_A = ["db,4/4,0", "b", "b", "b", "db", "b", "b", "b"]
LABELS_B = ["db,3/4,0", "b", "b", "db", "b", "b", "db", "b"]


def _write_perf(
    root: Path, folder: str, stem: str, labels: list[str], split: str, rows: list[dict], times: np.ndarray | None = None
) -> None:
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{stem}.mid").write_bytes(b"")
    times = 0.7 + 0.5 * np.arange(len(labels)) if times is None else times
    (d / f"{stem}_annotations.txt").write_text(
        "".join(f"{t:.6f}\t{t:.6f}\t{lab}\n" for t, lab in zip(times, labels, strict=True))
    )
    rows.append({"folder": folder, "midi_performance": f"{folder}/{stem}.mid",
                 "performance_annotations": f"{folder}/{stem}_annotations.txt", "split": split})  # fmt: skip


@pytest.fixture
def fake_asap(tmp_path: Path) -> Path:
    """Dev: folder A with 6 performances of one label sequence and 1 odd one; folder B with
    two of one sequence and two of another; folder C with 1. Validation: folder V with 5
    (labels B), folder S with 2 of 40 beats, one of which skipped 10 of them."""
    rows: list[dict] = []
    for k in range(6):
        _write_perf(tmp_path, "Comp/A", f"a{k}", LABELS_A, "dev", rows)
    _write_perf(tmp_path, "Comp/A", "odd", LABELS_A[:-1], "dev", rows)
    for k in range(2):
        _write_perf(tmp_path, "Comp/B", f"b{k}", LABELS_A, "dev", rows)
        _write_perf(tmp_path, "Comp/B", f"c{k}", LABELS_B, "dev", rows)
    _write_perf(tmp_path, "Comp/C", "c0", LABELS_A, "dev", rows)
    for k in range(5):
        _write_perf(tmp_path, "Comp/V", f"v{k}", LABELS_B, "validation", rows)
    labels_s = (LABELS_A * 5)[:40]
    _write_perf(tmp_path, "Comp/S", "whole", labels_s, "validation", rows)
    # ASAP's way of marking a repeat not taken: the skipped beats stacked at one instant
    stacked = np.r_[0.5 * np.arange(20), 9.6 + 0.01 * np.arange(10), 9.8 + 0.5 * np.arange(10)]
    _write_perf(tmp_path, "Comp/S", "skipped", labels_s, "validation", rows, stacked)
    with open(tmp_path / "metadata.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return tmp_path


def _check_pairs(pairs: list[corpus.Pair], split: str, perfs: list[corpus.Performance]) -> None:
    split_of = {p.midi: p.split for p in perfs}
    counts: dict[str, int] = {}
    for p in pairs:
        assert p.split == split and split_of[p.ref.midi] == split and split_of[p.take.midi] == split
        assert p.ref.folder == p.take.folder == p.folder
        assert p.ref.midi != p.take.midi
        assert p.ref.beats()[1] == p.take.beats()[1]
        take_t, ref_t = p.beats()
        assert len(take_t) == len(ref_t) == len(p.ref.beats()[1])
        counts[p.folder] = counts.get(p.folder, 0) + 1
    assert max(counts.values()) <= corpus.CAPS[split]
    keys = [frozenset((p.ref.midi, p.take.midi)) for p in pairs]
    assert len(keys) == len(set(keys))


def test_pairing_rules_on_a_fake_tree(fake_asap: Path) -> None:
    perfs = corpus.load_metadata(fake_asap)
    dev = corpus.make_pairs(perfs, "dev", seed=3)
    _check_pairs(dev, "dev", perfs)
    by_folder = {f: [p for p in dev if p.folder == f] for f in ("Comp/A", "Comp/B", "Comp/C")}
    assert len(by_folder["Comp/A"]) == 3  # capped; 15 candidates
    # three pairs out of six like performances use six different performances
    assert len({m for p in by_folder["Comp/A"] for m in (p.ref.midi, p.take.midi)}) == 6
    assert all("odd" not in p.name for p in dev)  # its labels match no one's
    assert len(by_folder["Comp/B"]) == 2  # one per label group, never across groups
    assert not by_folder["Comp/C"]  # a single performance pairs with no one
    val = corpus.make_pairs(perfs, "validation", seed=3)
    _check_pairs(val, "validation", perfs)
    assert len(val) == 2 and {p.folder for p in val} == {"Comp/V"}  # not Comp/S: one skipped


def test_a_skipped_passage_is_told_from_ornaments() -> None:
    beats = 0.5 * np.arange(40.0)
    assert not corpus.skips_passage(beats)
    grace = beats.copy()
    grace[10:17] = grace[10] + 0.02 * np.arange(7)  # six stacked intervals: below the run
    assert not corpus.skips_passage(grace)
    skipped = beats.copy()
    skipped[10:19] = skipped[10] + 0.02 * np.arange(9)  # eight: a passage not played
    assert corpus.skips_passage(skipped)


def test_pairing_is_seeded(fake_asap: Path) -> None:
    perfs = corpus.load_metadata(fake_asap)
    names = [p.name for p in corpus.make_pairs(perfs, "dev", seed=5)]
    assert names == [p.name for p in corpus.make_pairs(perfs, "dev", seed=5)]
    draws = {tuple(p.name for p in corpus.make_pairs(perfs, "dev", seed=s)) for s in range(8)}
    assert len(draws) > 1
    # a folder's draw does not depend on the other folders
    only_a = [p for p in perfs if p.folder == "Comp/A"]
    a_names = [p.name for p in corpus.make_pairs(only_a, "dev", seed=5)]
    assert a_names == [n for n in names if n.startswith("Comp/A/")]


def test_pair_with_other_labels_refuses_its_beats(fake_asap: Path) -> None:
    perfs = {p.midi.stem: p for p in corpus.load_metadata(fake_asap)}
    with pytest.raises(ValueError, match="label sequences differ"):
        corpus.Pair("dev", "Comp/A", perfs["a0"], perfs["odd"]).beats()
    with pytest.raises(ValueError, match="unknown split"):
        corpus.make_pairs(list(perfs.values()), "test")


@pytest.mark.skipif(not (corpus.DATA_ROOT / "metadata.csv").exists(), reason="ASAP data absent")
def test_pairing_rules_on_asap() -> None:
    perfs = corpus.load_metadata()
    for split in corpus.SPLITS:
        pairs = corpus.make_pairs(perfs, split)
        _check_pairs(pairs, split, perfs)
        assert [p.name for p in pairs] == [p.name for p in corpus.make_pairs(perfs, split)]
        quick = corpus.quick_pairs(pairs)
        assert 1 <= len(quick) <= 3 and len({p.folder for p in quick}) == len(quick)
    dev_folders = {p.folder for p in perfs if p.split == "dev"}
    val_folders = {p.folder for p in perfs if p.split == "validation"}
    assert not dev_folders & val_folders


# -- conditions ----------------------------------------------------------------------------


def _tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * cond.SR)) / cond.SR
    return 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2


def _snr_db(name: str, dry: np.ndarray) -> float:
    c = cond.CONDITIONS[name]
    y = cond.apply_condition(dry, c, seed=1)
    clean = dry * cond.PEAK / np.max(np.abs(dry))
    return 20 * np.log10(cond.rms(clean) / cond.rms(y - clean))


@pytest.mark.parametrize(("name", "snr"), [("white-30", 30.0), ("room-tone-10", 10.0)])
def test_noise_conditions_have_their_snr_and_length(name: str, snr: float) -> None:
    dry = _tone()
    assert _snr_db(name, dry) == pytest.approx(snr, abs=0.01)
    assert len(cond.apply_condition(dry, cond.CONDITIONS[name])) == len(dry)


def test_noise_kinds_have_their_colour() -> None:
    rng = np.random.default_rng(0)
    low = {}
    for kind in cond.NOISE_KINDS:
        x = cond.make_noise(kind, cond.SR * 4, rng)
        assert cond.rms(x) == pytest.approx(1.0)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / cond.SR)
        low[kind] = spec[(f > 20) & (f < 500)].sum() / spec[f > 20].sum()  # share of power below 500 Hz
    assert low["white"] < 0.1 < low["pink"] < low["room"]


def test_level_condition() -> None:
    dry = _tone()
    y = cond.apply_condition(dry, cond.CONDITIONS["level-20"])
    assert 20 * np.log10(np.max(np.abs(y)) / cond.PEAK) == pytest.approx(-20.0, abs=1e-6)


def test_conditions_are_named_and_hardest_is_hard() -> None:
    assert len(cond.CONDITIONS) >= 6 and set(cond.QUICK) <= set(cond.CONDITIONS)
    h = cond.CONDITIONS["hardest"]
    assert h.engine != cond.REFERENCE.engine and h.noise == "pink" and h.snr_db == 10.0
    assert h.sox[0] == "reverb" and float(h.sox[1]) >= 70
    assert cond.CONDITIONS["a446"].time_scale == pytest.approx(440 / 446, abs=1e-4)


def test_instrument_conditions_play_reference_and_take_on_their_instrument() -> None:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("note_on", channel=0, note=60, velocity=90, time=100))
    track.append(mido.Message("program_change", channel=0, program=5, time=50))
    track.append(mido.Message("note_on", channel=1, note=48, velocity=90, time=30))
    track.append(mido.Message("program_change", channel=9, program=0, time=0))
    track.append(mido.Message("note_on", channel=9, note=36, velocity=90, time=20))
    violin = cond.CONDITIONS["violin"]
    out = cond.with_instrument(mid, violin.instrument)
    events = list(out.tracks[0])
    changes = [(m.channel, m.program) for m in events if m.type == "program_change"]
    assert changes == [(0, 40), (1, 40), (9, 0)]  # melodic channels first; drums untouched
    assert all(m.time == 0 for m in events[:2])

    def onsets(tr: mido.MidiTrack) -> list[tuple[int, int]]:
        return [(m.channel, t) for m, t in zip(tr, np.cumsum([m.time for m in tr]), strict=True) if m.type == "note_on"]

    assert onsets(out.tracks[0]) == onsets(track) == [(0, 100), (1, 180), (9, 200)]
    # The reference plays the condition's instrument too; piano conditions keep theirs
    # (and their cache folders: no instrument key).
    ref = cond.reference_for(violin)
    assert ref.instrument == 40 and ref.engine == cond.REFERENCE.engine and ref.sox == ()
    assert cond.reference_for(cond.CONDITIONS["hardest"]) is cond.REFERENCE
    assert "instrument" not in cond.CONDITIONS["hardest"].to_dict()
    assert set(cond.INSTRUMENTS).isdisjoint(cond.PIANO) and set(cond.QUICK) <= set(cond.PIANO)
    with pytest.raises(ValueError, match="0-127"):
        cond.Condition("x", cond.FLUID, instrument=128)


def _tiny_midi(path: Path, first_s: float = 0.8) -> None:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)  # default tempo 120 bpm: 960 ticks a second
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("note_on", note=60, velocity=90, time=round(first_s * 960)))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    track.append(mido.Message("note_on", note=64, velocity=90, time=0))
    track.append(mido.Message("note_off", note=64, velocity=0, time=480))
    mid.save(str(path))


def _first_sound(x: np.ndarray) -> float:
    return float(np.flatnonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (-50 / 20))[0] / cond.SR)


@pytest.mark.skipif(bool(cond.missing_tools()), reason="fluidsynth/timidity/sox or soundfonts absent")
@pytest.mark.parametrize("name", ["clean", "engine", "room-large", "a446"])
def test_render_keeps_midi_time_zero(tmp_path: Path, name: str) -> None:
    """TiMidity without --preserve-silence would start at the first note (0.8 s early)."""
    import soundfile as sf

    midi = tmp_path / "x.mid"
    _tiny_midi(midi)
    c = cond.CONDITIONS[name]
    out = cond.render(midi, c, tmp_path / f"{name}.flac")
    y, sr = sf.read(out)
    assert sr == cond.SR and y.ndim == 1
    assert _first_sound(y) == pytest.approx(0.8 * c.time_scale, abs=0.02)
    assert len(y) / sr >= 1.8 * c.time_scale


@pytest.mark.skipif(bool(cond.missing_tools()), reason="fluidsynth/timidity/sox or soundfonts absent")
def test_renders_of_one_take_at_once_both_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two evaluations rendering the same take into the cache at once: each writes a
    temporary file of its own (with a shared one, the second rename found it gone)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import soundfile as sf

    midi = tmp_path / "x.mid"
    _tiny_midi(midi)
    out = tmp_path / "cache" / "clean.flac"
    both_written = threading.Barrier(2, timeout=60)
    write = sf.write

    def write_then_wait(*args: object, **kwargs: object) -> None:
        write(*args, **kwargs)
        both_written.wait()  # neither renames before both have written

    monkeypatch.setattr(cond.sf, "write", write_then_wait)
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: cond.render(midi, cond.CONDITIONS["clean"], out), range(2)))
    assert done == [out, out]
    y, sr = sf.read(out)
    assert sr == cond.SR and len(y) > sr
    assert sorted(p.name for p in out.parent.iterdir()) == ["clean.flac"]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox absent")
def test_sox_effects_keep_the_length() -> None:
    dry = _tone(1.0)
    for name in ("room-large", "phone", "mic-tilt"):
        y = cond.apply_condition(dry, cond.CONDITIONS[name])
        assert len(y) == len(dry) and np.all(np.isfinite(y))


# -- tracking metrics ----------------------------------------------------------------------


def test_exact_answers_have_no_error() -> None:
    take = np.arange(0.5, 60.0, 0.5)
    ref = take * 1.2 + 0.3
    e = tracking.beat_errors(take, ref, take, ref)
    assert np.max(e) == pytest.approx(0.0, abs=1e-9)
    s = tracking.shares(e)
    assert s["within_50"] == 100.0 and s["median_ms"] == pytest.approx(0.0, abs=1e-9)
    assert tracking.tracked(take, e) == (True, 0, len(tracking.windows(take, e)))


def test_window_lost_when_median_error_exceeds_beat_period() -> None:
    take = np.arange(0.0, 70.0, 0.5)  # period 0.5 s
    e = np.zeros(len(take))
    e[(take >= 20.0) & (take < 50.0)] = 600.0  # 0.6 s > 0.5 s: the window 20-50 s is lost
    ok, lost, n = tracking.tracked(take, e)
    assert not ok and lost >= 1 and n == 5  # windows from 0, 10, 20, 30, 40 s
    lost_starts = [w.start for w in tracking.windows(take, e) if w.lost]
    assert 20.0 in lost_starts and 0.0 not in lost_starts
    e[e > 0] = 400.0  # below the period: nothing lost
    assert tracking.tracked(take, e)[0]


def test_false_moves() -> None:
    t = np.arange(0, 20, 0.016)
    ref_t = t.copy()
    ref_t[t >= 10.0] -= 1.5  # jumps back 1.5 s at 10 s
    ref_t[t >= 15.0] += 0.9  # a 0.9 s step is no move
    at = tracking.false_moves(t, ref_t)
    assert len(at) == 1 and at[0] == pytest.approx(10.0, abs=0.02)
    assert len(tracking.false_moves(t, ref_t, edits=(9.99,))) == 0  # a jump after an edit is not false
    assert tracking.per_hour(1, 1800.0) == pytest.approx(2.0)


def test_pooled_and_folder_mean() -> None:
    f = tracking.pooled_and_folder_mean({"a": [np.zeros(30)], "b": [np.full(10, 500.0)]})
    assert f["pooled"]["within_50"] == pytest.approx(75.0)
    assert f["folder_mean"]["within_50"] == pytest.approx(50.0) and f["folder_mean"]["n"] == 2


# -- synthetic percussion --------------------------------------------------------------------


def test_percussion_pairs_are_beat_aligned_and_seeded(tmp_path: Path) -> None:
    import mido

    from matcher.evaluation import percussion

    pairs = percussion.percussion_pairs("validation", tmp_path, seed=4, n=2)
    assert [p.folder for p in pairs] == ["percussion/validation/0", "percussion/validation/1"]
    for p in pairs:
        take_t, ref_t = p.beats()  # raises unless the label sequences are equal
        assert len(take_t) == len(ref_t) == 6 * percussion.CYCLE_BEATS
        assert np.all(np.diff(take_t) > 0) and np.ptp(np.diff(take_t)) > 0.05  # the take's tempo moves
        on = []
        t = 0.0
        for msg in mido.MidiFile(str(p.take.midi)):
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                on.append(t)
                assert msg.channel == 9
        d = np.min(np.abs(np.asarray(on)[:, None] - take_t[None, ::12]), axis=0)
        assert np.max(d) < 0.04  # every cycle's first beat has a stroke, jittered a few ms
    again = percussion.percussion_pairs("validation", tmp_path / "b", seed=4, n=2)
    assert [p.take.midi.read_bytes() for p in pairs] == [p.take.midi.read_bytes() for p in again]


# -- selection, figures and checks of the corpus tools ----------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(bool(cond.missing_tools()), reason="fluidsynth/timidity/sox or soundfonts absent")
def test_pairs_run_in_two_processes_as_in_one(tmp_path: Path) -> None:
    """``jobs=2`` gives the rows one process gives, in the pairs' order."""
    from matcher.evaluation import percussion
    from matcher.follow import FollowParams

    pairs = percussion.percussion_pairs("validation", tmp_path, seed=4, n=2)
    args = (pairs, ["clean"], ["compare"], FollowParams(), tmp_path)
    one, rendered, _ = corpus_runs.run_pairs(*args, jobs=1)
    two, rendered_two, _ = corpus_runs.run_pairs(*args, jobs=2)
    assert [r["pair"] for r in two] == [r["pair"] for r in one] == [p.name for p in pairs]
    assert [r.take_audio for r in rendered_two] == [r.take_audio for r in rendered]
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(b["errors"], a["errors"])
        assert b["tracked"] == a["tracked"]


# Two percussion pairs under every piano condition in two processes: long enough to be
# stopped while a worker renders.
STOPPED_RUN = """
import sys
from pathlib import Path
from matcher.evaluation import corpus_runs, percussion
from matcher.evaluation import conditions as cond
from matcher.follow import FollowParams
out = Path(sys.argv[1])
pairs = percussion.percussion_pairs("validation", out, seed=4, n=2)
corpus_runs.run_pairs(pairs, list(cond.PIANO), ["follow"], FollowParams(), out / "cache", jobs=2)
print("finished", flush=True)
"""


def _descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (from /proc: children, their children, ...)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parent.items() if p in frontier} - found
        found |= frontier
    return found


@pytest.mark.slow
@pytest.mark.skipif(bool(cond.missing_tools()), reason="fluidsynth/timidity/sox or soundfonts absent")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_run_stopped_by_sigterm_stops_its_workers_and_their_renderers(tmp_path: Path) -> None:
    """Killing eval_corpus.py --jobs 2 with SIGTERM used to leave both workers running
    (each going on through its pairs) and a renderer's temporary folder behind."""
    temp = tmp_path / "temp"
    temp.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-c", STOPPED_RUN, str(tmp_path / "run")],
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        below = _descendants(run.pid)
        seen |= below
        if any(_descendants(w) for w in below):  # a worker's renderer is running
            break
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before a renderer was seen"
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=60)
    assert "finished" not in out
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in seen):
        time.sleep(0.1)
    assert not [p for p in seen if Path(f"/proc/{p}").exists()]
    assert not list(temp.iterdir())


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    corpus_runs.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_options_choose_pairs_and_conditions(fake_asap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "DATA_ROOT", fake_asap)
    pairs, names = corpus_runs.selected(_options(["--split", "validation"]))
    assert [p.folder for p in pairs] == ["Comp/V", "Comp/V"] and names == list(cond.PIANO)
    pairs, names = corpus_runs.selected(_options(["--pairs", "1", "--conditions", "phone", "clean"]))
    assert len(pairs) == 1 and pairs[0].split == "dev" and names == ["phone", "clean"]
    pairs, names = corpus_runs.selected(_options(["--quick"]))
    assert names == list(cond.QUICK) and len({p.folder for p in pairs}) == len(pairs) <= 3
    seeded = [p.name for p in corpus_runs.selected(_options(["--seed", "5"]))[0]]
    assert seeded == [p.name for p in corpus.make_pairs(corpus.load_metadata(fake_asap), "dev", seed=5)]


def test_scored_rows_pool_into_the_figures_table(fake_asap: Path) -> None:
    pair = corpus.make_pairs(corpus.load_metadata(fake_asap), "validation", seed=3)[0]
    take_t, ref_t = pair.beats()
    rendered = corpus.RenderedPair(pair, "clean", Path("r.flac"), Path("t.flac"), take_t, ref_t)
    t = np.arange(0.0, 5.0, 0.01)
    right = np.interp(t, take_t, ref_t)
    rows = []
    for late_s in (0.0, 0.15):  # exactly right, then 150 ms late everywhere
        row = corpus_runs.score(rendered, t, right + late_s, 1800.0, online=True)
        rows.append({"folder": pair.folder, "seconds": 1.0, **row})
    assert rows[0]["false_moves"] == 0 and rows[0]["tracked"]
    f = corpus_runs.aggregate(rows)
    assert f["pooled"]["within_100"] == pytest.approx(50.0) and f["pooled"]["within_200"] == pytest.approx(100.0)
    assert f["tracked_pct"] == pytest.approx(100.0) and f["false_moves_per_hour"] == 0.0 and f["take_hours"] == 1.0
    text = corpus_runs.figures_table("title", {"clean": {"follow": f}, "pooled": {"follow": f}})
    lines = text.splitlines()
    assert lines[1] == "title" and len(lines) == 5
    assert lines[3].split()[:4] == ["clean", "follow", "50.0%", "50.0%"]


def test_beat_to_onset_distances() -> None:
    onsets = np.array([0.0, 1.0, 2.0, 3.0])
    med, p90 = corpus_check.beat_to_onset_ms(np.array([0.01, 1.0, 2.03, 2.9]), onsets)
    assert med == pytest.approx(20.0) and p90 == pytest.approx(30 + 0.7 * (100 - 30))
