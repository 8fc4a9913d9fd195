"""`matcher reference add|list|show|remove` and `matcher devices`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import MatcherError
from .common import (
    BeatsOpt,
    BeatsPerBarOpt,
    JsonFlag,
    PitchModelOpt,
    PitchOpt,
    QuietOpt,
    StoreOpt,
    app,
    check_beats_per_bar,
    check_pitch,
    err,
    open_store,
    out,
    progress,
    public,
    reference_app,
)


@reference_app.command("add")
def reference_add(
    audio: Annotated[
        Path,
        typer.Argument(
            help="Audio file (WAV, FLAC, OGG, MP3; any rate and channels) or a score (MusicXML, .mxl, MIDI, MEI)."
        ),
    ],
    name: Annotated[Optional[str], typer.Option(help="Name in the store (default: the file name).")] = None,  # noqa: UP045
    beats: BeatsOpt = None,
    beats_per_bar: BeatsPerBarOpt = 4,
    force: Annotated[bool, typer.Option("--force", help="Replace a reference of the same name.")] = False,
    pitch: PitchOpt = "auto",
    pitch_model: PitchModelOpt = None,
    repeats: Annotated[
        str, typer.Option(help="A score's repeats: unfold (played as a performer does) or none.")
    ] = "unfold",
    soundfont: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="A score is rendered with this SF2/SF3 soundfont (default: Debian's General MIDI)."),
    ] = None,
    tempo: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="A score is rendered at this tempo [quarter notes per minute] (default: its tempo marks)."),
    ] = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Preprocess AUDIO (pitch, onsets, chroma, beats) or render a score, and keep it in the store."""
    from ..api import load
    from ..audio import file_sha256
    from ..config import SCORE_SUFFIXES
    from ..errors import ParameterError
    from ..reference import check_name, name_from_path
    from ..resolve import ScoreOptions, check_input

    check_beats_per_bar(beats_per_bar)
    check_pitch(pitch)  # before the same-audio check, which returns early
    is_score = audio.suffix.lower() in SCORE_SUFFIXES
    if repeats not in ("unfold", "none"):
        raise ParameterError(f"--repeats must be unfold or none, got {repeats!r}")
    if tempo is not None and not 0 < tempo < float("inf"):
        raise ParameterError(f"--tempo must be a positive number of quarter notes per minute, got {tempo}")
    if not is_score and (soundfont is not None or tempo is not None):
        raise ParameterError("--soundfont and --tempo are for scores (MusicXML, MIDI, MEI), not audio files")
    ref_store = open_store(store)
    check_input(audio)  # fail on a bad file before loading any model
    name = check_name(name or name_from_path(audio))
    same = ref_store.find_by_hash(file_sha256(audio))
    if same and not force:
        err.print(f"{escape(str(audio))} is already stored as {', '.join(same)} (same audio); --force rebuilds it")
        return
    if name in ref_store.index() and not force:
        raise MatcherError(f"a reference named {name!r} exists already; pass --force to replace it or --name NEW")
    with progress(quiet, f"preprocessing {audio.name}") as update, ref_store.spooling():
        ref = load(
            audio, beats=beats, beats_per_bar=beats_per_bar, name=name, pitch=pitch, pitch_model=pitch_model,
            quiet=quiet, progress=update, score_options=ScoreOptions(repeats, soundfont, tempo),
        )  # fmt: skip
    ref.check_followable()  # refused now, not when first followed
    ref_store.add(ref, replace=force)
    if not quiet:
        s = ref.summary()
        tempo = f", {s['tempo_bpm']} bpm" if s["tempo_bpm"] else ""
        out.print(
            f"stored [bold]{ref.name}[/]: {ref.duration:.1f} s, {s['frames']} frames, "
            f"{s['beats']} beats{tempo}, pitch {ref.config.pitch_backend}, voiced {100 * s['voiced_share']:.0f} %"
        )


@reference_app.command("list")
def reference_list(store: StoreOpt = None, as_json: JsonFlag = False) -> None:
    """List stored references."""
    index = open_store(store).index()
    if as_json:
        print(json.dumps([public(meta) for _, meta in sorted(index.items())], indent=1))
        return
    if not index:
        err.print(f"no references in {escape(str(open_store(store).root))}")
        return
    table = Table("name", "duration", "pitch", "beats", "created", "source")
    for name, meta in sorted(index.items()):
        duration = meta.get("duration")
        number = isinstance(duration, (int, float)) and not isinstance(duration, bool)
        # str() and escape(): a hand-edited index may hold numbers, and paths [brackets] (not rich markup)
        table.add_row(
            escape(name),
            f"{duration:.1f} s" if number else "?",
            *(escape(str(meta.get(key, "?"))) for key in ("pitch_backend", "beats_source", "created", "source")),
        )
    out.print(table)


@reference_app.command("show")
def reference_show(
    name: Annotated[str, typer.Argument(help="Reference name.")], store: StoreOpt = None, as_json: JsonFlag = False
) -> None:
    """Show one reference: metadata, pitch, beats and tempo."""
    ref = open_store(store).load(name)
    summary = public(ref.summary())
    score = ref.score.summary() if ref.score is not None else None
    if as_json:
        print(json.dumps({**summary, "score": score} if score else summary, indent=1))
        return
    table = Table("field", "value", show_header=False)
    for key, value in summary.items():
        if key != "config":
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else escape(str(value)))
    table.add_row("config", ", ".join(f"{k}={v}" for k, v in summary.get("config", {}).items()))
    out.print(table)
    if score:
        print_score_summary(score)


def print_score_summary(score: dict) -> None:
    """A score reference's sections, time signatures, tempo marks and parts, one table each."""
    out.print(
        f"score {escape(str(score['score']))} ({score['format']}, repeats {score['repeats']}): "
        f"{score['bars']} bars, {score['beats']} beats, {score['notes']} notes"
    )
    for key in ("sections", "time_signatures", "tempo_marks", "parts"):
        rows = score.get(key) or []
        if rows:
            table = Table(*rows[0].keys(), title=key.replace("_", " "))
            for row in rows:
                table.add_row(*(escape(str(v)) for v in row.values()))
            out.print(table)


@reference_app.command("remove")
def reference_remove(name: Annotated[str, typer.Argument(help="Reference name.")], store: StoreOpt = None) -> None:
    """Remove a reference from the store."""
    open_store(store).remove(name)
    out.print(f"removed {name}")


@app.command("devices")
def devices(as_json: JsonFlag = False) -> None:
    """List audio input devices: index, name, channels, default rate (* marks the default)."""
    from ..errors import DeviceError
    from ..live import input_devices

    found = input_devices()
    if not found:
        raise DeviceError("no audio input device found (no microphone, or no sound server running)")
    if as_json:
        print(json.dumps([d.to_dict() for d in found], indent=1))
        return
    table = Table("", "index", "name", "channels", "default rate", "host API")
    for d in found:
        table.add_row(
            "*" if d.default else "", str(d.index), escape(d.name), str(d.channels), f"{d.samplerate:.0f} Hz", d.hostapi
        )
    out.print(table)
