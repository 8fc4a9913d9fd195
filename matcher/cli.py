"""`matcher` command line: parses, calls the API, prints. Nothing clever lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .config import Config
from .errors import MatcherError, ParameterError

if TYPE_CHECKING:  # heavy modules load only when a command needs them
    from .follow import Position, Track
    from .reference import Reference

app = typer.Typer(
    name="matcher",
    help="Follow live playing against a reference recording, score takes, compare performances.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
reference_app = typer.Typer(help="Preprocess and manage reference recordings.", no_args_is_help=True)
app.add_typer(reference_app, name="reference")

# soft_wrap: a message stays one line whatever the width (logs, pipes, tests parse them)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StoreOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional here
    typer.Option("--store", help="Reference store folder (default: $MATCHER_HOME, else ./references)."),
]
PitchOpt = Annotated[str, typer.Option("--pitch", help="Pitch backend: auto, spice or yin.")]
PitchModelOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--pitch-model", help="SPICE model: TF Hub address or local SavedModel folder ($MATCHER_SPICE_MODEL)."
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notices.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _store(path: Path | None):
    from .reference import ReferenceStore

    return ReferenceStore(path)


def _progress(quiet: bool, label: str):
    """A rich progress bar on stderr, or a no-op when quiet."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    if quiet or not err.is_terminal:  # off a terminal rich would leave a blank line on stderr
        return None, None
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=max(total, done, 1))

    return bar, update


