"""`matcher compare` and `matcher score`: two performances side by side, a take scored per beat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import ParameterError
from .common import (
    BeatsOpt,
    BeatsPerBarOpt,
    PitchModelOpt,
    PitchOpt,
    QuietOpt,
    StoreOpt,
    app,
    check_beats_per_bar,
    check_pitch,
    check_tolerance,
    open_store,
    out,
    progress,
    write_text_or_stdout,
)
from .render import print_comparison, print_score, print_score_practice


@app.command("compare")
def compare_cmd(
    a: Annotated[
        str,
        typer.Argument(metavar="A", help="Performance A: audio file or stored reference (its beats give the bars)."),
    ],
    b: Annotated[str, typer.Argument(metavar="B", help="Performance B: audio file or stored reference name.")],
    json_out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--json", help="Write the comparison as JSON to this file ('-': standard output)."),
    ] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Write the per-beat table as CSV.")] = None,  # noqa: UP045
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--plot", help="Write a PNG: alignment path, tempo curve of B against A, beat deviations."),
    ] = None,
    beats: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="A's beat times (one per line, CSV with a time column, or 'time beat_in_bar'); else tracked."
        ),
    ] = None,
    beats_per_bar: BeatsPerBarOpt = 4,
    method: Annotated[str, typer.Option(help="Alignment: auto, dtw (full matrix) or banded (linear memory).")] = "auto",
    open_begin: Annotated[bool, typer.Option("--open-begin", help="B may start later in the piece than A.")] = False,
    open_end: Annotated[bool, typer.Option("--open-end", help="B may stop before A's end.")] = False,
    pitch: Annotated[str, typer.Option("--pitch", help="Pitch backend for audio files: yin, spice or auto.")] = "yin",
    pitch_model: PitchModelOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Align two performances and show where and how B differs from A: tempo, beats, bars, pitch."""
    from ..api import compare

    check_beats_per_bar(beats_per_bar)
    check_pitch(pitch)
    result = compare(
        a, b, beats=beats, beats_per_bar=beats_per_bar, method=method, open_begin=open_begin, open_end=open_end,
        store=open_store(store), pitch=pitch, pitch_model=pitch_model, quiet=quiet,
    )  # fmt: skip
    if json_out is not None:
        write_text_or_stdout(json_out, json.dumps(result.to_dict(), indent=1))
    if csv_out is not None:
        from ..atomic import write_atomic

        write_atomic(csv_out, result.beats_csv().encode())
    if plot is not None:
        from ..plot import write_comparison_png

        write_comparison_png(result, plot)
    if not quiet and json_out != "-":
        print_comparison(result)


@app.command("score")
def score_cmd(
    ref: Annotated[str, typer.Argument(help="Stored reference name, or an audio file (preprocessed on the fly).")],
    take: Annotated[str, typer.Argument(help="The take: audio file (or a stored reference made the same way).")],
    json_out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--json", help="Write per-beat rows and the summary as JSON to this file ('-': standard output)."),
    ] = None,
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--plot", help="Write a PNG: timing error per beat, the take's tempo against the reference."),
    ] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Beats within this many ms count as in time.")] = 50.0,
    tempo: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--tempo", help="Measure against the reference at this tempo (take/reference, e.g. 0.8)."),
    ] = None,
    beats: BeatsOpt = None,
    beats_per_bar: BeatsPerBarOpt = 4,
    method: Annotated[str, typer.Option(help="Alignment: auto, dtw (full matrix) or banded (linear memory).")] = "auto",
    open_begin: Annotated[
        bool, typer.Option("--open-begin", help="The take may start later in the piece than the reference.")
    ] = False,
    open_end: Annotated[bool, typer.Option("--open-end", help="The take may stop before the reference's end.")] = False,
    pitch: PitchOpt = "auto",
    pitch_model: PitchModelOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Score a recorded take against a reference, beat by beat: timing error [ms], steadiness, pitch [cents]."""
    from ..api import load, score
    from ..resolve import check_input

    check_beats_per_bar(beats_per_bar)
    check_tolerance(tolerance)
    if tempo is not None and not (tempo > 0 and tempo < float("inf")):
        raise ParameterError(f"--tempo must be a positive ratio (take / reference, e.g. 0.8), got {tempo}")
    ref_store = open_store(store)
    check_input(take, ref_store)  # a bad take or beat file fails before the reference is prepared
    if beats is not None:
        from ..beats import load_beats

        load_beats(beats, beats_per_bar)
    reference = load(ref, store=ref_store, pitch=pitch, pitch_model=pitch_model, quiet=quiet)
    if reference.score is not None:  # a score: judged against the notated rhythm at the player's tempo
        if plot is not None or tempo is not None or beats is not None:
            raise ParameterError("--plot, --tempo and --beats are for recorded references, not scores")
        score_against_notation(reference, take, tolerance, json_out, ref_store, pitch_model, quiet, method)
        return
    with progress(quiet, f"preprocessing {Path(take).name}") as update:
        result = score(
            reference, take, tolerance_ms=tolerance, tempo_ratio=tempo, beats=beats, beats_per_bar=beats_per_bar,
            method=method, open_begin=open_begin, open_end=open_end, store=ref_store, pitch_model=pitch_model,
            progress=update,
        )  # fmt: skip
    if json_out is not None:
        write_text_or_stdout(json_out, json.dumps(result.to_dict(), indent=1, allow_nan=False))
    if plot is not None:
        from ..plot import write_score_png

        write_score_png(result, plot)
    if not quiet and json_out != "-":
        print_score(result, out)


def score_against_notation(
    reference: Any,
    take: str,
    tolerance: float,
    json_out: str | None,
    store: Any,
    pitch_model: str | None,
    quiet: bool,
    method: str,
) -> None:
    """`matcher score SCORE TAKE`: every score onset's timing against the notated rhythm at
    the player's own tempo, missed and added notes where the onsets allow, cents."""
    from ..api import compare
    from ..notation import practice_against_score
    from ..resolve import resolve

    with progress(quiet, f"preprocessing {Path(take).name}") as update:
        take_perf = resolve(
            take, store=store, like=reference, pitch_model=pitch_model, track_beats=False, quiet=True,
            progress=update,
        )  # fmt: skip
    comparison = compare(reference, take_perf, method=method, store=store)
    result = practice_against_score(reference, take_perf, comparison, tolerance_ms=tolerance)
    if json_out is not None:
        write_text_or_stdout(json_out, json.dumps(result.to_dict(), indent=1, allow_nan=False))
    if not quiet and json_out != "-":
        print_score_practice(result, out)
