"""Scores as references: MusicXML (also compressed ``.mxl``), MIDI and MEI files read with
partitura, unfolded as played, rendered with FluidSynth, and kept with their bars, beats,
time signatures, tempo marks and notes (:class:`ScoreInfo`).

Importing this package loads neither partitura nor a synthesizer.
"""

from .build import build_score_reference, describe, is_score_file, read_score
from .info import ScoreInfo, ScorePosition, score_position
from .parse import REPEAT_MODES, SCORE_SUFFIXES, read_notation
from .practice import NoteResult, ScorePractice, practice_against_score
from .render import TempoMap, find_soundfont, render_audio

__all__ = [
    "REPEAT_MODES",
    "SCORE_SUFFIXES",
    "NoteResult",
    "ScoreInfo",
    "ScorePosition",
    "ScorePractice",
    "TempoMap",
    "build_score_reference",
    "describe",
    "find_soundfont",
    "is_score_file",
    "practice_against_score",
    "read_notation",
    "read_score",
    "render_audio",
    "score_position",
]