@reference_app.command("add")
def reference_add(
    audio: Annotated[Path, typer.Argument(help="Audio file (WAV, FLAC, OGG, MP3; any rate and channels).")],
    name: Annotated[Optional[str], typer.Option(help="Name in the store (default: the file name).")] = None,  # noqa: UP045
    beats: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Beat times: one per line, CSV with a time column, or 'time beat_in_bar' lines."),
    ] = None,
    beats_per_bar: Annotated[int, typer.Option(help="Beats per bar where the beats give no downbeats.")] = 4,
    force: Annotated[bool, typer.Option("--force", help="Replace a reference of the same name.")] = False,
    pitch: PitchOpt = "auto",
    pitch_model: PitchModelOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Preprocess AUDIO (pitch, onsets, chroma, beats) and keep it in the store."""
    from .audio import audio_info, file_sha256
    from .features import PITCH_CHOICES, resolve_backend
    from .reference import build_reference, check_name, name_from_path

    if beats_per_bar < 1:
        raise ParameterError(f"--beats-per-bar must be at least 1, got {beats_per_bar}")
    if pitch not in PITCH_CHOICES:  # before the same-audio check, which returns early
        raise ParameterError(f"unknown pitch backend {pitch!r}; choose one of {', '.join(PITCH_CHOICES)}")
    ref_store = _store(store)
    audio_info(audio)  # fail on a bad file before loading any model
    name = check_name(name or name_from_path(audio))
    same = ref_store.find_by_hash(file_sha256(audio))
    if same and not force:
        err.print(f"{escape(str(audio))} is already stored as {', '.join(same)} (same audio); --force rebuilds it")
        return
    if name in ref_store.index() and not force:
        raise MatcherError(f"a reference named {name!r} exists already; pass --force to replace it or --name NEW")
    model = resolve_backend(pitch, pitch_model, Config(), quiet=quiet)
    config = Config(pitch_backend=model.name)
    bar, update = _progress(quiet, f"preprocessing {audio.name}")
    if bar is not None:
        with bar:
            ref = build_reference(audio, config, model, name, beats, beats_per_bar, update)
    else:
        ref = build_reference(audio, config, model, name, beats, beats_per_bar)
    ref_store.add(ref, replace=force)
    if not quiet:
        s = ref.summary()
        tempo = f", {s['tempo_bpm']} bpm" if s["tempo_bpm"] else ""
        out.print(
            f"stored [bold]{ref.name}[/]: {ref.duration:.1f} s, {s['frames']} frames, "
            f"{s['beats']} beats{tempo}, pitch {model.name}, voiced {100 * s['voiced_share']:.0f} %"
        )


@reference_app.command("list")
def reference_list(store: StoreOpt = None, as_json: JsonFlag = False) -> None:
    """List stored references."""
    index = _store(store).index()
    if as_json:
        print(json.dumps([_public(meta) for _, meta in sorted(index.items())], indent=1))
        return
    if not index:
        err.print(f"no references in {escape(str(_store(store).root))}")
        return
    table = Table("name", "duration", "pitch", "beats", "created", "source")
    for name, meta in sorted(index.items()):
        table.add_row(
            name,
            f"{meta.get('duration', 0):.1f} s",
            meta.get("pitch_backend", "?"),
            escape(meta.get("beats_source", "?")),  # paths may hold [brackets]: not rich markup
            meta.get("created", "?"),
            escape(meta.get("source", "?")),
        )
    out.print(table)


@reference_app.command("show")
def reference_show(
    name: Annotated[str, typer.Argument(help="Reference name.")], store: StoreOpt = None, as_json: JsonFlag = False
) -> None:
    """Show one reference: metadata, pitch, beats and tempo."""
    ref = _store(store).load(name)
    summary = _public(ref.summary())
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    table = Table("field", "value", show_header=False)
    for key, value in summary.items():
        if key != "config":
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else escape(str(value)))
    table.add_row("config", ", ".join(f"{k}={v}" for k, v in summary.get("config", {}).items()))
    out.print(table)


@reference_app.command("remove")
def reference_remove(name: Annotated[str, typer.Argument(help="Reference name.")], store: StoreOpt = None) -> None:
    """Remove a reference from the store."""
    _store(store).remove(name)
    out.print(f"removed {name}")


def _load_reference(ref: str, store: Path | None, pitch: str, pitch_model: str | None, quiet: bool) -> Reference:
    """A stored reference by name, or an audio file preprocessed on the fly."""
    from .features import resolve_backend
    from .reference import build_reference

    ref_store = _store(store)
    index = ref_store.index()
    if ref in index:
        backend = index[ref].get("pitch_backend", "yin")
        return ref_store.load(ref, expect=Config(pitch_backend=backend))
    if not Path(ref).exists():
        known = ", ".join(sorted(index)) or "none stored"
        raise MatcherError(f"{ref!r} is neither a stored reference ({known}) nor an audio file")
    model = resolve_backend(pitch, pitch_model, Config(), quiet=quiet)
    return build_reference(ref, Config(pitch_backend=model.name), model)


@app.command("follow")
def follow(
    ref: Annotated[str, typer.Argument(help="Stored reference name, or an audio file (preprocessed on the fly).")],
    input: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--input", "-i", help="Take to follow (audio file). Without it: the microphone (not yet)."),
    ] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="Pace the file like a live microphone.")] = False,
    jsonl: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--jsonl", help="Write one JSON object per hop to this file ('-': standard output)."),
    ] = None,
    pitch: PitchOpt = "auto",
    pitch_model: PitchModelOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Follow a take against a reference: position (s, beat, bar) and tempo deviation, per hop."""
    from .audio import audio_info, file_blocks, paced
    from .follow import follow_blocks, summarize

    if input is None:
        raise MatcherError("live microphone input is not available yet; give the take with --input FILE")
    audio_info(input)  # a bad take fails before the reference is prepared
    reference = _load_reference(ref, store, pitch, pitch_model, quiet)
    blocks = file_blocks(input, reference.config.sr)
    if realtime:
        blocks = paced(blocks, reference.config.sr, reference.config.hop)
    sink = None
    if jsonl is not None:
        sink = sys.stdout if jsonl == "-" else open(jsonl, "w", encoding="utf-8")  # noqa: SIM115
    display = None if (quiet or jsonl == "-" or not realtime) else _LiveDisplay(reference)

    def on_track(track: Track) -> None:
        if sink is not None:
            sink.write("".join(p.to_json() + "\n" for p in track.positions()))
            sink.flush()
        if display is not None:
            display.update(track[len(track) - 1])

    try:
        if display is not None:
            with display:
                track = follow_blocks(reference, (b for b, _ in blocks), on_track=on_track)
        else:
            track = follow_blocks(reference, (b for b, _ in blocks), on_track=on_track)
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
    if not quiet and jsonl != "-":
        _print_follow_summary(summarize(track, reference))


