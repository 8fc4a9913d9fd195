"""`matcher` command line: parses, calls the API, prints. Nothing clever lives here."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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


def _check_beats_per_bar(beats_per_bar: int) -> None:
    if beats_per_bar < 1:
        raise ParameterError(f"--beats-per-bar must be at least 1, got {beats_per_bar}")


def _check_tolerance(tolerance: float) -> None:
    if not (tolerance > 0 and tolerance < float("inf")):
        raise ParameterError(f"--tolerance must be a positive number of milliseconds, got {tolerance}")


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
    beats: BeatsOpt = None,
    beats_per_bar: BeatsPerBarOpt = 4,
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

    _check_beats_per_bar(beats_per_bar)
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
        typer.Option("--input", "-i", help="Take to follow (audio file). Without it: the microphone."),
    ] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="Pace the file like a live microphone.")] = False,
    jsonl: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--jsonl", help="Write one JSON object per hop to this file ('-': standard output)."),
    ] = None,
    device: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--device", "-d", help="Microphone: name or index from `matcher devices` (default input)."),
    ] = None,
    channels: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--channels", help="Microphone channels to record (averaged for following). [default: 1]"),
    ] = None,
    duration: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--duration", help="Microphone: stop by itself after this many seconds of audio."),
    ] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Microphone: print latency figures and overflow counts at the end.")
    ] = False,
    save_take: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--save-take", help="Microphone: keep the recorded audio in this FLAC file."),
    ] = None,
    score: Annotated[
        bool, typer.Option("--score", help="When the take ends, score it per beat as `matcher score` does.")
    ] = False,
    pitch: PitchOpt = "auto",
    pitch_model: PitchModelOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Follow a take against a reference: position (s, beat, bar) and tempo deviation, per hop."""
    from .audio import audio_info, file_blocks, paced
    from .follow import follow_blocks, summarize

    if input is None:
        live = _LiveOptions(device, channels, duration, stats, save_take, realtime)
        with _take_for_score(score, save_take) as score_take:
            _follow_live(ref, live, jsonl, pitch, pitch_model, store, quiet, score_take)
        return
    mic_only = {"--device": device, "--channels": channels, "--duration": duration, "--save-take": save_take}
    given = [name for name, value in mic_only.items() if value is not None] + (["--stats"] if stats else [])
    if given:
        raise ParameterError(f"{', '.join(given)}: for microphone input only; drop --input FILE to listen")
    audio_info(input)  # a bad take fails before the reference is prepared
    reference = _load_reference(ref, store, pitch, pitch_model, quiet)
    blocks = file_blocks(input, reference.config.sr)
    if realtime:
        blocks = paced(blocks, reference.config.sr, reference.config.hop)
    sink = None
    if jsonl is not None:
        try:
            sink = sys.stdout if jsonl == "-" else open(jsonl, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ParameterError(f"cannot write --jsonl {jsonl}: {exc.strerror}") from exc
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
    if score:
        _score_followed(reference, input, track, err if jsonl == "-" else out)


@dataclass(frozen=True)
class _LiveOptions:
    """The microphone options of `follow`."""

    device: str | None
    channels: int | None
    duration: float | None
    stats: bool
    save_take: Path | None
    realtime: bool


def _follow_live(
    ref: str,
    opts: _LiveOptions,
    jsonl: str | None,
    pitch: str,
    pitch_model: str | None,
    store: Path | None,
    quiet: bool,
    score_take: Path | None = None,
) -> None:
    """`follow` without --input: listen until Ctrl-C, --duration, or the device goes away.
    With ``score_take`` the take is recorded there and scored when it ends."""
    import signal
    import threading

    from . import live
    from .errors import DeviceError
    from .follow import summarize

    if opts.realtime:
        raise ParameterError("--realtime paces a file; the microphone is real time already (drop --realtime)")
    if opts.channels is not None and opts.channels < 1:
        raise ParameterError(f"--channels must be at least 1, got {opts.channels}")
    if opts.duration is not None and not opts.duration > 0:
        raise ParameterError(f"--duration must be a positive number of seconds, got {opts.duration}")
    if opts.save_take is not None and opts.save_take.suffix.lower() != ".flac":
        raise ParameterError(f"--save-take writes FLAC: give a file name ending in .flac, got {opts.save_take}")
    device = live.find_input_device(opts.device)  # a missing microphone fails before the reference is prepared
    reference = _load_reference(ref, store, pitch, pitch_model, quiet)
    to_stdout = jsonl == "-"
    sink = None
    if jsonl is not None:
        try:
            sink = sys.stdout if to_stdout else open(jsonl, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ParameterError(f"cannot write --jsonl {jsonl}: {exc.strerror}") from exc

    def on_track(track: Track) -> None:  # on the worker thread
        if sink is not None:
            sink.write("".join(p.to_json() + "\n" for p in track.positions()))
            sink.flush()

    def on_term(signum: int, frame: object) -> None:  # `kill` ends a session like Ctrl-C
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, on_term) if in_main else None
    take_file = opts.save_take or score_take
    session = live.LiveSession(reference, device, opts.channels or 1, opts.duration, on_track, take_file)
    display = None if (quiet or to_stdout) else _LiveDisplay(reference)
    try:
        if not quiet:
            err.print(
                f"listening on {escape(device.name)} ({session.samplerate} Hz, {session.channels} ch) "
                f"for {escape(reference.name)}; Ctrl-C ends"
            )
        try:
            session.start()
            if display is None:
                while session.wait(0.25):
                    pass
            else:
                with display:
                    while session.wait(0.1):
                        problems = session.overflows + session.ring.dropped_blocks
                        note = f"in {session.level_db:+.0f} dB" + (f", {problems} overflows/drops" if problems else "")
                        display.update(session.latest, note)
        except KeyboardInterrupt:
            session.stop("stopped", "stopped (Ctrl-C)")
        result = session.result()
    finally:
        session.result()  # closes the stream and the take whatever happened
        if sink is not None and sink is not sys.stdout:
            sink.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    report = err if to_stdout else out
    if not quiet and not to_stdout:
        _print_follow_summary(summarize(result.track, reference))
    if opts.stats:
        _print_live_stats(result, reference.config.frame_seconds, report)
    elif result.overflows or result.dropped_blocks:
        err.print(f"input: {result.overflows} overflow(s), {result.dropped_blocks} dropped block(s) (--stats: details)")
    if result.take_error:
        err.print(f"the take stopped being saved: {escape(result.take_error)}")
    elif opts.save_take is not None and result.take_path is not None and not quiet:
        err.print(f"take saved: {escape(str(result.take_path))} ({result.seconds:.1f} s)")
    if score_take is not None and result.error is None and not result.take_error:
        _score_followed(reference, result.take_path, result.track, report)
    if result.error is not None:
        raise result.error
    if result.reason == "device":
        kept = f"; the take is kept in {result.take_path}" if opts.save_take and not result.take_error else ""
        raise DeviceError(f"{result.message}; followed {result.seconds:.1f} s{kept}")


def _print_live_stats(result: Any, hop_s: float, console: Console) -> None:
    lat, proc = result.latency, result.processing
    if lat["n"]:
        console.print(
            f"latency, block arrival to position: median {lat['median_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, "
            f"max {lat['max_ms']:.2f} ms (at {lat['max_at_s']:.1f} s) over {lat['n']} blocks, "
            f"{lat['over_hop']} longer than the {hop_s * 1000:.0f} ms hop; "
            f"processing: median {proc['median_ms']:.2f} ms, p99 {proc['p99_ms']:.2f} ms"
        )
    else:
        console.print("latency: no block produced a position")
    buffering = "" if result.input_latency_ms is None else f", device buffering {result.input_latency_ms:.1f} ms"
    name = escape(result.device.name) if result.device else "stream"
    console.print(
        f"input: {name} at {result.samplerate} Hz, {result.channels} ch, {result.seconds:.1f} s{buffering}; "
        f"overflows {result.overflows}, dropped blocks {result.dropped_blocks}"
    )


# -- batch ---------------------------------------------------------------------------------

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


def _run_batch(label: str, quiet: bool, scheduler: str | None, workers: int | None, work: Any) -> None:
    """Run ``work(runner, progress)`` with a progress bar, then print a one-line tally."""
    from .batch import Runner

    if workers is not None and workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {workers}")
    bar, update = _progress(quiet, label)
    with Runner(scheduler, workers) as runner:
        if bar is not None:
            with bar:
                rows = work(runner, update)
        else:
            rows = work(runner, None)
    failed = [r for r in rows if r.get("status") != "ok"]
    for r in failed:
        where, error = str(r.get("file") or r.get("take") or r.get("a")), str(r.get("error"))
        err.print(escape(f"failed: {error}" if where in error else f"failed: {where}: {error}"))
    if not quiet:
        out.print(f"{label}: {len(rows) - len(failed)} done, {len(failed)} failed")


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
    from .batch import batch_preprocess, expand_inputs
    from .reference import default_store_path

    expand_inputs(inputs)  # bad input fails before a cluster starts
    root = store or default_store_path()
    _run_batch(
        "preprocess", quiet, scheduler, workers,
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
    from .batch import batch_compare, expand_inputs
    from .reference import default_store_path

    expand_inputs(inputs)
    if against is not None:
        expand_inputs([against])
    root = store or default_store_path()
    _run_batch(
        "compare", quiet, scheduler, workers,
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
    from .batch import batch_score, expand_inputs
    from .reference import default_store_path

    expand_inputs(takes)
    _check_tolerance(tolerance)
    root = store or default_store_path()
    if ref not in _store(root).index():
        expand_inputs([ref])
    _run_batch(
        "score", quiet, scheduler, workers,
        lambda runner, update: batch_score(ref, takes, root, out_dir, runner, tolerance, pitch, update, resume),
    )  # fmt: skip


@app.command("devices")
def devices(as_json: JsonFlag = False) -> None:
    """List audio input devices: index, name, channels, default rate (* marks the default)."""
    from .errors import DeviceError
    from .live import input_devices

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

    def update(self, pos: Position | None, note: str = "") -> None:
        if pos is None:  # a microphone before its first frame
            self.live.update(f"listening…  {note}")
            return
        share = min(1.0, pos.ref_t / max(self.reference.duration, 1e-9))
        width = 30
        bar = "█" * int(share * width) + "·" * (width - int(share * width))
        words = "steady" if abs(pos.tempo_dev_pct) < 3 else ("rushing" if pos.tempo_dev_pct > 0 else "dragging")
        where = f"bar {int(pos.bar)} beat {int((pos.bar % 1) * self.reference.beats.beats_per_bar) + 1}"
        if pos.bar != pos.bar:  # no beats: NaN
            where = f"{pos.ref_t:6.2f} s"
        self.live.update(
            f"{bar} {where}  {pos.ref_t:6.2f} s  tempo {pos.tempo_dev_pct:+5.1f} % ({words})  "
            f"conf {pos.confidence:.2f}  {pos.state}" + (f"  {note}" if note else "")
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
    from .align import AlignParams
    from .compare import compare, load_performance, write_atomic
    from .features import PITCH_CHOICES, resolve_backend

    _check_beats_per_bar(beats_per_bar)
    if pitch not in PITCH_CHOICES:
        raise ParameterError(f"unknown pitch backend {pitch!r}; choose one of {', '.join(PITCH_CHOICES)}")
    params = AlignParams(method=method, open_begin=open_begin, open_end=open_end)
    ref_store = _store(store)
    for spec in (a, b):  # a bad second file fails before the first is preprocessed
        if spec not in ref_store.index():
            from .audio import audio_info

            if not Path(spec).exists():
                known = ", ".join(sorted(ref_store.index())) or "none stored"
                raise MatcherError(f"{spec!r} is neither a stored reference (have: {known}) nor an audio file")
            audio_info(spec)
    models: dict[str, Any] = {}

    def model_for():
        if "m" not in models:
            models["m"] = resolve_backend(pitch, pitch_model, Config(), quiet=quiet)
        return models["m"]

    side_a = load_performance(a, ref_store, Config(), model_for, beats, beats_per_bar)
    side_b = load_performance(b, ref_store, side_a.config, model_for, None, beats_per_bar, track=False)
    if side_a.name == side_b.name:
        side_b = type(side_b)(f"{side_b.name} (B)", side_b.frames, side_b.beats, side_b.config, side_b.meta)
    result = compare(side_a, side_b, params)
    if json_out is not None:
        text = json.dumps(result.to_dict(), indent=1)
        if json_out == "-":
            print(text)
        else:
            write_atomic(json_out, (text + "\n").encode())
    if csv_out is not None:
        write_atomic(csv_out, result.beats_csv().encode())
    if plot is not None:
        from .plot import write_comparison_png

        write_comparison_png(result, plot)
    if not quiet and json_out != "-":
        _print_comparison(result)


def _print_comparison(result: Any) -> None:
    """A table per bar (the passages only, for long pieces) and the summary sentence."""
    rows = result.bars if len(result.bars) <= 40 else [b for b in result.bars if any(
        p.first_bar <= b.bar <= p.last_bar for p in result.passages)]  # fmt: skip
    if rows:
        title = "bars" if len(rows) == len(result.bars) else f"bars where they differ most (of {len(result.bars)})"
        table = Table("bar", "A start", "B start", "B tempo vs A", "max beat dev", "pitch", title=title)
        marked = {b for p in result.passages for b in range(p.first_bar, p.last_bar + 1)}
        for bar in rows:
            tempo = "" if bar.tempo_dev_pct != bar.tempo_dev_pct else f"{bar.tempo_dev_pct + 0.0:+.1f} %"
            cents = "" if bar.cents != bar.cents else f"{round(bar.cents) + 0:+d} ct"
            style = "bold" if bar.bar in marked else None
            table.add_row(
                str(bar.bar), f"{bar.a_start:.2f} s", f"{bar.b_start:.2f} s", tempo, f"{bar.max_dev_ms:.0f} ms", cents,
                style=style,
            )  # fmt: skip
        out.print(table)
    out.print(escape(result.summary()))


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
    from .align import AlignParams
    from .beats import load_beats
    from .compare import write_atomic
    from .scoring import load_take, score_take, write_score_png

    _check_beats_per_bar(beats_per_bar)
    _check_tolerance(tolerance)
    if tempo is not None and not (tempo > 0 and tempo < float("inf")):
        raise ParameterError(f"--tempo must be a positive ratio (take / reference, e.g. 0.8), got {tempo}")
    params = AlignParams(method=method, open_begin=open_begin, open_end=open_end)
    ref_store = _store(store)
    if take not in ref_store.index():  # a bad take fails before the reference is prepared
        from .audio import audio_info

        if not Path(take).exists():
            known = ", ".join(sorted(ref_store.index())) or "none stored"
            raise MatcherError(f"{take!r} is neither a stored reference (have: {known}) nor an audio file")
        audio_info(take)
    ref_beats = load_beats(beats, beats_per_bar) if beats is not None else None
    reference = _load_reference(ref, store, pitch, pitch_model, quiet)
    bar, update = _progress(quiet, f"preprocessing {Path(take).name}")
    if bar is not None:
        with bar:
            side = load_take(take, reference, ref_store, pitch_model, update)
    else:
        side = load_take(take, reference, ref_store, pitch_model)
    result = score_take(reference, side, tolerance, params, ref_beats, tempo_ratio=tempo)
    if json_out is not None:
        text = json.dumps(result.to_dict(), indent=1, allow_nan=False)
        if json_out == "-":
            print(text)
        else:
            write_atomic(json_out, (text + "\n").encode())
    if plot is not None:
        write_score_png(result, plot)
    if not quiet and json_out != "-":
        _print_score(result, out)


@contextlib.contextmanager
def _take_for_score(score: bool, save_take: Path | None) -> Iterator[Path | None]:
    """Where `follow --score` records a microphone take: --save-take, else a temporary file
    removed afterwards; None without --score."""
    if not score or save_take is not None:
        yield save_take if score else None
        return
    with tempfile.TemporaryDirectory(prefix="matcher-take-") as folder:
        yield Path(folder) / "take.flac"


def _score_followed(reference: Reference, take_path: Path | None, track: Track, console: Console) -> None:
    """`follow --score`: score the finished take offline (its audio, the reference's pitch
    backend), aligned over the part of the reference the follower saw it cover."""
    from .scoring import followed_span, load_take, score_take

    if take_path is None or not Path(take_path).exists() or len(track) == 0:
        console.print("nothing to score: the take produced no audio")
        return
    params = followed_span(track, reference)
    result = score_take(reference, load_take(take_path, reference), params=params)
    _print_score(result, console)


_GRADE_STYLE = {"green": "green", "yellow": "yellow", "red": "red", "none": "dim"}


def _print_score(result: Any, console: Console) -> None:
    """A table per bar, each beat's error coloured green/yellow/red, and the sentence."""
    from .scoring import grade

    tol = result.tolerance_ms
    bars = result.bars
    title = f"timing per bar (error ms per beat: green within ±{tol:g}, yellow within ±{2 * tol:g}, red beyond)"
    if len(bars) > 80:  # a long piece: the bars with a beat outside the tolerance
        bars = tuple(b for b in bars if b.within < 1.0)
        title += f"; {len(bars)} of {len(result.bars)} bars with a beat outside ±{tol:g} ms"
    if bars:
        table = Table("bar", "take", "beats: error ms", "mean", "max |steadiness|", "pitch", title=title)
        by_bar: dict[int, list[Any]] = {}
        for b in result.beats:
            by_bar.setdefault(b.bar, []).append(b)
        for bar in bars:
            cells = " ".join(
                f"[{_GRADE_STYLE[grade(b.error_ms, tol)]}]{b.error_ms + 0.0:+.0f}[/]" for b in by_bar.get(bar.bar, [])
            )
            s = bar.max_abs_steadiness_ms
            steady = "" if s != s else f"{s:.0f}"
            cents = "" if bar.cents != bar.cents else f"{round(bar.cents) + 0:+d} ct"
            style = _GRADE_STYLE[grade(bar.mean_abs_error_ms, tol)]
            table.add_row(
                str(bar.bar), f"{bar.take_t:.2f} s", cells, f"[{style}]{bar.mean_error_ms + 0.0:+.0f}[/]", steady, cents
            )
        console.print(table)
    console.print(escape(result.sentence()))


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
