"""The Python API: three lines to follow, score or compare a take.

>>> import matcher
>>> ref = matcher.load("ref.flac", beats="beats.csv")      # or a stored name: store="references"
>>> track = matcher.follow(ref, "take.wav")                 # Track: position and tempo per 16 ms
>>> result = matcher.score(ref, "take.wav")                 # Score: timing per beat, cents
>>> comparison = matcher.compare(ref, "take.wav")           # Comparison: tempo curve, beat deviations

Every function takes a :class:`~matcher.performance.Performance` or what a user would
type (a stored name with ``store=``, an audio file) and resolves it with
:func:`matcher.resolve.resolve`. A take is processed with its reference's configuration
and pitch backend: no configuration has to be made to agree by hand. Options are
keyword-only. The CLI (``matcher follow|score|compare``) is a layer over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .performance import Performance

if TYPE_CHECKING:  # heavy modules load only when a function needs them
    from .align import AlignParams
    from .compare import Comparison
    from .follow import FollowParams, Track
    from .resolve import ScoreOptions
    from .scoring import Score

Progress = Callable[[int, int], None]


def load(
    source: str | os.PathLike | Performance,
    *,
    beats: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    store: Any = None,
    name: str | None = None,
    pitch: str = "auto",
    pitch_model: str | None = None,
    quiet: bool = True,
    progress: Progress | None = None,
    score_options: ScoreOptions | None = None,
) -> Performance:
    """A performance to follow, score or compare against.

    Parameters
    ----------
    source : str, PathLike or Performance
        An audio file (preprocessed: pitch, onsets, chroma, beats), a score (MusicXML,
        ``.mxl``, MIDI, MEI: rendered, with the score's own beats and bars), or, with
        ``store``, the name of a stored reference (refused when made with another configuration).
    beats : path, optional
        Beat times (one per line, CSV with a time column, or ``time beat_in_bar`` lines);
        default: the stored beats, else librosa's tracker.
    beats_per_bar : int >= 1
        Bar numbering where the beats give no downbeats.
    store : ReferenceStore or path, optional
        Where ``source`` is looked up by name.
    name : str, optional
        Name of a performance made from a file (default: the file stem).
    pitch : str
        ``auto`` (SPICE if a model loads, else YIN), ``spice`` or ``yin``.
    pitch_model : str, optional
        SPICE handle: TF Hub address or local SavedModel folder (default ``$MATCHER_SPICE_MODEL``).
    quiet : bool
        No notice on stderr when ``auto`` falls back to YIN.
    progress : callable, optional
        ``progress(done, total)`` [model-rate samples] while a file is preprocessed.
    score_options : ScoreOptions, optional
        How a score file (MusicXML, MIDI, MEI) is rendered: repeats, soundfont, tempo.
    """
    from .resolve import resolve

    return resolve(
        source, store=store, beats=beats, beats_per_bar=beats_per_bar, name=name, pitch=pitch,
        pitch_model=pitch_model, quiet=quiet, progress=progress, score_options=score_options,
    )  # fmt: skip


def _reference(reference: str | os.PathLike | Performance, store: Any) -> Performance:
    return reference if isinstance(reference, Performance) else load(reference, store=store)


def follow(
    reference: str | os.PathLike | Performance,
    take: str | os.PathLike,
    *,
    store: Any = None,
    params: FollowParams | None = None,
    realtime: bool = False,
    on_track: Callable[[Track], None] | None = None,
) -> Track:
    """Follow a recorded take as the live follower would: every 16 ms frame's position.

    Parameters
    ----------
    reference : str, PathLike or Performance
        What to follow against (:func:`load` makes one; a name needs ``store``).
    take : str or PathLike
        Audio file of the take (read in blocks, resampled to the reference's rate).
    store : optional
        Where a reference name is looked up.
    params : FollowParams, optional
    realtime : bool
        Deliver the file at the pace of a microphone (for a live display).
    on_track : callable, optional
        Sees each new run of positions as soon as it exists.

    Returns
    -------
    Track
        Position (``ref_t`` [s], beat, bar), tempo ratio, confidence and state per take
        frame; :func:`matcher.follow.summarize` gives the closing figures.
    """
    from .audio import audio_info, file_blocks, paced
    from .follow import follow_blocks

    audio_info(take)  # a bad take fails before the reference is prepared
    ref = _reference(reference, store)
    blocks = file_blocks(take, ref.config.sr)
    if realtime:
        blocks = paced(blocks, ref.config.sr, ref.config.hop)
    return follow_blocks(ref, (b for b, _ in blocks), params, on_track=on_track)


def _align_params(method: str, open_begin: bool, open_end: bool, params: AlignParams | None) -> AlignParams:
    from .align import AlignParams

    base = params or AlignParams()
    return base.replace(method=method, open_begin=open_begin or base.open_begin, open_end=open_end or base.open_end)


def score(
    reference: str | os.PathLike | Performance,
    take: str | os.PathLike | Performance,
    *,
    tolerance_ms: float = 50.0,
    tempo_ratio: float | None = None,
    beats: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    method: str = "auto",
    open_begin: bool = False,
    open_end: bool = False,
    params: AlignParams | None = None,
    store: Any = None,
    pitch_model: str | None = None,
    progress: Progress | None = None,
) -> Score:
    """Score a take's timing and pitch against its reference, beat by beat.

    Parameters
    ----------
    reference, take : str, PathLike or Performance
        The take is processed with the reference's configuration and pitch backend.
    tolerance_ms : float > 0 [ms]
        Beats within it count as in time.
    tempo_ratio : float > 0, optional
        Measure errors against the reference at this tempo (take / reference) instead of
        the take's own overall tempo.
    beats : path, optional
        The reference's beats, replacing its own.
    beats_per_bar : int >= 1
    method : str
        Alignment: ``auto``, ``dtw`` (full matrix) or ``banded`` (linear memory).
    open_begin, open_end : bool
        The take may start later / stop earlier in the piece than the reference.
    params : AlignParams, optional
        Further alignment options (``method`` and the open ends apply on top).
    store : optional
    pitch_model : str, optional
        SPICE handle for the take (default: the reference's).
    progress : callable, optional

    Returns
    -------
    Score
        Per beat ``error_ms`` and ``steadiness_ms`` [ms], per bar, the summary and the
        sentence (``to_dict()`` is ``matcher score --json``).
    """
    from .beats import load_beats
    from .resolve import check_input
    from .scoring import check_tolerance, load_take, score_take

    check_tolerance(tolerance_ms)
    if not isinstance(take, Performance):
        check_input(take, store)  # a bad take fails before the reference is prepared
    ref_beats = load_beats(beats, beats_per_bar) if beats is not None else None
    ref = _reference(reference, store)
    side = take if isinstance(take, Performance) else load_take(take, ref, store, pitch_model, progress)
    return score_take(
        ref, side, tolerance_ms, _align_params(method, open_begin, open_end, params), ref_beats,
        tempo_ratio=tempo_ratio,
    )  # fmt: skip


def compare(
    a: str | os.PathLike | Performance,
    b: str | os.PathLike | Performance,
    *,
    beats: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    method: str = "auto",
    open_begin: bool = False,
    open_end: bool = False,
    params: AlignParams | None = None,
    smooth_s: float | None = None,
    store: Any = None,
    pitch: str | None = None,
    pitch_model: str | None = None,
    quiet: bool = True,
    progress: Progress | None = None,
) -> Comparison:
    """Align two performances and describe where and how B differs from A.

    Parameters
    ----------
    a, b : str, PathLike or Performance
        A's beats (its own, ``beats``, or tracked) number beats and bars.
    beats : path, optional
        A's beats.
    beats_per_bar : int >= 1
    method, open_begin, open_end, params :
        Alignment options, as in :func:`score`.
    smooth_s : float > 0 [s], optional
        Smoothing of the tempo curve (default: two of A's beats, within 1-8 s).
    store : optional
    pitch : str, optional
        Pitch backend for audio files (``auto|spice|yin``); default: A's own for B, and
        ``auto`` for an audio file A.
    pitch_model : str, optional
    quiet : bool
    progress : callable, optional

    Returns
    -------
    Comparison
        Warping path, overall and local tempo of B against A, per-beat ``dev_ms`` [ms],
        bars, passages, pitch (``to_dict()`` is ``matcher compare --json``).
    """
    from .compare import compare as compare_performances
    from .resolve import check_input, distinct, resolve

    for side in (a, b):  # a bad second file fails before the first is preprocessed
        if not isinstance(side, Performance):
            check_input(side, store)
    side_a = resolve(
        a, store=store, pitch=pitch or "auto", pitch_model=pitch_model, beats=beats, beats_per_bar=beats_per_bar,
        quiet=quiet, progress=progress,
    )  # fmt: skip
    side_b = resolve(
        b, store=store, config=side_a.config, pitch=pitch or side_a.config.pitch_backend,
        pitch_model=pitch_model or side_a.meta.get("pitch_model") or None, beats_per_bar=beats_per_bar,
        track_beats=False, quiet=quiet, progress=progress,
    )  # fmt: skip
    side_b = distinct(side_b, side_a, "B")
    return compare_performances(side_a, side_b, _align_params(method, open_begin, open_end, params), smooth_s)


__all__ = ["compare", "follow", "load", "score"]