class _LiveDisplay:
    """One rich line, refreshed a few times a second: bar, beat, tempo, confidence."""

    def __init__(self, reference: Reference) -> None:
        from rich.live import Live

        self.reference = reference
        self.live = Live(console=err, refresh_per_second=8, transient=False)

    def __enter__(self) -> _LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)

    def update(self, pos: Position) -> None:
        share = min(1.0, pos.ref_t / max(self.reference.duration, 1e-9))
        width = 30
        bar = "█" * int(share * width) + "·" * (width - int(share * width))
        words = "steady" if abs(pos.tempo_dev_pct) < 3 else ("rushing" if pos.tempo_dev_pct > 0 else "dragging")
        where = f"bar {int(pos.bar)} beat {int((pos.bar % 1) * self.reference.beats.beats_per_bar) + 1}"
        if pos.bar != pos.bar:  # no beats: NaN
            where = f"{pos.ref_t:6.2f} s"
        self.live.update(
            f"{bar} {where}  {pos.ref_t:6.2f} s  tempo {pos.tempo_dev_pct:+5.1f} % ({words})  "
            f"conf {pos.confidence:.2f}  {pos.state}"
        )


def _print_follow_summary(s: dict[str, Any]) -> None:
    if not s.get("frames"):
        out.print("nothing to follow: the take produced no frames")
        return
    out.print(
        f"followed {s['take_seconds']:.1f} s of take up to {s['ref_reached_s']:.1f} s of reference; "
        f"following {100 * s['following_share']:.0f} % of the time"
    )
    if "mean_tempo_dev_pct" in s:
        out.print(f"mean tempo deviation {s['mean_tempo_dev_pct']:+.1f} % (take against reference)")
        for name in ("fastest", "slowest"):
            f = s[name]
            where = f"bar {f['bar']}" if f["bar"] is not None else f"{f['ref_t']:.1f} s"
            out.print(f"{name}: {f['tempo_dev_pct']:+.1f} % at {where} (take {f['t']:.1f} s)")


def _public(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata without store internals (file names and hashes of feature files)."""
    return {k: v for k, v in meta.items() if k not in ("file", "file_sha256")}


def _usage_errors() -> tuple[type[Exception], ...]:
    """Exception types for bad command lines: typer's own (vendored click) and click's."""
    import typer.exceptions

    kinds: list[type[Exception]] = (
        [typer.exceptions.TyperException] if hasattr(typer.exceptions, "TyperException") else []
    )
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:
        pass
    return tuple(kinds)


def _exit_abort() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    import typer.exceptions

    exits: list[type[BaseException]] = [typer.exceptions.Exit]
    aborts: list[type[BaseException]] = [typer.exceptions.Abort]
    try:
        import click

        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(exits), tuple(aborts)


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input gets one line on stderr and exit status 2, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = typer.main.get_command(app)
    exits, aborts = _exit_abort()
    try:
        result = command.main(args=args or ["--help"], prog_name="matcher", standalone_mode=False)
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except aborts:
        print("matcher: interrupted", file=sys.stderr)
        return 130
    except _usage_errors() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            print(exc.format_message())  # type: ignore[attr-defined]
            return 0
        print(f"matcher: {exc.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]
        return 2
    except MatcherError as exc:
        print(f"matcher: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("matcher: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
