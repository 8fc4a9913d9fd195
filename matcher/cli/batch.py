"""`matcher batch preprocess|compare|score`: many recordings on Dask, one row each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from ..errors import ParameterError
from .common import PitchOpt, QuietOpt, StoreOpt, batch_app, check_tolerance, err, open_store, out, progress

BatchOutOpt = Annotated[
    Path, typer.Option("--out", help="Folder for results.csv and items/*.json (created; reused to resume).")
]
SchedulerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--scheduler",
        help="Address of a running dask.distributed scheduler (its workers must see --store and --out); "
        "default: a local cluster, one single-threaded process per core; 'sync': in this process.",
    ),
]
WorkersOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--workers", help="Worker processes of the local cluster (default: one per core)."),
]
ResumeOpt = Annotated[bool, typer.Option("--resume/--no-resume", help="Skip items an earlier run finished.")]


def run_batch(label: str, quiet: bool, scheduler: str | None, workers: int | None, out_dir: Path, work: Any) -> None:
    """Run ``work(runner, progress)`` with a progress bar, then say where the table is and
    how many items failed; exit status 1 when any did (each failure named on stderr)."""
    from ..batch import RESULTS_NAME, Runner

    if workers is not None and workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {workers}")
    with Runner(scheduler, workers) as runner, progress(quiet, label) as update:
        rows = work(runner, update)
    failed = [r for r in rows if r.get("status") != "ok"]
    for r in failed:
        where, error = str(r.get("file") or r.get("take") or r.get("a")), str(r.get("error"))
        err.print(escape(f"failed: {error}" if where in error else f"failed: {where}: {error}"))
    table = Path(out_dir) / RESULTS_NAME
    if not quiet:
        out.print(f"{label}: {len(rows) - len(failed)} done, {len(failed)} failed; results in {escape(str(table))}")
    if failed:
        err.print(f"{label}: {len(failed)} of {len(rows)} item(s) failed (status 'error' in {escape(str(table))})")
        raise typer.Exit(1)


@batch_app.command("preprocess")
def batch_preprocess_cmd(
    inputs: Annotated[list[str], typer.Argument(metavar="FOLDER|GLOB...", help="Audio files, folders or globs.")],
    out_dir: BatchOutOpt = Path("batch-preprocess"),
    pitch: PitchOpt = "yin",
    store: StoreOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    resume: ResumeOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Preprocess every audio file into the reference store (one row per file in OUT/results.csv)."""
    from ..batch import batch_preprocess, expand_inputs
    from ..reference import default_store_path

    expand_inputs(inputs)  # bad input fails before a cluster starts
    root = store or default_store_path()
    run_batch(
        "preprocess", quiet, scheduler, workers, out_dir,
        lambda runner, update: batch_preprocess(inputs, root, out_dir, runner, pitch, update, resume),
    )  # fmt: skip


@batch_app.command("compare")
def batch_compare_cmd(
    inputs: Annotated[list[str], typer.Argument(metavar="FOLDER|GLOB...", help="Audio files, folders or globs.")],
    against: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--against", help="Compare each file with this audio file only (else every pair)."),
    ] = None,
    out_dir: BatchOutOpt = Path("batch-compare"),
    pitch: PitchOpt = "yin",
    store: StoreOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    resume: ResumeOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Compare every pair of files (or each against --against): one row per pair in OUT/results.csv."""
    from ..batch import batch_compare, expand_inputs
    from ..reference import default_store_path

    expand_inputs(inputs)
    if against is not None:
        expand_inputs([against])
    root = store or default_store_path()
    run_batch(
        "compare", quiet, scheduler, workers, out_dir,
        lambda runner, update: batch_compare(inputs, root, out_dir, runner, against, pitch, update, resume),
    )  # fmt: skip


@batch_app.command("score")
def batch_score_cmd(
    ref: Annotated[str, typer.Argument(help="Stored reference name, or an audio file (stored first).")],
    takes: Annotated[list[str], typer.Argument(metavar="TAKES...", help="Take audio files, folders or globs.")],
    tolerance: Annotated[float, typer.Option("--tolerance", help="Beats within this many ms count as in time.")] = 50.0,
    out_dir: BatchOutOpt = Path("batch-score"),
    pitch: PitchOpt = "yin",
    store: StoreOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    resume: ResumeOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Score every take against REF: one row per take in OUT/results.csv."""
    from ..batch import batch_score, expand_inputs
    from ..reference import default_store_path

    expand_inputs(takes)
    check_tolerance(tolerance)
    root = store or default_store_path()
    if ref not in open_store(root).index():
        expand_inputs([ref])
    run_batch(
        "score", quiet, scheduler, workers, out_dir,
        lambda runner, update: batch_score(ref, takes, root, out_dir, runner, tolerance, pitch, update, resume),
    )  # fmt: skip
