"""From what a user types to a :class:`~matcher.performance.Performance`.

Every command (follow, compare, score, batch) and the Python API (:mod:`matcher.api`)
resolve their inputs here, so a stored name, an audio file (and, once a reader is
registered, a score file) mean the same everywhere:

1. a :class:`Performance` is used as it is;
2. a name in the store is loaded, and refused unless it was made with this version's
   configuration (:func:`load_stored`: the check ``follow`` always made, now also for
   ``compare`` and ``batch``);
3. a file whose suffix has a registered builder (:func:`register_builder`: the hook for a
   score-file reader) is built by it;
4. any other existing file is read as audio and preprocessed.

A take (``like=reference``) is processed with its reference's configuration and pitch
backend, so both sides are measured the same way; no caller has to make the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .errors import InputFileError, ParameterError
from .performance import Performance

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScoreOptions:
    """How a score file (MusicXML, MIDI, MEI) is rendered to a performance.

    repeats : {"unfold", "none"}     play repeats as a performer does, or straight through
    soundfont : path or None         SF2/SF3 file (default: $MATCHER_SOUNDFONT, else Debian's GM)
    tempo_bpm : float > 0 or None    quarter notes per minute (default: the score's tempo marks)
    """

    repeats: str = "unfold"
    soundfont: str | os.PathLike | None = None
    tempo_bpm: float | None = None


@dataclass(frozen=True)
class ResolveOptions:
    """How to make a performance from a file (what a builder gets besides the path).

    config : Config             configuration of the frames (pitch backend: the model's)
    pitch : str                 ``auto``, ``spice`` or ``yin`` (ignored for a take: its reference's)
    pitch_model : str or None   SPICE handle (TF Hub address or SavedModel folder)
    beats : path or None        beat file; else tracked when ``track_beats``
    beats_per_bar : int >= 1
    track_beats : bool
    like : Performance or None  the reference this is a take of
    name : str or None          the name to give it (default: the file stem)
    quiet : bool                no notices on stderr
    progress : callable or None ``progress(done, total)`` in model-rate samples
    score_options : ScoreOptions  how a score file is rendered
    """

    config: Config
    pitch: str = "auto"
    pitch_model: str | None = None
    beats: str | os.PathLike | None = None
    beats_per_bar: int = 4
    track_beats: bool = True
    like: Performance | None = None
    name: str | None = None
    quiet: bool = False
    progress: Progress | None = None
    score_options: ScoreOptions = ScoreOptions()


Builder = Callable[[Path, ResolveOptions], Performance]

#: Loaded SPICE models by (choice, handle, sr, hop), for the life of the process.
_MODELS: dict[tuple[str, str, int, int], Any] = {}

#: Builders by lower-case file suffix (``".musicxml"``); audio needs no entry.
BUILDERS: dict[str, Builder] = {}


def register_builder(suffixes: str | tuple[str, ...], builder: Builder) -> None:
    """Make files with these suffixes (``".mid"``, ``(".xml", ".musicxml")``) resolve
    through ``builder(path, options)`` instead of being read as audio: the hook a
    score-file reader registers itself with."""
    for suffix in (suffixes,) if isinstance(suffixes, str) else suffixes:
        if not suffix.startswith("."):
            raise ParameterError(f"a builder's suffix starts with '.', got {suffix!r}")
        BUILDERS[suffix.lower()] = builder


def pitch_model_for(options: ResolveOptions) -> Any:
    """The pitch model a file is processed with: a take's is its reference's backend (the
    SPICE model the reference was made with unless ``options.pitch_model`` names one);
    otherwise the one ``options.pitch`` picks (``auto`` falls back to YIN)."""
    from .features.pitch import SPICE_ENV, load_pitch_model, resolve_backend

    if options.like is not None:
        ref = options.like
        handle = options.pitch_model or ref.meta.get("pitch_model") or None
        choice, config = ref.config.pitch_backend, ref.config
    else:
        handle, choice, config = options.pitch_model, options.pitch, options.config
    if choice == "yin":  # cheap: made afresh
        return resolve_backend("yin", None, config)
    # A SPICE model takes seconds to load and calibrate: both sides of a comparison share one.
    key = (choice, handle or os.environ.get(SPICE_ENV) or "", config.sr, config.hop)
    if key in _MODELS:
        return _MODELS[key]
    if options.like is not None:
        model = load_pitch_model(config, handle)
    else:
        model = resolve_backend(choice, handle, config, quiet=options.quiet)
    if model.name == "spice":  # a fallback to YIN is tried again (and said again) next time
        _MODELS[key] = model
    return model


def build_audio(path: Path, options: ResolveOptions) -> Performance:
    """Preprocess an audio file (the default builder)."""
    model = pitch_model_for(options)
    config = options.like.config if options.like is not None else options.config
    return prepare_performance(
        path, config, model, options.name, options.beats, options.beats_per_bar, options.track_beats,
        options.progress,
    )  # fmt: skip


def build_score(path: Path, options: ResolveOptions) -> Performance:
    """Render a score file and preprocess it (:func:`matcher.notation.build_score_reference`):
    its beats, bars and notes are the score's."""
    from .notation import build_score_reference

    if options.beats is not None:
        raise ParameterError(f"{path.name} is a score: it brings its own beats and bars (drop the beat file)")
    s = options.score_options
    # The model is loaded only once the score has parsed: a bad score fails first.
    return build_score_reference(
        path, repeats=s.repeats, soundfont=s.soundfont, tempo_bpm=s.tempo_bpm,
        config=options.like.config if options.like is not None else options.config,
        load_pitch_model=lambda: pitch_model_for(options), name=options.name, progress=options.progress,
    )  # fmt: skip


def prepare_performance(
    path: str | os.PathLike,
    config: Config,
    model: Any,
    name: str | None = None,
    beats_path: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    track: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Performance:
    """Preprocess an audio file for a comparison (not for the store): frames with
    ``config`` and the pitch ``model``, beats from ``beats_path``, else tracked when
    ``track``, else none (:func:`matcher.reference.build_reference`)."""
    from .reference import build_reference

    config = config.replace(pitch_backend=model.name)
    return build_reference(path, config, model, name, beats_path, beats_per_bar, progress, track)


def stored_config(meta: dict[str, Any]) -> Config:
    """The configuration this version makes for a stored entry's pitch backend: what a
    stored reference must have been made with to be used. The backend is read from the
    stored configuration (the index's display field may be hand-edited); an unusable
    stored configuration is the store's to refuse when it loads the entry."""
    from .config import PITCH_BACKENDS

    stored = meta.get("config")
    backend = stored.get("pitch_backend") if isinstance(stored, dict) else None
    if backend not in PITCH_BACKENDS:
        backend = meta.get("pitch_backend")
    return Config(pitch_backend=backend if backend in PITCH_BACKENDS else "yin")


def load_stored(store: Any, name: str) -> Performance:
    """A stored reference, refused (with the command that rebuilds it) when it was made
    with another configuration or feature version than this one makes."""
    return store.load(name, expect=stored_config(store.meta(name)))


def _open_store(store: Any) -> Any:
    from .reference import ReferenceStore

    return store if isinstance(store, ReferenceStore) else ReferenceStore(store)


def check_input(spec: str | os.PathLike, store: Any = None) -> None:
    """Fail now, before anything is preprocessed, when ``spec`` is neither a stored name
    nor a readable file (an audio file is opened and its header read)."""
    if store is not None and str(spec) in _open_store(store).index():
        return
    path = _existing(spec, store)
    if path.suffix.lower() not in BUILDERS:
        from .audio import audio_info

        audio_info(path)


def _existing(spec: str | os.PathLike, store: Any) -> Path:
    path = Path(spec)
    if path.exists():
        return path
    if store is None:
        raise InputFileError(f"{path}: no such file")
    known = ", ".join(sorted(_open_store(store).index())) or "none stored"
    raise InputFileError(f"{str(spec)!r} is neither a stored reference (have: {known}) nor an audio file")


def resolve(
    spec: str | os.PathLike | Performance,
    *,
    store: Any = None,
    config: Config | None = None,
    pitch: str = "auto",
    pitch_model: str | None = None,
    beats: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    track_beats: bool = True,
    like: Performance | None = None,
    name: str | None = None,
    quiet: bool = False,
    progress: Progress | None = None,
    score_options: ScoreOptions | None = None,
) -> Performance:
    """The performance ``spec`` names.

    Parameters
    ----------
    spec : str, PathLike or Performance
        A stored reference's name (looked up when ``store`` is given), a file, or a
        performance (returned as it is, with ``beats`` applied).
    store : ReferenceStore, path or None
        Where stored names are looked up; None: ``spec`` must be a file.
    config : Config, optional
        Configuration for a file (default ``Config()``; a take uses ``like.config``).
    pitch, pitch_model : str
        Pitch backend for a file (``auto|spice|yin``) and SPICE handle.
    beats : path, optional
        Beat file replacing the stored or tracked beats.
    beats_per_bar : int >= 1
    track_beats : bool
        Track beats in an audio file without a beat file (a take needs none).
    like : Performance, optional
        The reference this is a take of: a file is processed with its configuration and
        pitch backend, and a stored take must have been made the same way.
    name : str, optional
    quiet : bool
    progress : callable, optional
    score_options : ScoreOptions, optional
        How a score file is rendered (default: repeats unfolded, the score's tempo marks).

    Raises
    ------
    InputFileError
        Neither a stored name nor a readable, non-silent file.
    StoreError
        A stored reference made with another configuration, or corrupt.
    ParameterError
        A stored take made otherwise than its reference; bad options.
    """
    from .beats import load_beats

    if beats_per_bar < 1:
        raise ParameterError(f"beats per bar must be at least 1, got {beats_per_bar}")
    if isinstance(spec, Performance):
        perf = spec
    elif store is not None and str(spec) in _open_store(store).index():
        perf = load_stored(_open_store(store), str(spec))
    else:
        path = _existing(spec, store)
        options = ResolveOptions(
            config=config or Config(), pitch=pitch, pitch_model=pitch_model, beats=beats,
            beats_per_bar=beats_per_bar, track_beats=track_beats, like=like, name=name, quiet=quiet,
            progress=progress, score_options=score_options or ScoreOptions(),
        )  # fmt: skip
        return BUILDERS.get(path.suffix.lower(), build_audio)(path, options)
    if beats is not None:
        perf = perf.with_beats(load_beats(beats, beats_per_bar))
    if like is not None:
        why = like.config.incompatibility(perf.config)
        if why is not None:
            raise ParameterError(
                f"take {perf.name!r} was made with another configuration than reference {like.name!r} ({why}); "
                "use its audio file instead"
            )
    return perf


def distinct(perf: Performance, other: Performance, suffix: str) -> Performance:
    """``perf``, renamed ``"<name> (<suffix>)"`` when it has ``other``'s name (a take
    scored against itself, one file compared with itself): reports must tell them apart."""
    return perf.renamed(f"{perf.name} ({suffix})") if perf.name == other.name else perf


__all__ = [
    "BUILDERS",
    "Builder",
    "ResolveOptions",
    "ScoreOptions",
    "build_audio",
    "build_score",
    "check_input",
    "distinct",
    "load_stored",
    "pitch_model_for",
    "prepare_performance",
    "register_builder",
    "resolve",
    "stored_config",
]


def _register_score_reader() -> None:
    from .config import SCORE_SUFFIXES

    register_builder(tuple(SCORE_SUFFIXES), build_score)


_register_score_reader()
