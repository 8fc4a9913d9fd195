"""A reference from a score: parse, time, render, extract features, and attach the score's
own beats, bars and notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import file_sha256
from ..config import Config
from ..errors import InputFileError
from ..features import PitchModel, YinModel
from .info import ScoreInfo
from .parse import Notation, bar_counter_start, read_notation, score_format
from .render import Rendering, TempoMap, find_soundfont, render_audio


def is_score_file(path: str | os.PathLike) -> bool:
    """True when ``path`` names a score matcher reads (by suffix: ``.musicxml``, ``.xml``,
    ``.mxl``, ``.mid``, ``.midi``, ``.mei``); whether it parses is not checked."""
    return score_format(path) is not None


def _sections(numbers: list[str], passes: list[int], starts: np.ndarray, ends: np.ndarray) -> list[dict[str, Any]]:
    """Runs of bars played straight through: a new section wherever the playing order
    jumps (a repeat, an ending) or a bar is played again."""
    out: list[dict[str, Any]] = []
    first = 0
    for i in range(1, len(numbers) + 1):
        jump = i == len(numbers) or passes[i] != passes[i - 1]
        if not jump:
            a, b = numbers[i - 1], numbers[i]
            jump = a.isdigit() and b.isdigit() and int(b) not in (int(a), int(a) + 1)
        if jump:
            label = f"bars {numbers[first]}-{numbers[i - 1]}" if i - 1 > first else f"bar {numbers[first]}"
            if passes[first] > 1:
                label += f" (pass {passes[first]})"
            out.append(
                {
                    "label": label,
                    "first_bar": numbers[first],
                    "last_bar": numbers[i - 1],
                    "pass": passes[first],
                    "t_start": round(float(starts[first]), 4),
                    "t_end": round(float(ends[i - 1]), 4),
                }
            )
            first = i
    return out


def describe(notation: Notation, tempo: TempoMap, tempo_label: str) -> ScoreInfo:
    """The :class:`ScoreInfo` of a parsed score timed by ``tempo``."""
    bars = notation.bars
    bar_t = tempo.seconds(np.array([b.start_q for b in bars]))
    bar_end_t = tempo.seconds(np.array([b.end_q for b in bars]))
    numbers = [b.number for b in bars]
    passes = [b.pass_ for b in bars]
    count = bar_counter_start(bars)
    counts = np.arange(count, count + len(bars))
    beat_q, beat_bar, beat_in_bar = [], [], []
    for i, b in enumerate(bars):
        # beats fall on whole beats of the bar: a pickup shorter than a beat has none
        skip = float(np.ceil(b.first_beat - 1e-6) - b.first_beat)
        n = int(np.ceil((b.end_q - b.start_q) / b.beat_q - skip - 1e-6))
        for k in range(n):
            beat_q.append(b.start_q + (skip + k) * b.beat_q)
            beat_bar.append(i)
            beat_in_bar.append(b.first_beat + skip + k)
    beat_q_arr = np.array(beat_q, np.float64)
    signatures, last = [], None
    for i, b in enumerate(bars):
        sig = f"{b.numerator}/{b.denominator}"
        if sig != last:
            signatures.append({"bar": numbers[i], "pass": passes[i], "t": round(float(bar_t[i]), 4), "signature": sig})
            last = sig
    marks = []
    for q, qpm, text in notation.tempo_marks:
        i = int(np.clip(np.searchsorted([b.start_q for b in bars], q + 1e-9) - 1, 0, len(bars) - 1))
        row = {"bar": numbers[i], "pass": passes[i], "t": round(float(tempo.seconds(q)), 4), "qpm": round(qpm, 3)}
        marks.append({**row, "text": text})
    notes = notation.notes
    note_t = tempo.seconds(notes["onset_q"])
    return ScoreInfo(
        source=str(notation.path.resolve()),
        format=notation.format,
        repeats=notation.repeats,
        tempo=tempo_label,
        bar_t=bar_t,
        bar_end_t=bar_end_t,
        bar_numbers=tuple(numbers),
        bar_passes=np.array(passes, np.int64),
        bar_counts=counts.astype(np.int64),
        bar_beats=np.array([b.beats for b in bars], np.float64),
        beat_t=tempo.seconds(beat_q_arr),
        beat_q=beat_q_arr,
        beat_bar=np.array(beat_bar, np.int64),
        beat_in_bar=np.array(beat_in_bar, np.float64),
        note_t=note_t,
        note_end_t=tempo.seconds(notes["onset_q"] + notes["duration_q"]),
        note_q=notes["onset_q"].astype(np.float64),
        note_pitch=notes["pitch"].astype(np.int64),
        note_pitched=notes["pitched"].astype(bool),
        note_names=tuple(notation.names),
        time_signatures=tuple(signatures),
        tempo_marks=tuple(marks),
        sections=tuple(_sections(numbers, passes, bar_t, bar_end_t)),
        parts=tuple(dataclasses.asdict(p) for p in notation.parts),
    )


def read_score(
    path: str | os.PathLike, *, repeats: str = "unfold", tempo_bpm: float | None = None, speed: float = 1.0
) -> tuple[Notation, TempoMap, ScoreInfo]:
    """Parse and time a score without rendering it.

    Parameters
    ----------
    path : path-like
        A score file (see :func:`is_score_file`).
    repeats : {"unfold", "none"}
    tempo_bpm : float in [10, 1000] [quarter notes per minute], optional
        One constant tempo instead of the score's tempo marks.
    speed : float > 0
        The tempo (marks or ``tempo_bpm``) times this (:attr:`Rendering.speed`).
    """
    notation = read_notation(path, repeats)
    tempo = TempoMap.from_notation(notation, tempo_bpm)
    label = "marks" if tempo_bpm is None else f"fixed {float(tempo_bpm):g} qpm"
    if speed != 1.0:
        tempo = tempo.scaled(speed)
        label += f" x{float(speed):g}"
    return notation, tempo, describe(notation, tempo, label)


def build_score_reference(
    path: str | os.PathLike,
    *,
    repeats: str = "unfold",
    soundfont: str | os.PathLike | None = None,
    tempo_bpm: float | None = None,
    config: Config | None = None,
    pitch_model: PitchModel | None = None,
    load_pitch_model: Callable[[], PitchModel] | None = None,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_audio: str | os.PathLike | None = None,
    rendering: Rendering | None = None,
) -> Any:
    """Build a :class:`~matcher.reference.Reference` from a score file.

    The score is unfolded (``repeats``), timed at its tempo marks (or ``tempo_bpm``),
    rendered with FluidSynth and a General MIDI soundfont, and preprocessed like any
    recording; the reference's beats and bars are the score's, and ``reference.score``
    holds its :class:`ScoreInfo`.

    Parameters
    ----------
    path : path-like
        MusicXML (``.musicxml``, ``.xml``, ``.mxl``), MIDI (``.mid``, ``.midi``) or MEI (``.mei``).
    repeats : {"unfold", "none"}
    soundfont : path-like, optional
        SF2/SF3 file; default ``$MATCHER_SOUNDFONT`` or Debian's GM soundfont.
    tempo_bpm : float [quarter notes per minute], optional
    config : Config, optional
        Feature configuration (default ``Config()``).
    pitch_model : PitchModel, optional
        Default librosa YIN for ``config``.
    load_pitch_model : callable, optional
        Instead of ``pitch_model``: called for the model once the score has parsed, so a bad
        score fails before a model that takes seconds to load is loaded.
        ``config``'s pitch backend becomes the model's.
    name : str, optional
        Store name (default from the file name).
    progress : callable(done, total), optional
        As for :func:`~matcher.reference.build_reference`.
    keep_audio : path-like, optional
        Also keep the rendered WAV there.
    rendering : Rendering, optional
        How the score is played (its ``speed``); default ``Rendering()``.

    Raises
    ------
    InputFileError
        Malformed, unsupported or note-less scores (one line).
    MatcherError
        FluidSynth or a soundfont missing.
    """
    from ..reference import build_reference, name_from_path

    config = config or Config()
    rendering = rendering or Rendering()
    notation, tempo, info = read_score(path, repeats=repeats, tempo_bpm=tempo_bpm, speed=rendering.speed)
    if pitch_model is None and load_pitch_model is not None:
        pitch_model = load_pitch_model()
    pitch_model = pitch_model or YinModel(config)
    config = config.replace(pitch_backend=pitch_model.name)
    font = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="matcher-score-") as tmp:
        wav = render_audio(notation, tempo, Path(tmp) / "score.wav", font)
        if keep_audio is not None:
            Path(keep_audio).write_bytes(wav.read_bytes())
        try:
            ref = build_reference(
                wav, config, pitch_model, name=name or name_from_path(path), progress=progress, track=False
            )
        except InputFileError as exc:
            raise InputFileError(f"{path}: the rendered score is silent ({exc})") from exc
    beats = info.beats(source=f"score:{Path(path).name}")
    meta = {
        **ref.meta,
        "source": str(Path(path).resolve()),
        "sha256": file_sha256(path),
        "beats_source": beats.source,
        "score_format": notation.format,
        "repeats": repeats,
        "tempo": info.tempo,
        "soundfont": str(font),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return dataclasses.replace(ref, beats=beats, meta=meta, score=info)
