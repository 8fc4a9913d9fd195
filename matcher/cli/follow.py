"""`matcher follow`: a take from a file or the microphone, followed against a reference."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ParameterError
from .common import PitchModelOpt, PitchOpt, QuietOpt, StoreOpt, app, err, open_store, out
from .render import LiveDisplay, print_follow_summary, print_live_stats, print_score

if TYPE_CHECKING:
    from ..follow import Track
    from ..performance import Performance


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
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="At the end print one JSON object on standard output instead of the summary: "
            '{"summary": ..., "stats": ...} (stats: microphone with --stats, else null).',
        ),
    ] = False,
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
    from ..api import follow as follow_file
    from ..api import load
    from ..audio import audio_info
    from ..follow import positions_jsonl

    if input is None:
        live = LiveOptions(device, channels, duration, stats, save_take, realtime)
        with take_for_score(score, save_take) as score_take:
            follow_live(ref, live, jsonl, as_json, pitch, pitch_model, store, quiet, score_take)
        return
    mic_only = {"--device": device, "--channels": channels, "--duration": duration, "--save-take": save_take}
    given = [name for name, value in mic_only.items() if value is not None] + (["--stats"] if stats else [])
    if given:
        raise ParameterError(f"{', '.join(given)}: for microphone input only; drop --input FILE to listen")
    audio_info(input)  # a bad take fails before the reference is prepared
    reference = load(ref, store=open_store(store), pitch=pitch, pitch_model=pitch_model, quiet=quiet)
    sink = open_jsonl(jsonl)
    display = None if (quiet or jsonl == "-" or as_json or not realtime) else LiveDisplay(reference)

    def on_track(track: Track) -> None:
        if sink is not None:
            sink.write(positions_jsonl(track, reference))
            sink.flush()
        if display is not None:
            display.update(track[len(track) - 1])

    try:
        with display if display is not None else contextlib.nullcontext():
            track = follow_file(reference, input, realtime=realtime, on_track=on_track)
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
    finish(reference, track, None, jsonl, as_json, quiet)
    if score:
        score_followed(reference, input, track, err if (jsonl == "-" or as_json) else out)


def open_jsonl(jsonl: str | None) -> IO[str] | None:
    """Where --jsonl writes: standard output for ``-``, else the file opened for writing."""
    if jsonl is None:
        return None
    try:
        return sys.stdout if jsonl == "-" else open(jsonl, "w", encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot write --jsonl {jsonl}: {exc.strerror}") from exc


def finish(
    reference: Performance, track: Track, stats: dict[str, Any] | None, jsonl: str | None, as_json: bool, quiet: bool
) -> None:
    """The closing words of `follow`: with --json one JSON object on standard output
    (``{"summary": ..., "stats": ...}``, the names a benchmark reads), else the summary
    for people (not when positions went to standard output, nor when quiet)."""
    from ..follow import summarize

    summary = summarize(track, reference)
    if as_json:
        print(json.dumps({"summary": summary, "stats": stats}, allow_nan=False), flush=True)
    elif not quiet and jsonl != "-":
        print_follow_summary(summary)


@dataclass(frozen=True)
class LiveOptions:
    """The microphone options of `follow`."""

    device: str | None
    channels: int | None
    duration: float | None
    stats: bool
    save_take: Path | None
    realtime: bool


def follow_live(
    ref: str,
    opts: LiveOptions,
    jsonl: str | None,
    as_json: bool,
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

    from .. import live
    from ..api import load
    from ..errors import DeviceError
    from ..follow import positions_jsonl

    if opts.realtime:
        raise ParameterError("--realtime paces a file; the microphone is real time already (drop --realtime)")
    if opts.channels is not None and opts.channels < 1:
        raise ParameterError(f"--channels must be at least 1, got {opts.channels}")
    if opts.duration is not None and not opts.duration > 0:
        raise ParameterError(f"--duration must be a positive number of seconds, got {opts.duration}")
    if opts.save_take is not None and opts.save_take.suffix.lower() != ".flac":
        raise ParameterError(f"--save-take writes FLAC: give a file name ending in .flac, got {opts.save_take}")
    device = live.find_input_device(opts.device)  # a missing microphone fails before the reference is prepared
    reference = load(ref, store=open_store(store), pitch=pitch, pitch_model=pitch_model, quiet=quiet)
    to_stdout = jsonl == "-" or as_json
    sink = open_jsonl(jsonl)

    def on_track(track: Track) -> None:  # on the worker thread
        if sink is not None:
            sink.write(positions_jsonl(track, reference))
            sink.flush()

    def on_term(signum: int, frame: object) -> None:  # `kill` ends a session like Ctrl-C
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, on_term) if in_main else None
    take_file = opts.save_take or score_take
    session = live.LiveSession(reference, device, opts.channels or 1, opts.duration, on_track, take_file)
    display = None if (quiet or to_stdout) else LiveDisplay(reference)
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
    stats = result.benchmark_stats() if opts.stats else None
    finish(reference, result.track, stats, jsonl, as_json, quiet)
    if opts.stats and not as_json:
        print_live_stats(result, reference.config.frame_seconds, report)
    elif result.overflows or result.dropped_blocks:
        err.print(f"input: {result.overflows} overflow(s), {result.dropped_blocks} dropped block(s) (--stats: details)")
    if result.take_error:
        err.print(f"the take stopped being saved: {escape(result.take_error)}")
    elif opts.save_take is not None and result.take_path is not None and not quiet:
        err.print(f"take saved: {escape(str(result.take_path))} ({result.seconds:.1f} s)")
    if score_take is not None and result.error is None and not result.take_error:
        score_followed(reference, result.take_path, result.track, report)
    if result.error is not None:
        raise result.error
    if result.reason == "device":
        kept = f"; the take is kept in {result.take_path}" if opts.save_take and not result.take_error else ""
        raise DeviceError(f"{result.message}; followed {result.seconds:.1f} s{kept}")


@contextlib.contextmanager
def take_for_score(score: bool, save_take: Path | None) -> Iterator[Path | None]:
    """Where `follow --score` records a microphone take: --save-take, else a temporary file
    removed afterwards; None without --score."""
    if not score or save_take is not None:
        yield save_take if score else None
        return
    with tempfile.TemporaryDirectory(prefix="matcher-take-") as folder:
        yield Path(folder) / "take.flac"


def score_followed(reference: Performance, take_path: Path | None, track: Track, console: Console) -> None:
    """`follow --score`: score the finished take offline (its audio, the reference's pitch
    backend), aligned over the part of the reference the follower saw it cover."""
    from ..api import score
    from ..scoring import followed_span

    if take_path is None or not Path(take_path).exists() or len(track) == 0:
        console.print("nothing to score: the take produced no audio")
        return
    result = score(reference, take_path, params=followed_span(track, reference))
    print_score(result, console)
