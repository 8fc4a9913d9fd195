"""What every command shares: the typer apps, the consoles, the option types, the global
``--verbose``, and small checks of command-line values."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from ..errors import ParameterError

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
batch_app = typer.Typer(
    help="Batch work on many recordings, on Dask: preprocess, compare every pair, score takes.", no_args_is_help=True
)
app.add_typer(batch_app, name="batch")

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
BeatsOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="Reference beat times: one per line, CSV with a time column, or 'time beat_in_bar' lines."),
]
BeatsPerBarOpt = Annotated[int, typer.Option(help="Beats per bar where the beats give no downbeats.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def check_beats_per_bar(beats_per_bar: int) -> None:
    if beats_per_bar < 1:
        raise ParameterError(f"--beats-per-bar must be at least 1, got {beats_per_bar}")


def check_tolerance(tolerance: float) -> None:
    if not (tolerance > 0 and tolerance < float("inf")):
        raise ParameterError(f"--tolerance must be a positive number of milliseconds, got {tolerance}")


def open_store(path: Path | None) -> Any:
    """The reference store at ``--store`` (default: $MATCHER_HOME, else ./references)."""
    from ..reference import ReferenceStore

    return ReferenceStore(path)


def progress_bar(quiet: bool, label: str) -> tuple[Any, Any]:
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


def public(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata without store internals (file names and hashes of feature files)."""
    return {k: v for k, v in meta.items() if k not in ("file", "file_sha256")}


PitchChoiceOpt = Annotated[str, typer.Option("--pitch", help="Pitch backend for audio files: yin, spice or auto.")]


@app.callback()
def global_options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show third-party start-up logs (TensorFlow, absl, CUDA).")
    ] = False,
) -> None:
    """Follow live playing against a reference recording, score takes, compare performances."""
    from ..logs import set_verbose

    set_verbose(verbose)


def check_pitch(pitch: str) -> None:
    from ..features import PITCH_CHOICES

    if pitch not in PITCH_CHOICES:
        raise ParameterError(f"unknown pitch backend {pitch!r}; choose one of {', '.join(PITCH_CHOICES)}")


@contextlib.contextmanager
def progress(quiet: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback showing a bar on stderr while the block runs (None when quiet
    or off a terminal)."""
    bar, update = progress_bar(quiet, label)
    if bar is None:
        yield None
        return
    with bar:
        yield update


def write_text_or_stdout(path: str, text: str) -> None:
    """``text`` to standard output for ``-``, else atomically to the file."""
    from ..atomic import write_atomic

    if path == "-":
        print(text)
    else:
        write_atomic(path, (text + "\n").encode())
