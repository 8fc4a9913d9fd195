"""Scores as references (matcher.notation): small scores the tests write themselves —
MusicXML (plain and compressed), MIDI (mido) and MEI — with a pickup, a time-signature
change, repeats and a tempo change; bars and beats must be the score's.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest

from matcher import Config, InputFileError, ParameterError, ReferenceStore, YinModel, build_reference, compare
from matcher.align import onset_peaks
from matcher.follow import Follower, FollowParams
from matcher.notation import (
    ScoreInfo,
    TempoMap,
    build_score_reference,
    is_score_file,
    practice_against_score,
    read_score,
    render_audio,
    score_position,
)
from matcher.notation.render import LEAD_S

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth program not installed")

STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


# -- writing small scores -------------------------------------------------------------


def _note(pitch: str, divs: int, kind: str = "quarter") -> str:
    """``pitch`` like ``"F#5"``; ``"r"`` for a rest. Divisions: 2 per quarter."""
    if pitch == "r":
        return f"<note><rest/><duration>{divs}</duration><type>{kind}</type></note>"
    step, alter, octave = pitch[0], pitch[1:-1], pitch[-1]
    alt = {"#": "<alter>1</alter>", "b": "<alter>-1</alter>", "": ""}[alter]
    return (
        f"<note><pitch><step>{step}</step>{alt}<octave>{octave}</octave></pitch>"
        f"<duration>{divs}</duration><type>{kind}</type></note>"
    )


def _measure(
    number: str,
    notes: list[tuple[str, int]],
    time: tuple[int, int] | None = None,
    tempo: float | None = None,
    implicit: bool = False,
    forward: bool = False,
    backward: bool = False,
) -> str:
    attrs = "<divisions>2</divisions>" if number in ("0", "1") else ""
    if time:
        attrs += f"<time><beats>{time[0]}</beats><beat-type>{time[1]}</beat-type></time>"
    body = f"<attributes>{attrs}</attributes>" if attrs else ""
    if forward:
        body = '<barline location="left"><repeat direction="forward"/></barline>' + body
    if tempo:
        body += f'<direction><direction-type><words>tempo</words></direction-type><sound tempo="{tempo}"/></direction>'
    body += "".join(_note(p, d) for p, d in notes)
    if backward:
        body += '<barline location="right"><bar-style>light-heavy</bar-style><repeat direction="backward"/></barline>'
    imp = ' implicit="yes"' if implicit else ""
    return f'<measure number="{number}"{imp}>{body}</measure>'


def musicxml(measures: list[str], program: int | None = None, name: str = "Piano") -> str:
    midi = f"<midi-instrument id='P1-I1'><midi-program>{program}</midi-program></midi-instrument>" if program else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<score-partwise version="3.1"><part-list>'
        f'<score-part id="P1"><part-name>{name}</part-name>{midi}</score-part></part-list>'
        f'<part id="P1">{"".join(measures)}</part></score-partwise>\n'
    )


Q = 2  # divisions per quarter


def pickup_score() -> str:
    """3/4 with a one-beat pickup (bar 0), bars 1-2 repeated, then bar 3 in 2/4 at 150 qpm."""
    return musicxml(
        [
            _measure("0", [("G4", Q)], time=(3, 4), tempo=100, implicit=True),
            _measure("1", [("C5", Q), ("D5", Q), ("E5", Q)], forward=True),
            _measure("2", [("F#5", 3 * Q)], backward=True),
            _measure("3", [("G5", Q), ("A5", Q)], time=(2, 4), tempo=150),
        ]
    )


def flute_score() -> str:
    """The same with a flute (General MIDI program 74, counted from 1 in MusicXML)."""
    return pickup_score().replace(
        "<part-name>Piano</part-name>",
        "<part-name>Flute</part-name><midi-instrument id='P1-I1'><midi-program>74</midi-program></midi-instrument>",
    )


@pytest.fixture
def pickup_file(tmp_path: Path) -> Path:
    path = tmp_path / "piece.musicxml"
    path.write_text(pickup_score(), encoding="utf-8")
    return path


def write_midi(path: Path, notes: list[int] | None = None, program: int = 0) -> Path:
    """3/4 at 100 qpm for two bars, then 2/4 at 150 qpm for two bars; quarter notes."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=600000, time=0))
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76] if notes is None else notes
    for i, p in enumerate(pitches):
        if i == 6:
            track.append(mido.MetaMessage("time_signature", numerator=2, denominator=4, time=0))
            track.append(mido.MetaMessage("set_tempo", tempo=400000, time=0))
        track.append(mido.Message("note_on", note=p, velocity=80, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=480))
    if not pitches:
        track.append(mido.MetaMessage("end_of_track", time=4 * 480))
    mid.save(str(path))
    return path


