"""The score's dynamics become the rendering's velocities (matcher.notation.dynamics)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
from test_notation import MEI, Q, _measure, _note, musicxml, needs_fluidsynth

from matcher.notation import read_score
from matcher.notation.dynamics import DEFAULT_VELOCITY, MARK_VELOCITY, STEP
from matcher.notation.parse import read_notation
from matcher.notation.render import write_midi


def _dynamics(mark: str) -> str:
    return f'<direction placement="below"><direction-type><dynamics><{mark}/></dynamics></direction-type></direction>'


def _wedge(kind: str) -> str:
    return f'<direction><direction-type><wedge type="{kind}"/></direction-type></direction>'


def dynamics_score() -> str:
    """A pickup without marks; bar 1 p; bar 2 a crescendo hairpin; bar 3 f with an sf on
    its second note; bars 1-3 repeated."""
    bar1 = _measure("1", [("C5", Q), ("D5", Q), ("E5", Q)], forward=True)
    bar1 = bar1.replace("<note>", _dynamics("p") + "<note>", 1)
    bar2 = '<measure number="2">' + _wedge("crescendo") + "".join(_note(p, Q) for p in ("F5", "G5", "A5"))
    bar2 += _wedge("stop") + "</measure>"
    bar3 = '<measure number="3">' + _dynamics("f") + _note("B5", Q) + _dynamics("sf") + _note("C6", Q)
    bar3 += _note("D6", Q) + '<barline location="right"><repeat direction="backward"/></barline></measure>'
    pickup = _measure("0", [("G4", Q)], time=(3, 4), tempo=100, implicit=True)
    return musicxml([pickup, bar1, bar2, bar3])


def test_musicxml_marks_hairpins_and_accents_set_velocities(tmp_path: Path) -> None:
    path = tmp_path / "dyn.musicxml"
    path.write_text(dynamics_score(), encoding="utf-8")
    notation = read_notation(path)
    names, v = notation.names, notation.notes["velocity"]
    assert names == ["G4"] + ["C5", "D5", "E5", "F5", "G5", "A5", "B5", "C6", "D6"] * 2
    p, f = MARK_VELOCITY["p"], MARK_VELOCITY["f"]
    assert v[0] == DEFAULT_VELOCITY  # nothing marked before it
    for first in (1, 10):  # both passes of the repeat
        bar1, bar2, bar3 = v[first : first + 3], v[first + 3 : first + 6], v[first + 6 : first + 9]
        assert list(bar1) == [p] * 3
        # the crescendo rises from p towards the f that follows it
        assert bar2[0] == p and np.all(np.diff(bar2) > 0) and bar2[-1] < f
        assert list(bar3) == [f, f + STEP, f]


def test_midi_scores_keep_their_note_velocities(tmp_path: Path) -> None:
    velocities = [30, 64, 100, 127]
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for pitch, vel in zip([60, 62, 64, 65], velocities, strict=True):
        track.append(mido.Message("note_on", note=pitch, velocity=vel, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    path = tmp_path / "dyn.mid"
    mid.save(str(path))
    assert list(read_notation(path).notes["velocity"]) == velocities


def test_mei_dynamics_are_not_read_yet(tmp_path: Path) -> None:
    # partitura's MEI reader drops <dynam>: the notes keep the default (the docs say so;
    # when this fails, MEI dynamics have become readable and the docs should follow)
    dynam = '<dynam staff="1" tstamp="1">pp</dynam>'
    marked = MEI.replace("</layer></staff></measure>", f"</layer></staff>{dynam}</measure>")
    path = tmp_path / "dyn.mei"
    path.write_text(marked, encoding="utf-8")
    assert set(read_notation(path).notes["velocity"]) == {DEFAULT_VELOCITY}


def test_the_rendering_plays_the_velocities(tmp_path: Path) -> None:
    path = tmp_path / "dyn.musicxml"
    path.write_text(dynamics_score(), encoding="utf-8")
    notation, tempo, _ = read_score(path)
    out = tmp_path / "played.mid"
    write_midi(notation, tempo, out)
    played = [m.velocity for m in mido.MidiFile(str(out)).tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert played == list(notation.notes["velocity"])


@needs_fluidsynth
@pytest.mark.slow
def test_a_piano_mark_renders_quieter_than_a_forte(tmp_path: Path) -> None:
    import soundfile as sf

    from matcher.notation.render import render_audio

    def level(mark: str) -> float:
        bar = _measure("1", [("C4", 4 * Q)], time=(4, 4), tempo=60).replace("<note>", _dynamics(mark) + "<note>", 1)
        path = tmp_path / f"{mark}.musicxml"
        path.write_text(musicxml([bar]), encoding="utf-8")
        notation, tempo, _ = read_score(path)
        x, _ = sf.read(render_audio(notation, tempo, tmp_path / f"{mark}.wav"))
        return float(np.sqrt(np.mean(np.square(x))))

    assert level("pp") < 0.5 * level("ff")
