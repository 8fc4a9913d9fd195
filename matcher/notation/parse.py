"""Reading a score file with partitura into matcher's own plain description of it.

partitura reads MusicXML (``.musicxml``, ``.xml``, compressed ``.mxl``), MIDI (``.mid``,
``.midi``) and MEI (``.mei``). Its import of the FluidSynth Python binding, which in some
versions downloads a soundfont at import time, is kept off (:func:`_partitura`).

Everything here is on the score's own axis, in quarter notes from the start of the
unfolded score (``q``); seconds come later from the tempo map.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..audio import check_file
from ..config import SCORE_SUFFIXES
from ..errors import InputFileError, ParameterError
from . import dynamics
from .dynamics import DEFAULT_VELOCITY

REPEAT_MODES = ("unfold", "none")
#: The tempo a score without tempo marks is played at [quarter notes per minute] (MIDI's default).
DEFAULT_QPM = 120.0
#: General MIDI program of the default instrument (0 = Acoustic Grand Piano).
PIANO = 0


@dataclass(frozen=True)
class PartInfo:
    """One instrument of the score: its name, General MIDI program and whether it is percussion."""

    name: str
    program: int
    percussion: bool


@dataclass(frozen=True)
class Bar:
    """A measure in playing order.

    ``start_q``/``end_q`` in quarter notes; ``number`` as printed; ``pass_`` counts from 1
    each time the same printed bar is played again; ``first_beat`` is the beat in bar
    (from 1) of the measure's first beat (a pickup starts late in its bar).
    """

    start_q: float
    end_q: float
    number: str
    pass_: int
    beats: float
    beat_q: float
    first_beat: float
    numerator: int
    denominator: int


@dataclass(frozen=True)
class Notation:
    """What matcher needs from a score, on the quarter-note axis of the playing order.

    Attributes
    ----------
    notes : np.ndarray [structured, shape=(n,)]
        ``onset_q``, ``duration_q`` [quarters], ``pitch`` (MIDI number), ``velocity`` (the
        score's dynamics: :mod:`matcher.notation.dynamics`),
        ``part`` (index into ``parts``), ``pitched`` (False for unpitched percussion).
    names : list[str]
        Spelled pitch of each note (``"F#5"``), or the percussion instrument's MIDI key.
    bars : list[Bar]
    tempo_marks : list[tuple[float, float, str]]
        ``(q, quarter notes per minute, text)``.
    parts : list[PartInfo]
    """

    path: Path
    format: str
    repeats: str
    notes: np.ndarray
    names: list[str]
    bars: list[Bar]
    tempo_marks: list[tuple[float, float, str]]
    parts: list[PartInfo]


NOTE_DTYPE = np.dtype(
    [
        ("onset_q", "f8"),
        ("duration_q", "f8"),
        ("pitch", "i4"),
        ("velocity", "i4"),
        ("part", "i4"),
        ("pitched", "?"),
    ]
)


def score_format(path: str | os.PathLike) -> str | None:
    """``"musicxml"``, ``"midi"`` or ``"mei"`` by the file's suffix; None for anything else."""
    return SCORE_SUFFIXES.get(Path(path).suffix.lower())


def _partitura() -> Any:
    """Import partitura with the FluidSynth Python binding hidden.

    partitura (1.5 and later) downloads MuseScore's soundfont at import time when
    ``import fluidsynth`` succeeds; matcher renders with the ``fluidsynth`` program and a
    Debian soundfont, so the binding is made unimportable for the duration of the import.
    """
    if "partitura" in sys.modules:
        return sys.modules["partitura"]
    hidden = "fluidsynth" not in sys.modules
    if hidden:
        sys.modules["fluidsynth"] = None  # type: ignore[assignment]  # import fluidsynth -> ImportError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import partitura
    finally:
        if hidden:
            sys.modules.pop("fluidsynth", None)
    return partitura


def _bad(path: Path, why: str) -> InputFileError:
    return InputFileError(f"{path}: not a usable score ({why})")


def _check_file(path: Path) -> str:
    fmt = score_format(path)
    if fmt is None:
        known = ", ".join(sorted(SCORE_SUFFIXES))
        raise InputFileError(f"{path}: not a score file (suffix {path.suffix or 'none'}; expected {known})")
    check_file(path, "score file")
    return fmt


def _load(pt: Any, path: Path, fmt: str) -> tuple[Any, list[MidiNoteOn] | None]:
    """partitura's score, and for MIDI the file's note-ons (:func:`_midi_note_ons`)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        try:
            if fmt == "midi":
                note_ons = _midi_note_ons(path)
                if not note_ons:  # partitura fails obscurely on a MIDI file without notes
                    raise _bad(path, "it holds no notes")
                return pt.load_score_midi(str(path), part_voice_assign_mode=5), note_ons
            if fmt == "mei":
                return _load_mei(pt, path), None
            return pt.load_musicxml(str(path), force_note_ids="keep"), None
        except InputFileError:
            raise
        except Exception as exc:  # partitura raises many kinds on bad input
            why = str(exc).splitlines()[0][:160] if str(exc) else ""
            raise _bad(path, f"{type(exc).__name__}: {why}" if why else type(exc).__name__) from exc


_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


def _xml_tree(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


def _load_mei(pt: Any, path: Path) -> Any:
    """partitura's MEI reader needs an ``xml:id`` on every element; give the missing ones one."""
    import tempfile

    from lxml import etree

    try:
        root = _xml_tree(path.read_bytes())
    except etree.XMLSyntaxError as exc:
        raise _bad(path, f"malformed XML: {exc}") from exc
    missing = [el for el in root.iter() if isinstance(el.tag, str) and _XML_ID not in el.attrib]
    if not missing:
        return pt.load_mei(str(path))
    for i, el in enumerate(missing):
        el.set(_XML_ID, f"matcher-{i}")
    with tempfile.TemporaryDirectory(prefix="matcher-mei-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        return pt.load_mei(str(copy))


def _unfold(pt: Any, part: Any, repeats: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if repeats == "unfold":
            return pt.score.unfold_part_maximal(part)
        return pt.score.unfold_part_minimal(part)


def _musical_beat(numerator: int, denominator: int) -> tuple[float, float]:
    """(beats in a full bar, beat length [quarters]); compound metres count dotted beats."""
    unit = 4.0 / denominator
    if numerator % 3 == 0 and numerator > 3 and denominator >= 8:
        return numerator / 3, 3 * unit
    return float(numerator), unit


def _programs(
    path: Path, fmt: str, parts: list[Any], pt: Any, note_ons: list[MidiNoteOn] | None = None
) -> list[PartInfo]:
    """General MIDI program and percussion flag of each part, from the file where it says
    (a MIDI file's from its ``note_ons``)."""
    names = [str(getattr(p, "part_name", None) or f"part {i + 1}") for i, p in enumerate(parts)]
    found: list[tuple[int, bool] | None] = [None] * len(parts)
    try:
        if fmt == "musicxml":
            found = _musicxml_programs(path, parts)
        elif note_ons is not None:
            found = _midi_programs(note_ons, parts)
        elif fmt == "mei":
            found = _mei_programs(path, parts)
    except Exception:  # instruments are a refinement: a file partitura read plays as piano otherwise
        found = [None] * len(parts)
    out = []
    for part, name, got in zip(parts, names, found, strict=True):
        unpitched = any(isinstance(n, pt.score.UnpitchedNote) for n in part.notes_tied)
        program, perc = got if got is not None else (PIANO, False)
        out.append(PartInfo(name, program, perc or unpitched))
    return out


def _musicxml_programs(path: Path, parts: list[Any]) -> list[tuple[int, bool] | None]:
    if path.suffix.lower() == ".mxl":
        with zipfile.ZipFile(path) as zf:
            names = [
                n for n in zf.namelist() if not n.startswith("META-INF") and n.lower().endswith((".xml", ".musicxml"))
            ]
            data = zf.read(names[0])
    else:
        data = path.read_bytes()
    root = _xml_tree(data)
    by_id: dict[str, tuple[int, bool]] = {}
    for sp in root.iter("score-part"):
        prog = sp.findtext("midi-instrument/midi-program")
        chan = sp.findtext("midi-instrument/midi-channel")
        program = int(prog) - 1 if prog and prog.strip().isdigit() else PIANO  # MusicXML counts from 1
        by_id[sp.get("id", "")] = (min(max(program, 0), 127), (chan or "").strip() == "10")
    return [by_id.get(str(p.id)) for p in parts]


def _mei_programs(path: Path, parts: list[Any]) -> list[tuple[int, bool] | None]:
    """``staffDef/instrDef/@midi.instrnum`` (counted from 0) by the staff's ``xml:id``, which
    partitura uses as the part's id; ``midi.channel`` 9 (MEI counts channels from 0) marks
    percussion."""
    root = _xml_tree(path.read_bytes())
    by_id: dict[str, tuple[int, bool]] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.tag.endswith("instrDef"):
            continue
        staff = el.getparent()
        num = el.get("midi.instrnum")
        if staff is None or num is None or not num.strip().isdigit():
            continue
        channel = (el.get("midi.channel") or "").strip()
        by_id[staff.get(_XML_ID, "")] = (min(int(num), 127), channel == "9")
    return [by_id.get(str(p.id)) for p in parts]


class MidiNoteOn(NamedTuple):
    """A sounding note-on of a MIDI file, at ``tick`` of ``ticks_per_beat`` per quarter."""

    tick: int
    ticks_per_beat: int
    key: int
    velocity: int
    channel: int
    program: int


def _midi_note_ons(path: Path) -> list[MidiNoteOn]:
    """Every sounding note-on of a MIDI file, with its channel's program at that moment;
    what the parts' instruments and the notes' velocities are read from."""
    import mido

    mid = mido.MidiFile(str(path))
    tpq = mid.ticks_per_beat
    out = []
    for track in mid.tracks:
        tick = 0
        program = {c: PIANO for c in range(16)}
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                out.append(MidiNoteOn(tick, tpq, msg.note, msg.velocity, msg.channel, program[msg.channel]))
    return out


def _midi_programs(note_ons: list[MidiNoteOn], parts: list[Any]) -> list[tuple[int, bool] | None]:
    """Match each partitura part to the MIDI channel whose notes it holds."""
    where: dict[tuple[int, int], tuple[int, bool]] = {}
    for n in note_ons:
        where.setdefault((round(4 * n.tick / n.ticks_per_beat), n.key), (n.program, n.channel == 9))
    out: list[tuple[int, bool] | None] = []
    for part in parts:
        na = part.note_array()
        keys = zip(na["onset_quarter"], na["pitch"], strict=True)
        votes = [where.get((round(4 * float(q)), int(p))) for q, p in keys]
        votes = [v for v in votes if v is not None]
        out.append(max(set(votes), key=votes.count) if votes else None)
    return out


def _spelled(step: str, alter: Any, octave: Any) -> str:
    acc = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}.get(int(alter) if alter == alter else 0, "")
    return f"{step}{acc}{int(octave)}"


def _tempo_marks(pt: Any, part: Any, q_of: Any, fmt: str) -> list[tuple[float, float, str]]:
    marks = []
    for tempo in part.iter_all(pt.score.Tempo):
        bpm = float(tempo.bpm)
        unit = getattr(tempo, "unit", None)
        if unit and fmt != "midi":  # a MIDI tempo is always per quarter note
            with contextlib.suppress(KeyError):
                bpm *= _unit_quarters(str(unit))
        if bpm > 0 and np.isfinite(bpm):
            marks.append((q_of(tempo.start.t), bpm, str(getattr(tempo, "text", None) or "")))
    return marks


_UNITS = {"w": 4.0, "h": 2.0, "q": 1.0, "e": 0.5, "s": 0.25, "whole": 4.0, "half": 2.0, "quarter": 1.0, "eighth": 0.5}


def _unit_quarters(unit: str) -> float:
    """A tempo's beat unit (``"q"``, ``"e."``, ``"half"``) in quarter notes."""
    dots = len(unit) - len(unit.rstrip("."))
    base = _UNITS[unit.rstrip(".")]
    return float(base * (2 - Fraction(1, 2**dots)))


def read_notation(path: str | os.PathLike, repeats: str = "unfold") -> Notation:
    """Parse a score file into bars, beats, tempo marks and notes in playing order.

    Parameters
    ----------
    path : path-like
        MusicXML (``.musicxml``, ``.xml``, ``.mxl``), MIDI (``.mid``, ``.midi``) or MEI (``.mei``).
    repeats : {"unfold", "none"}
        ``"unfold"`` plays repeats (and their endings) as a performer does; ``"none"``
        plays through once, taking the last ending.

    Raises
    ------
    InputFileError
        A missing, empty, malformed or note-less file, or one of another format.
    ParameterError
        An unknown ``repeats`` mode.
    """
    if repeats not in REPEAT_MODES:
        raise ParameterError(f"bad repeats mode {repeats!r}: use one of {', '.join(REPEAT_MODES)}")
    path = Path(path)
    fmt = _check_file(path)
    pt = _partitura()
    score, note_ons = _load(pt, path, fmt)
    parts = [p for p in getattr(score, "parts", [score]) if len(p.notes_tied)]
    if not parts:
        raise _bad(path, "it holds no notes")
    programs = _programs(path, fmt, parts, pt, note_ons)
    try:
        dynamics.assign(pt, parts, note_ons)
        unfolded = [_unfold(pt, p, repeats) for p in parts]
        return _describe(pt, path, fmt, repeats, unfolded, programs)
    except InputFileError:
        raise
    except Exception as exc:
        raise _bad(path, f"{type(exc).__name__}: {str(exc)[:120]}") from exc


def _describe(pt: Any, path: Path, fmt: str, repeats: str, parts: list[Any], programs: list[PartInfo]) -> Notation:
    lead = parts[0]
    origin = float(lead.quarter_map(lead.first_point.t)) if lead.first_point is not None else 0.0

    def q_of(part: Any) -> Any:
        return lambda t: float(part.quarter_map(t)) - origin

    bars = _bars(pt, lead, q_of(lead))
    records, names = [], []
    for index, part in enumerate(parts):
        to_q = q_of(part)
        for note in part.notes_tied:
            if getattr(note, "duration_tied", 1) is None:
                continue
            on = to_q(note.start.t)
            end = to_q(note.start.t + note.duration_tied)
            pitched = not isinstance(note, pt.score.UnpitchedNote) and not programs[index].percussion
            pitch = int(note.midi_pitch) if getattr(note, "midi_pitch", None) is not None else 0
            velocity = int(getattr(note, "velocity", DEFAULT_VELOCITY))
            records.append((on, max(end - on, 0.0), pitch, velocity, index, pitched))
            names.append(_spelled(note.step, note.alter or 0, note.octave) if pitched and note.step else f"key{pitch}")
    if not records:
        raise _bad(path, "it holds no notes")
    order = np.argsort([r[0] for r in records], kind="stable")
    notes = np.array([records[i] for i in order], dtype=NOTE_DTYPE)
    names = [names[i] for i in order]
    # one mark per place: the first part's wins
    seen: dict[float, tuple[float, float, str]] = {}
    for part in parts:
        for mark in _tempo_marks(pt, part, q_of(part), fmt):
            seen.setdefault(round(mark[0], 6), mark)
    marks = [seen[q] for q in sorted(seen)]
    return Notation(path, fmt, repeats, notes, names, bars, marks, programs)


def _bars(pt: Any, part: Any, q_of: Any) -> list[Bar]:
    signatures = sorted(
        (q_of(ts.start.t), int(ts.beats), int(ts.beat_type)) for ts in part.iter_all(pt.score.TimeSignature)
    )
    measures = list(part.iter_all(pt.score.Measure))
    if not measures:
        raise ParameterError("the score has no measures")
    passes: dict[str, int] = {}
    bars = []
    for i, m in enumerate(measures):
        start, end = q_of(m.start.t), q_of(m.end.t)
        before = [s for s in signatures if s[0] <= start + 1e-9]
        num, den = (before[-1][1], before[-1][2]) if before else (4, 4)
        full, beat_q = _musical_beat(num, den)
        length = (end - start) / beat_q
        # A first measure shorter than its metre is a pickup: its beats are the last of the bar.
        first_beat = 1.0 + (full - length) if i == 0 and length < full - 1e-6 else 1.0
        number = str(m.name) if getattr(m, "name", None) not in (None, "") else str(m.number)
        passes[number] = passes.get(number, 0) + 1
        bars.append(Bar(start, end, number, passes[number], full, beat_q, first_beat, num, den))
    return bars


def bar_counter_start(bars: list[Bar]) -> int:
    """The running bar count of the first measure: its printed number when it is a number,
    else 0 for a pickup and 1 otherwise."""
    first = bars[0]
    if re.fullmatch(r"-?\d+", first.number):
        return int(first.number)
    return 0 if first.first_beat > 1 else 1