MEI = """<?xml version="1.0" encoding="UTF-8"?>
<mei xmlns="http://www.music-encoding.org/ns/mei" meiversion="4.0.1">
 <meiHead><fileDesc><titleStmt><title>t</title></titleStmt><pubStmt/></fileDesc></meiHead>
 <music><body><mdiv><score>
  <scoreDef meter.count="4" meter.unit="4">
   <staffGrp><staffDef n="1" lines="5" clef.shape="G" clef.line="2"/></staffGrp>
  </scoreDef>
  <section>
   <measure n="1"><staff n="1"><layer n="1">
     <note pname="c" oct="4" dur="4"/><note pname="d" oct="4" dur="4"/>
     <note pname="e" oct="4" dur="4"/><note pname="f" oct="4" dur="4" accid="s"/>
   </layer></staff></measure>
   <measure n="2"><staff n="1"><layer n="1">
     <note pname="g" oct="4" dur="2"/><note pname="a" oct="4" dur="2"/>
   </layer></staff></measure>
  </section>
 </score></mdiv></body></music>
</mei>
"""


def write_mxl(path: Path, xml: str) -> Path:
    container = (
        '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
        '<rootfile full-path="score.xml" media-type="application/vnd.recordare.musicxml+xml"/>'
        "</rootfiles></container>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.recordare.musicxml")
        zf.writestr("META-INF/container.xml", container)
        zf.writestr("score.xml", xml)
    return path


# -- structure: bars, beats, repeats, tempo -------------------------------------------


def test_is_score_file() -> None:
    for name in ("a.musicxml", "a.MXL", "a.xml", "a.mid", "a.midi", "a.mei"):
        assert is_score_file(name)
    for name in ("a.wav", "a.flac", "a.csv", "a"):
        assert not is_score_file(name)


