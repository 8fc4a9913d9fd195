"""How loud each note of a score is played: the score's own dynamics, as MIDI velocities.

A MIDI score carries them in its note-ons; MusicXML in dynamics marks (``p``, ``ff``),
hairpins and words (crescendo, diminuendo) and accents (``sf``, ``fz``), which partitura
reads as loudness directions. A rendering that plays a pianissimo ending as loud as the
rest makes a player's quiet chords look like near-silence against it (the chroma fades
with the level). Notes without any marking before them keep :data:`DEFAULT_VELOCITY`,
and so does every note of an MEI score: partitura's MEI reader does not read ``dynam``.

Velocities are attached to partitura's note objects (a ``velocity`` attribute) before
the score is unfolded: unfolding copies the notes with their attributes, so a repeat is
played at the dynamics written for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .parse import MidiNoteOn

#: Velocity of notes whose score gives none.
DEFAULT_VELOCITY = 80
#: Velocity of each dynamics mark (MIDI's usual steps of about 13).
MARK_VELOCITY = {
    "pppp": 16, "ppp": 24, "pp": 36, "p": 50, "mp": 64,
    "mf": 76, "f": 90, "ff": 104, "fff": 116, "ffff": 124, "fp": 50,
}  # fmt: skip
#: How much an accent (sf, fz) or a hairpin with no mark after it changes a velocity.
STEP = 14


def assign(pt: Any, parts: list[Any], note_ons: list[MidiNoteOn] | None = None) -> None:
    """Give every note of ``parts`` (partitura parts, not yet unfolded) a ``velocity``:
    from a MIDI file's ``note_ons`` when given, else from the parts' dynamics marks."""
    if note_ons is not None:
        _from_midi(note_ons, parts)
    else:
        for part in parts:
            _from_marks(pt, part)


def _from_midi(note_ons: list[MidiNoteOn], parts: list[Any]) -> None:
    """The velocity of each note's note-on in the file (matched by onset and pitch)."""
    found: dict[tuple[int, int], int] = {}
    for n in note_ons:
        found.setdefault((round(96 * n.tick / n.ticks_per_beat), n.key), n.velocity)
    for part in parts:
        notes = list(part.notes_tied)
        if not notes:
            continue
        ticks = np.round(96 * np.asarray(part.quarter_map([n.start.t for n in notes]), np.float64)).astype(int)
        for note, tick in zip(notes, ticks, strict=True):
            note.velocity = found.get((int(tick), int(getattr(note, "midi_pitch", 0) or 0)), DEFAULT_VELOCITY)


def _mark_level(text: Any) -> int | None:
    words = str(text or "").strip().lower().split()
    return MARK_VELOCITY.get(words[0]) if words else None


def _from_marks(pt: Any, part: Any) -> None:
    """Velocities from the part's loudness directions: the last mark at or before a note
    holds; a crescendo or diminuendo ramps from the level where it starts to the first
    mark at or after its end (one :data:`STEP` up or down when none follows, or the one
    that does goes the other way), which then holds until the next mark; an accent adds a
    step to the notes starting with it."""
    notes = list(part.notes_tied)
    if not notes:
        return
    t = np.array([n.start.t for n in notes], np.float64)
    directions = list(part.iter_all(pt.score.LoudnessDirection, include_subclasses=True))
    marks = sorted(
        (float(d.start.t), level)
        for d in directions
        if isinstance(d, pt.score.ConstantLoudnessDirection) and (level := _mark_level(d.text)) is not None
    )
    # Before the first mark the default holds: a mark of its own at -inf.
    mark_t = np.array([-np.inf] + [m[0] for m in marks], np.float64)
    mark_v = np.array([DEFAULT_VELOCITY] + [m[1] for m in marks], np.float64)

    def level_at(x: np.ndarray) -> np.ndarray:
        return mark_v[np.searchsorted(mark_t, x, side="right") - 1]

    velocity = level_at(t)
    ramp_kinds = (pt.score.IncreasingLoudnessDirection, pt.score.DecreasingLoudnessDirection)
    ramps = [d for d in directions if isinstance(d, ramp_kinds) and d.end is not None and d.end.t > d.start.t]
    for d in sorted(ramps, key=lambda d: d.start.t):
        t0, t1 = float(d.start.t), float(d.end.t)
        sign = 1 if isinstance(d, pt.score.IncreasingLoudnessDirection) else -1
        v0 = float(level_at(np.array([t0]))[0])
        after = np.searchsorted(mark_t, t1, side="left")
        v1 = float(mark_v[after]) if after < len(mark_v) else v0 + sign * STEP
        if (v1 - v0) * sign <= 0:
            v1 = v0 + sign * STEP
        inside = (t >= t0) & (t <= t1)
        velocity[inside] = v0 + (v1 - v0) * (t[inside] - t0) / (t1 - t0)
        next_mark = mark_t[after] if after < len(mark_t) else np.inf
        velocity[(t > t1) & (t < next_mark)] = v1
    for d in directions:
        if isinstance(d, pt.score.ImpulsiveLoudnessDirection):
            velocity[t == float(d.start.t)] += STEP
    for note, v in zip(notes, np.clip(np.round(velocity), 1, 127).astype(int), strict=True):
        note.velocity = int(v)
