"""matcher.evaluation.score_following (tools/eval_score_following.py): errors on the take's
axis in beats times the take's local beat period, the pieces chosen, the tempo map's
inverse, and the figures pooled per condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_notation import needs_fluidsynth, write_midi

from matcher.config import Config
from matcher.evaluation import score_following as esf
from matcher.evaluation import tracking
from matcher.features import NoPitch
from matcher.follow import follow_blocks
from matcher.notation.render import TempoMap


def test_errors_are_beats_times_the_takes_local_period() -> None:
    ref_beats = 0.5 + np.arange(20) * 0.5  # the score at 120 bpm
    take_beats = 1.0 + np.arange(20) * 0.75  # the player at 80 bpm
    # a follower that is exactly right, reporting every 10 ms
    t = np.arange(0.0, 20.0, 0.01)
    exact = np.interp(t, take_beats, ref_beats)
    err, period = esf.beat_errors_ms(take_beats, ref_beats, t, exact)
    np.testing.assert_allclose(err, 0.0, atol=1e-6)
    np.testing.assert_allclose(period, 750.0)
    # a quarter of a score beat late everywhere: 0.25 x 750 ms on the take's axis
    err, _ = esf.beat_errors_ms(take_beats, ref_beats, t, exact + 0.125)
    np.testing.assert_allclose(err[1:-1], 187.5, rtol=1e-6)
    assert tracking.tracked(take_beats, err)[0]
    bad = err.copy()
    bad[:] = 2000.0
    assert not tracking.tracked(take_beats, bad)[0]


def test_player_qpm_is_the_takes_mean_tempo() -> None:
    tempo = TempoMap(np.array([0.0, 8.0, 20.0]), np.array([60.0, 120.0, 90.0]))
    q = np.array([0.0, 3.5, 8.0, 13.25, 20.0, 31.0])
    np.testing.assert_allclose(tempo.quarters(tempo.seconds(q)), q, atol=1e-9)
    # the take's mean tempo: 32 quarters of the marks played in 16 s
    beats = tempo.seconds(np.arange(33.0)) - tempo.lead_s
    assert esf.player_qpm(tempo, beats, np.linspace(0.0, 16.0, 33)) == 120.0


def _annotations(path: Path, labels: list[str], period: float) -> None:
    """Beats every ``period`` s; a negative period stacks the middle ten at one instant
    (ASAP's mark of a passage not played) and spaces the rest by its size."""
    times = np.arange(len(labels)) * abs(period)
    if period < 0:
        times[5:] -= np.minimum(np.arange(len(labels) - 5), 9) * abs(period) * 0.99
    path.write_text("".join(f"{t}\t{t}\t{lab}\n" for t, lab in zip(times, labels, strict=True)))


def test_pieces_are_folders_with_a_performance_whose_labels_are_the_scores(tmp_path: Path) -> None:
    head = "composer,title,folder,xml_score,midi_score,midi_performance,performance_annotations,"
    lines = [head + "midi_score_annotations,split"]
    score = ["db,4/4,0", "b", "b", "b"] + ["db", "b", "b", "b"] * 4
    for folder, perfs in {"A/x": [("p1", score, 0.5), ("p2", score, 0.4), ("p3", score[:-1], 0.1),
                                  ("p4", score, -0.3)],
                          "A/y": [("q1", ["db", "b"], 0.5)]}.items():  # fmt: skip
        (tmp_path / folder).mkdir(parents=True)
        _annotations(tmp_path / folder / "midi_score_annotations.txt", score, 0.5)
        for name, labels, period in perfs:
            _annotations(tmp_path / folder / f"{name}_annotations.txt", labels, period)
            lines.append(f"c,t,{folder},,{folder}/midi_score.mid,{folder}/{name}.mid,{folder}/{name}_annotations.txt,"
                         f"{folder}/midi_score_annotations.txt,validation")  # fmt: skip
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n")
    pieces = esf.score_pieces("validation", root=tmp_path)
    # A/y's only performance has other beats; A/x's shortest matching one is p2 (p3 is
    # shorter, one beat short; p4 too, but it skipped a passage)
    assert [p.name for p in pieces] == ["A/x/p2"]
    assert esf.score_pieces("dev", root=tmp_path) == []


def _scored(errors: list[float], ok: bool = True) -> esf.Scored:
    return esf.Scored(np.array(errors), ok, 0 if ok else 1, 1.0)


def test_methods_pool_their_beats_per_condition_and_over_all() -> None:
    rows = [
        {"condition": "soundfont", "online": _scored([10.0, 60.0, 400.0]), "offline": _scored([0.0])},
        {"condition": "hardest", "online": _scored([20.0], ok=False)},
    ]
    s = esf.summarise(rows, "online")
    got = [s[k] for k in ("within_50", "within_100", "within_300", "median_ms", "tracked", "takes")]
    assert got == [50.0, 75.0, 75.0, 40.0, 50.0, 2]
    assert esf.summarise(rows, "mm_arzt") == {}
    figures = esf.by_condition(rows, ["online", "offline"])
    assert list(figures) == ["soundfont", "hardest", "pooled"]
    assert list(figures["hardest"]) == ["online"] and figures["hardest"]["online"]["within_50"] == 100.0
    table = esf.summary_table(figures).splitlines()
    want = ["soundfont online", "soundfont offline", "hardest online", "pooled online", "pooled offline"]
    assert [" ".join(r.split()[:2]) for r in table[1:]] == want


def test_beats_on_a_note_are_told_from_beats_in_held_notes() -> None:
    onsets = np.array([0.0, 0.49, 1.2, 2.0])
    beats = np.array([0.0, 0.5, 1.0, 1.5, 2.03])
    assert esf.played_beats(onsets, beats).tolist() == [True, True, False, False, True]
    assert esf.played_beats(np.zeros(0), beats).tolist() == [False] * 5
    rows = [{"condition": "c", "played": [True, True, False, False], "online": _scored([10.0, 70.0, 20.0, 90.0])}]
    s = esf.summarise(rows, "online")
    assert (s["within_50_played"], s["within_50_unplayed"], s["unplayed_share"]) == (50.0, 50.0, 50.0)
    rows[0]["online"] = _scored([10.0, 20.0, 70.0, 90.0])
    s = esf.summarise(rows, "online")
    assert (s["within_50_played"], s["within_50_unplayed"]) == (100.0, 0.0)
    assert "100.0/  0.0%" in esf.summary_table(esf.by_condition(rows, ["online"]))


@needs_fluidsynth
def test_a_score_reference_is_built_once_and_then_read_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    """The tool keeps built score references (keyed by the score's bytes and the settings):
    the second call with the same settings reads the store and gives the same reference and
    rendering, so the follower follows it alike; another tempo is another reference."""
    config = Config(pitch_backend="yin")
    score, cache = write_midi(tmp_path / "s.mid"), tmp_path / "cache"
    built = []
    real = esf.build_score_reference
    monkeypatch.setattr(esf, "build_score_reference", lambda *a, **k: built.append(1) or real(*a, **k))
    first = esf.score_reference(score, config, NoPitch(config), None, None, tmp_path / "a.wav", cache)
    again = esf.score_reference(score, config, NoPitch(config), None, None, tmp_path / "b.wav", cache)
    assert len(built) == 1 and again.name == first.name == "score"
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    for name, array in first.frames.arrays().items():
        np.testing.assert_array_equal(again.frames.arrays()[name], array)
    np.testing.assert_array_equal(again.beats.times, first.beats.times)
    assert again.score is not None and again.score.to_dict() == first.score.to_dict()
    blocks = [b for b, _ in esf.file_blocks(tmp_path / "a.wav", config.sr)]
    np.testing.assert_array_equal(follow_blocks(again, iter(blocks)).ref_t, follow_blocks(first, iter(blocks)).ref_t)
    esf.score_reference(score, config, NoPitch(config), 80.0, None, tmp_path / "c.wav", cache)
    assert len(built) == 2