def test_pickup_repeats_and_time_signature_change(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    assert info.bar_numbers == ("0", "1", "2", "1", "2", "3")
    assert info.bar_passes.tolist() == [1, 1, 1, 2, 2, 1]
    # the pickup is the last beat of a 3/4 bar; bar 3 is in 2/4
    assert info.beat_in_bar.tolist() == [3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2]
    assert [info.bar_numbers[b] for b in info.beat_bar] == ["0"] + ["1"] * 3 + ["2"] * 3 + ["1"] * 3 + ["2"] * 3 + [
        "3"
    ] * 2
    assert [(s["bar"], s["signature"]) for s in info.time_signatures] == [("0", "3/4"), ("3", "2/4")]
    assert [s["label"] for s in info.sections] == ["bars 0-2", "bars 1-2 (pass 2)", "bar 3"]
    beats = info.beats()
    # bars counted as the score counts them: the pickup beat sits at the end of bar 0
    np.testing.assert_allclose(beats.bars[:5], [2 / 3, 1.0, 4 / 3, 5 / 3, 2.0])
    np.testing.assert_allclose(beats.bars[-2:], [5.0, 5.5])
    assert beats.beats_per_bar == 3


def test_tempo_marks_and_fixed_tempo(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    # 13 beats at 100 qpm (0.6 s), then 2 at 150 qpm (0.4 s)
    expected = LEAD_S + np.r_[np.arange(13) * 0.6, 13 * 0.6 + np.arange(2) * 0.4]
    np.testing.assert_allclose(info.beat_t, expected, atol=1e-9)
    assert [(m["bar"], m["qpm"]) for m in info.tempo_marks] == [("0", 100.0), ("3", 150.0)]
    _, _, fixed = read_score(pickup_file, tempo_bpm=120)
    np.testing.assert_allclose(fixed.beat_t, LEAD_S + np.arange(15) * 0.5, atol=1e-9)
    assert fixed.tempo == "fixed 120 qpm"
    with pytest.raises(ParameterError, match="tempo"):
        read_score(pickup_file, tempo_bpm=0)


def test_repeats_none_plays_through_once(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file, repeats="none")
    assert info.bar_numbers == ("0", "1", "2", "3")
    assert info.bar_passes.tolist() == [1, 1, 1, 1]
    assert info.note_names == ("G4", "C5", "D5", "E5", "F#5", "G5", "A5")
    with pytest.raises(ParameterError, match="repeats"):
        read_score(pickup_file, repeats="twice")


def volta_score() -> str:
    """Bar 1, first ending bar 2 (repeat back to 1), second ending bar 3, then bar 4."""
    first = _measure("2", [("D5", 4 * Q)], backward=True)
    first = first.replace(
        '<measure number="2">',
        '<measure number="2"><barline location="left"><ending number="1" type="start"/></barline>',
    ).replace('<repeat direction="backward"/>', '<ending number="1" type="stop"/><repeat direction="backward"/>')
    second = _measure("3", [("E5", 4 * Q)]).replace(
        '<measure number="3">',
        '<measure number="3"><barline location="left"><ending number="2" type="start"/></barline>',
    )
    second = second.replace(
        "</measure>", '<barline location="right"><ending number="2" type="discontinue"/></barline></measure>'
    )
    return musicxml(
        [_measure("1", [("C5", 4 * Q)], time=(4, 4), forward=True), first, second, _measure("4", [("F5", 4 * Q)])]
    )


def test_endings_unfold_as_played(tmp_path: Path) -> None:
    path = tmp_path / "volta.musicxml"
    path.write_text(volta_score(), encoding="utf-8")
    _, _, info = read_score(path)
    assert info.bar_numbers == ("1", "2", "1", "3", "4")
    assert info.bar_passes.tolist() == [1, 1, 2, 1, 1]
    assert info.note_names == ("C5", "D5", "C5", "E5", "F5")
    assert [s["label"] for s in info.sections] == ["bars 1-2", "bar 1 (pass 2)", "bars 3-4"]
    _, _, once = read_score(path, repeats="none")
    assert once.bar_numbers == ("1", "3", "4")


def test_pickup_shorter_than_a_beat_has_no_beat(tmp_path: Path) -> None:
    path = tmp_path / "eighth.musicxml"
    bars = [_measure("0", [("G4", 1)], time=(2, 4), tempo=60, implicit=True), _measure("1", [("C5", Q), ("D5", Q)])]
    path.write_text(musicxml(bars), encoding="utf-8")
    _, _, info = read_score(path)
    assert info.beat_in_bar.tolist() == [1, 2]
    assert [info.bar_numbers[b] for b in info.beat_bar] == ["1", "1"]
    assert info.position(LEAD_S).beat == pytest.approx(2.5)  # the upbeat eighth: second half of beat 2
    np.testing.assert_allclose(info.beat_t, LEAD_S + 0.5 + np.array([0.0, 1.0]))


def test_notes_have_names_pitches_and_times(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    assert info.note_names[:5] == ("G4", "C5", "D5", "E5", "F#5")
    assert info.note_pitch[:5].tolist() == [67, 72, 74, 76, 78]
    assert info.note_pitched.all()
    np.testing.assert_allclose(info.note_t[:5], LEAD_S + np.array([0.0, 0.6, 1.2, 1.8, 2.4]))


def test_compound_metre_counts_dotted_beats(tmp_path: Path) -> None:
    path = tmp_path / "six.musicxml"
    eighths = [("C5", 1)] * 6
    path.write_text(musicxml([_measure("1", eighths, time=(6, 8)), _measure("2", eighths)]), encoding="utf-8")
    _, _, info = read_score(path)
    assert info.beat_in_bar.tolist() == [1, 2, 1, 2]
    assert info.beats().beats_per_bar == 2


def test_score_position(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    pos = score_position(info, LEAD_S + 0.6 * 7 + 0.3)  # halfway through beat 1 of bar 1, second pass
    assert (pos.bar, pos.pass_) == ("1", 2)
    assert pos.beat == pytest.approx(1.5)
    assert pos.note in ("C5", "D5")
    pos = info.position(LEAD_S + 0.6 * 4 + 0.05)  # just after the F#5 of bar 2, first pass
    assert (pos.bar, pos.pass_, pos.note, pos.note_pitch) == ("2", 1, "F#5", 78)
    assert pos.to_dict()["pass"] == 1
    assert info.position(0.0).bar == "0"  # before the first note: the first bar


def test_mxl_reads_like_musicxml(tmp_path: Path, pickup_file: Path) -> None:
    mxl = write_mxl(tmp_path / "piece.mxl", pickup_score())
    _, _, a = read_score(pickup_file)
    _, _, b = read_score(mxl)
    assert a.bar_numbers == b.bar_numbers
    np.testing.assert_allclose(a.beat_t, b.beat_t)
    assert a.note_names == b.note_names


def test_midi_time_signatures_tempo_and_program(tmp_path: Path) -> None:
    _, _, info = read_score(write_midi(tmp_path / "piece.mid", program=40))
    assert info.bar_numbers == ("1", "2", "3", "4")
    assert info.beat_in_bar.tolist() == [1, 2, 3, 1, 2, 3, 1, 2, 1, 2]
    np.testing.assert_allclose(info.beat_t, LEAD_S + np.r_[np.arange(6) * 0.6, 3.6 + np.arange(4) * 0.4])
    assert info.parts[0]["program"] == 40
    assert info.note_pitch.tolist() == [60, 62, 64, 65, 67, 69, 71, 72, 74, 76]


def test_mei(tmp_path: Path) -> None:
    path = tmp_path / "piece.mei"
    path.write_text(MEI, encoding="utf-8")
    _, _, info = read_score(path)
    assert info.bar_numbers == ("1", "2")
    assert info.note_names == ("C4", "D4", "E4", "F#4", "G4", "A4")
    assert info.beat_in_bar.tolist() == [1, 2, 3, 4, 1, 2, 3, 4]
    assert info.parts[0]["program"] == 0  # no instrument given: piano
    violin = tmp_path / "violin.mei"
    staff = '<staffDef n="1" lines="5" clef.shape="G" clef.line="2"/>'
    named = staff[:-2] + ' xml:id="s1"><instrDef midi.instrnum="40"/></staffDef>'
    violin.write_text(MEI.replace(staff, named), encoding="utf-8")
    assert read_score(violin)[2].parts[0]["program"] == 40


def test_score_info_round_trip(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    again = ScoreInfo.from_dict(info.to_dict())
    assert again.to_dict() == info.to_dict()
    assert again.bar_label(3) == "1 (pass 2)"
    summary = info.summary()
    assert (summary["bars"], summary["beats"], summary["notes"]) == (6, 15, 11)
    assert [m["qpm"] for m in summary["tempo_marks"]] == [100.0, 150.0]


# -- bad input ------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_malformed_scores_raise_one_input_file_error(tmp_path: Path, pickup_file: Path) -> None:
    truncated = tmp_path / "cut.musicxml"
    truncated.write_text(pickup_score()[:300], encoding="utf-8")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    garbage = tmp_path / "noise.mid"
    garbage.write_bytes(b"MThd this is no midi file")
    broken_zip = tmp_path / "broken.mxl"
    broken_zip.write_bytes(b"PK\x03\x04 not really a zip")
    no_notes = write_midi(tmp_path / "silent.mid", notes=[])
    bad_mei = tmp_path / "cut.mei"
    bad_mei.write_text(MEI[:400], encoding="utf-8")
    for path in (truncated, empty, garbage, broken_zip, no_notes, bad_mei, tmp_path / "missing.musicxml"):
        with pytest.raises(InputFileError) as exc:
            read_score(path)
        assert str(path) in _one_line(exc)
    with pytest.raises(InputFileError, match="no notes"):
        read_score(no_notes)
    with pytest.raises(InputFileError, match="not a score file"):
        read_score(tmp_path / "take.wav")


@pytest.mark.slow
def test_partitura_never_downloads_a_soundfont(tmp_path: Path, pickup_file: Path) -> None:
    """With a FluidSynth Python binding importable, partitura would fetch a soundfont at
    import; matcher hides the binding while partitura loads."""
    fake = tmp_path / "fake"
    fake.mkdir()
    marker = tmp_path / "imported"
    (fake / "fluidsynth.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Synth: pass\n", encoding="utf-8")
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network is off in this test')\n"
        "socket.socket.connect = refuse\n"
        "from matcher.notation import read_score\n"
        f"print(read_score({str(pickup_file)!r})[2])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), *sys.path])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ScoreInfo(musicxml, 6 bars" in done.stdout
    assert "Downloading" not in done.stdout + done.stderr
    assert not marker.exists()


# -- rendering and references ---------------------------------------------------------


@needs_fluidsynth
@pytest.mark.slow
def test_rendered_score_has_onsets_where_the_notes_are(
    tmp_path: Path, pickup_file: Path, yin_config: Config, yin_model: YinModel, store_path: Path
) -> None:
    ref = build_score_reference(pickup_file, config=yin_config, pitch_model=yin_model)
    info = ref.score
    assert info is not None
    np.testing.assert_allclose(ref.beats.times, info.beat_t)
    assert ref.meta["beats_source"] == "score:piece.musicxml"
    fs = yin_config.frame_seconds
    peaks = onset_peaks(ref.frames, yin_config.gate_db, 1.0) * fs
    for t in np.unique(info.note_t):
        assert np.min(np.abs(peaks - t)) < 0.06, t
    # nothing sounds before the first note
    assert np.all(peaks > info.note_t[0] - 0.06)
    # the store keeps the score's information; a reference without one still loads
    store = ReferenceStore(store_path)
    store.add(ref)
    back = store.load(ref.name, expect=yin_config)
    assert back.score is not None and back.score.to_dict() == info.to_dict()
    np.testing.assert_allclose(back.beats.bars, ref.beats.bars)
    plain = dataclasses.replace(ref, name="plain", score=None)
    store.add(plain)
    assert store.load("plain").score is None
    # a far move needs more evidence against a score's rendering than against a recording
    assert Follower(back).params == FollowParams.for_score() != FollowParams()
    assert Follower(store.load("plain")).params == FollowParams()


@needs_fluidsynth
def test_rendering_uses_the_scores_instrument_and_soundfont_option(tmp_path: Path, pickup_file: Path) -> None:
    notation, tempo, _ = read_score(pickup_file)
    assert notation.parts[0].program == 0  # no instrument given: piano
    flute = tmp_path / "flute.musicxml"
    flute.write_text(flute_score(), encoding="utf-8")
    notation_f, _, info_f = read_score(flute)
    assert info_f.parts[0] == {"name": "Flute", "program": 73, "percussion": False}
    import soundfile as sf

    a = render_audio(notation, tempo, tmp_path / "piano.wav")
    b = render_audio(notation_f, tempo, tmp_path / "flute.wav")
    xa, sr = sf.read(a)
    xb, _ = sf.read(b)
    assert sr == 22050 and np.max(np.abs(xa)) > 0.01 and np.max(np.abs(xb)) > 0.01
    assert not np.allclose(xa[: min(len(xa), len(xb))], xb[: min(len(xa), len(xb))], atol=1e-3)
    with pytest.raises(InputFileError, match="soundfont"):
        render_audio(notation, tempo, tmp_path / "x.wav", soundfont=tmp_path / "none.sf2")


# -- practice against the score -------------------------------------------------------


@needs_fluidsynth
@pytest.mark.slow
def test_practice_finds_the_missed_note_at_the_players_tempo(
    tmp_path: Path, pickup_file: Path, yin_config: Config, yin_model: YinModel
) -> None:
    # a flute: FluidR3's piano reads about 24 cents sharp with YIN, its flute within a few
    pickup_file.write_text(flute_score(), encoding="utf-8")
    ref = build_score_reference(pickup_file, config=yin_config, pitch_model=yin_model)
    notation, _, _ = read_score(pickup_file)
    assert notation.parts[0].program == 73
    missing = 6  # the D5 of bar 1, second pass
    take_notes = np.delete(notation.notes, missing)
    take = dataclasses.replace(notation, notes=take_notes, names=[n for i, n in enumerate(notation.names) if i != 6])
    # the player's own tempo: 130 quarter notes per minute throughout, after 1.2 s of silence
    wav = render_audio(take, TempoMap(np.zeros(1), np.array([130.0]), 1.2), tmp_path / "take.wav")
    take_ref = build_reference(wav, yin_config, yin_model, track=False)
    result = practice_against_score(ref, take_ref, tolerance_ms=50)
    status = [n.status for n in result.notes]
    assert status[missing] == "missed"
    assert status.count("missed") == 1
    assert result.summary["added"] == 0
    assert result.player_qpm == pytest.approx(130, rel=0.1)
    first_pass = [n for n in result.notes if n.timing_ms is not None and n.bar in ("1", "2")]
    assert np.median(np.abs([n.timing_ms for n in first_pass])) < 40
    cents = [n.cents for n in result.notes if n.cents is not None]
    assert len(cents) >= 8 and np.median(np.abs(cents)) < 20
    assert "1 missed" in result.sentence()
    # the same from matcher.compare's alignment of the score's reference with the take
    via_compare = practice_against_score(ref, take_ref, compare(ref, take_ref))
    assert [n.status for n in via_compare.notes] == status


def test_practice_refuses_pitch_for_percussion_only_scores(tmp_path: Path) -> None:
    path = tmp_path / "drums.mid"
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for _ in range(4):
        track.append(mido.Message("note_on", note=38, velocity=90, channel=9, time=0))
        track.append(mido.Message("note_off", note=38, velocity=0, channel=9, time=480))
    mid.save(str(path))
    _, _, info = read_score(path)
    assert not info.note_pitched.any() and info.parts[0]["percussion"]

    class Ref:
        name = "drums"
        score = info

    class NotAScore:
        name = "recording"
        score = None

    with pytest.raises(InputFileError, match="only percussion"):
        practice_against_score(Ref(), None, pitch=True)
    with pytest.raises(ParameterError, match="not built from a score"):
        practice_against_score(NotAScore(), None)
