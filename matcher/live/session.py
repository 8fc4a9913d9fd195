"""A live session: follow a microphone in real time.

Three threads share one session:

* PortAudio's callback thread runs :meth:`LiveSession._callback`: it notes the arrival
  time and status flags and copies the block into a preallocated ring buffer
  (:class:`BlockRing`). No allocation, no lock other than an event's, no model call.
* The worker thread drains the ring, down-mixes, writes the take (``save_take``),
  resamples to the model rate and feeds :func:`matcher.follow.follow_blocks` — the same
  loop that follows files.
* The caller's thread starts the session, polls it (display, Ctrl-C, a device that
  stops delivering) and stops it.

Time: ``Position.t`` counts samples from the stream's start (frames at the model rate,
after resampling the counted device samples), never the wall clock. A block the ring
had to drop is replaced by as many zeros, so the count stays true to the take's time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import Resampler
from ..errors import DeviceError, ParameterError
from ..follow import CostWeights, FollowParams, Position, Track, follow_blocks
from ..performance import Performance
from .devices import InputDevice, find_input_device, sounddevice_module
from .ring import BlockRing, DurationStats

#: Seconds of audio the ring buffer holds before it drops blocks (a stalled worker).
RING_SECONDS = 20.0
#: Seconds without any audio from a started stream after which the device counts as gone.
STALL_SECONDS = 3.0


@dataclass(frozen=True)
class LiveResult:
    """How a live session went.

    track : Track                 every position (``t`` from counted samples)
    reason : str                  "duration", "stopped" (Ctrl-C, ``stop()``), "device" (the device
                                  stopped delivering audio) or "error" (see ``error``)
    message : str                 what happened, one line
    samplerate : int [Hz], channels : int       as recorded
    samples : int                 device samples followed (zeros for dropped blocks included)
    overflows : int               callbacks PortAudio flagged with an input overflow
    status_flags : int            callbacks with any status flag
    dropped_blocks, dropped_samples : int       blocks the full ring could not take
    latency : dict                block arrival -> the Position it produced (``DurationStats.summary``;
                                  ``over_hop``: how many took longer than a hop)
    processing : dict             worker time from draining a block to its Position
    input_latency_ms : float      the device/host buffering PortAudio reports (before arrival)
    take_path : Path | None       the recorded take (FLAC), if saved
    take_error : str | None       why saving the take stopped, if it did
    error : BaseException | None  an unexpected failure in the worker
    blocks : int                  blocks the audio callback delivered (dropped ones included)
    """

    track: Track
    reason: str
    message: str
    samplerate: int
    channels: int
    samples: int
    overflows: int
    status_flags: int
    dropped_blocks: int
    dropped_samples: int
    latency: dict[str, Any]
    processing: dict[str, Any]
    input_latency_ms: float | None
    device: InputDevice | None = None
    take_path: Path | None = None
    take_error: str | None = None
    error: BaseException | None = field(default=None, repr=False)
    blocks: int = 0

    @property
    def seconds(self) -> float:
        return self.samples / self.samplerate

    def stats(self) -> dict[str, Any]:
        """The figures without the track (JSON-ready)."""
        return {
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "samplerate": self.samplerate,
            "channels": self.channels,
            "device": None if self.device is None else self.device.name,
            "positions": len(self.track),
            "overflows": self.overflows,
            "status_flags": self.status_flags,
            "dropped_blocks": self.dropped_blocks,
            "dropped_samples": self.dropped_samples,
            "latency": self.latency,
            "processing": self.processing,
            "input_latency_ms": self.input_latency_ms,
            "blocks": self.blocks,
        }

    def benchmark_stats(self) -> dict[str, Any]:
        """The figures ``matcher follow --stats --json`` prints under ``"stats"`` (a
        benchmark reads exactly these names): latency and processing time [ms] (median,
        p99, max; None without blocks), overflows, dropped blocks, blocks."""
        pick = lambda d: {k: d.get(f"{k}_ms") for k in ("median", "p99", "max")}  # noqa: E731
        return {
            "latency_ms": pick(self.latency),
            "processing_ms": pick(self.processing),
            "overflows": int(self.overflows),
            "dropped_blocks": int(self.dropped_blocks),
            "blocks": int(self.blocks),
        }


StreamFactory = Callable[..., Any]


class LiveSession:
    """Follow an input device against ``reference`` until stopped, ``duration`` or the device ends.

    Parameters
    ----------
    reference : Performance
    device : InputDevice, str, int or None
        The device (see :func:`find_input_device`; None: the default input).
    channels : int > 0
        Channels to record; followed as their average, saved as recorded.
    duration : float > 0 [s], optional
        Stop by itself after this much audio (counted samples, not wall clock).
    on_track : callable(Track), optional
        Sees each new run of positions, on the worker thread (keep it short).
    save_take : path, optional
        Record the take to this FLAC file as it arrives (kept whatever ends the session).
    samplerate : int [Hz], optional
        Recording rate; by default the device's own.
    ring_seconds : float > 0 [s]
        Audio the ring holds before it drops blocks.
    stall_seconds : float > 0 [s]
        A started stream silent for this long counts as a device that went away.
    stream_factory : callable, optional
        ``stream_factory(samplerate=, channels=, callback=, finished_callback=)`` returning an
        object with ``start()``, ``stop()``, ``close()`` (and optionally ``latency``); by default a
        ``sounddevice.InputStream`` on ``device``. Tests and benchmarks feed files through it.

    Examples
    --------
    >>> with LiveSession(ref, duration=60) as session:
    ...     while session.wait(0.1):
    ...         show(session.latest)
    >>> result = session.result()
    """

    def __init__(
        self,
        reference: Performance,
        device: InputDevice | str | int | None = None,
        channels: int = 1,
        duration: float | None = None,
        on_track: Callable[[Track], None] | None = None,
        save_take: str | os.PathLike | None = None,
        samplerate: int | None = None,
        params: FollowParams | None = None,
        weights: CostWeights | None = None,
        ring_seconds: float = RING_SECONDS,
        stall_seconds: float = STALL_SECONDS,
        stream_factory: StreamFactory | None = None,
        warm_up: bool = True,
    ) -> None:
        if not isinstance(channels, int) or channels < 1:
            raise ParameterError(f"channels must be a positive integer, got {channels!r}")
        if duration is not None and not (np.isfinite(duration) and duration > 0):
            raise ParameterError(f"duration must be a positive number of seconds, got {duration!r}")
        if ring_seconds <= 0 or stall_seconds <= 0:
            raise ParameterError(f"ring_seconds and stall_seconds must be > 0, got {ring_seconds}, {stall_seconds}")
        if stream_factory is None and not isinstance(device, InputDevice):
            device = find_input_device(device)
        self.device = device if isinstance(device, InputDevice) else None
        if samplerate is None:
            if self.device is None:
                raise ParameterError("samplerate is needed when the stream is not a PortAudio device")
            samplerate = round(self.device.samplerate)
        if not isinstance(samplerate, int) or samplerate <= 0:
            raise ParameterError(f"samplerate must be a positive integer [Hz], got {samplerate!r}")
        if self.device is not None and channels > self.device.channels:
            raise DeviceError(
                f"device {self.device.name!r} records at most {self.device.channels} channel(s), asked for {channels}"
            )
        self.reference = reference
        self.channels = channels
        self.samplerate = samplerate
        self.duration = duration
        self.params = params
        self.weights = weights
        self.on_track = on_track
        self.save_take = None if save_take is None else Path(save_take)
        self.stall_seconds = stall_seconds
        self.stream_factory = stream_factory
        self.warm_up = warm_up
        self.ring = BlockRing(max(1, round(ring_seconds * samplerate)), channels)
        self.latency = DurationStats()
        self.processing = DurationStats()
        self.overflows = 0
        self.status_flags = 0
        self.samples = 0  # device samples handed to the follower
        self.level_db = -120.0  # peak of the newest chunk [dBFS], for a level meter
        self.latest: Position | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._stream: Any = None
        self._input_latency: float | None = None  # [s] as PortAudio reports it
        self._worker: threading.Thread | None = None
        self._pending: tuple[float, float] | None = None
        self._last_callback = 0.0
        self._device_finished = False
        self._reason: str | None = None
        self._message = ""
        self._track: Track | None = None
        self._error: BaseException | None = None
        self._take: Any = None
        self._take_error: str | None = None
        self._frozen: tuple[int, int, int, int] | None = None  # counters at the end of following
        self._result: LiveResult | None = None
        self._froze = False

    def __repr__(self) -> str:
        where = self.device.name if self.device else "stream"
        return f"LiveSession({self.reference.name!r}, {where!r}, {self.samplerate} Hz, {self.channels} ch)"

    # -- caller's thread -------------------------------------------------------------

    def start(self) -> LiveSession:
        """Warm up, open the take file and the stream, start following."""
        if self._worker is not None:
            raise ParameterError("a LiveSession starts once")
        if self.warm_up:  # numba compilation and first-call costs happen here, not on live audio
            silence = np.zeros(8 * self.reference.config.hop, np.float32)
            follow_blocks(self.reference, [silence], self.params, self.weights)
            Resampler(self.samplerate, self.reference.config.sr).push(np.zeros(1024, np.float32), last=True)
        # A full garbage collection over everything imported so far (numba, librosa, ...)
        # holds the GIL for 100-200 ms: the callback and the worker would stall with it.
        # Frozen objects are skipped, so collections only scan what the session creates.
        self._froze = gc.get_freeze_count() == 0  # undone at the end unless someone else froze first
        gc.collect()
        gc.freeze()
        if self.save_take is not None:
            self._open_take()
        try:
            self._stream = self._open_stream()
            latency = getattr(self._stream, "latency", None)
            self._input_latency = None if latency is None else float(latency)
            self._worker = threading.Thread(target=self._work, name="matcher-live-worker", daemon=True)
            self._worker.start()
            self._last_callback = time.perf_counter()
            self._stream.start()
        except BaseException:
            self._stop.set()
            self._wake.set()
            self._close_stream()
            if self._worker is not None:
                self._worker.join()
            self._close_take()
            if self.save_take is not None and self.samples == 0:  # no audio: leave no empty take behind
                self.save_take.unlink(missing_ok=True)
            if self._froze:
                gc.unfreeze()
                self._froze = False
            raise
        return self

    def wait(self, timeout: float = 0.1) -> bool:
        """Wait up to ``timeout`` [s]; True while the session is still following.

        Also the watchdog: a stream that finished by itself, or delivered nothing for
        ``stall_seconds``, stops the session (reason "device").
        """
        if self._done.wait(timeout):
            return False
        if self._reason is None and self._stream is not None:
            silent = time.perf_counter() - self._last_callback
            if self._device_finished:
                self.stop(
                    "device", f"{self._device_name()} stopped delivering audio (device removed or sound server gone)"
                )
            elif silent > self.stall_seconds:
                self.stop("device", f"no audio from {self._device_name()} for {silent:.1f} s (device removed?)")
        return not self._done.is_set()

    def stop(self, reason: str = "stopped", message: str = "") -> None:
        """End the session: the audio already received is still followed (and saved)."""
        if self._reason is None:
            self._reason, self._message = reason, message
        self._stop.set()
        self._wake.set()

    def result(self) -> LiveResult:
        """Stop if still running, wait for the worker, close everything; how it went."""
        if self._result is not None:
            return self._result
        if not self._done.is_set():
            self.stop()
        self._close_stream()
        if self._worker is not None:
            self._worker.join()
        self._close_take()
        if self._froze:
            gc.unfreeze()
            self._froze = False
        drops, dropped, overflows, flags = self._frozen or self._counters()
        reason = self._reason or "stopped"
        track = self._track if self._track is not None else _empty_track(self.reference)
        error = self._error
        if error is not None:
            reason = "error"
        message = self._message or {
            "duration": f"stopped after {self.duration} s",
            "stopped": "stopped",
            "error": f"following failed: {type(error).__name__}: {error}",
        }.get(reason, reason)
        self._result = LiveResult(
            track=track,
            reason=reason,
            message=message,
            samplerate=self.samplerate,
            channels=self.channels,
            samples=self.samples,
            overflows=overflows,
            status_flags=flags,
            dropped_blocks=drops,
            dropped_samples=dropped,
            latency={
                **self.latency.summary(),
                "over_hop": self.latency.count_over(self.reference.config.frame_seconds),
            },
            processing=self.processing.summary(),
            input_latency_ms=None if self._input_latency is None else round(self._input_latency * 1000.0, 1),
            device=self.device,
            take_path=self.save_take,
            take_error=self._take_error,
            error=error,
            blocks=int(self.ring.blocks) + int(drops),
        )
        return self._result

    def __enter__(self) -> LiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.result()

    # -- PortAudio's thread ----------------------------------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """Note the arrival, count status flags, copy the block. Nothing else."""
        now = time.perf_counter()
        self._last_callback = now
        if status:
            self.status_flags += 1
            if status.input_overflow:
                self.overflows += 1
        self.ring.put(indata, now)
        self._wake.set()

    def _finished(self) -> None:
        self._device_finished = True
        self._wake.set()

    # -- the worker ------------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._track = follow_blocks(self.reference, self._blocks(), self.params, self.weights, self._on_track)
        except BaseException as exc:  # reported by result(); the caller's thread decides
            self._error = exc
        finally:
            self._frozen = self._counters()
            self._done.set()

    def _blocks(self):
        """Model-rate blocks from the ring until stopped or ``duration`` is reached."""
        sr_model = self.reference.config.sr
        resampler = Resampler(self.samplerate, sr_model)
        limit = None if self.duration is None else round(self.duration * self.samplerate)
        while True:
            chunk = self.ring.get()
            if chunk is None:
                if self._stop.is_set():
                    break
                self._wake.wait(0.1)
                self._wake.clear()  # before get(): a block published after this still wakes us
                continue
            start = time.perf_counter()
            x = chunk.samples
            last = limit is not None and self.samples + len(x) >= limit
            if last:
                x = x[: limit - self.samples]
            self.samples += len(x)
            self._write_take(x)
            mono = x[:, 0] if self.channels == 1 else x.mean(axis=1, dtype=np.float32)
            peak = float(np.max(np.abs(mono))) if len(mono) else 0.0
            self.level_db = 20.0 * np.log10(max(peak, 1e-6))
            self._pending = (chunk.first_arrival, start)
            yield resampler.push(mono, last=last)
            if last:
                self._reason, self._message = "duration", ""
                self._stop.set()
                self._pending = None
                return
        gap = self.ring.pending_gap()  # dropped at the very end: keep the count of samples true
        if gap:
            self.samples += gap
            self._write_take(np.zeros((gap, self.channels), np.float32))
        self._pending = None
        tail = resampler.push(np.zeros(gap, np.float32), last=True)
        if len(tail):
            yield tail

    def _on_track(self, track: Track) -> None:
        if self._pending is not None:
            now = time.perf_counter()
            arrival, start = self._pending
            at = float(track.t[-1])
            self.latency.add(now - arrival, at)
            self.processing.add(now - start, at)
        self.latest = track[len(track) - 1]
        if self.on_track is not None:
            self.on_track(track)

    # -- helpers ---------------------------------------------------------------------

    def _counters(self) -> tuple[int, int, int, int]:
        return self.ring.dropped_blocks, self.ring.dropped_samples, self.overflows, self.status_flags

    def _device_name(self) -> str:
        return f"input {self.device.name!r}" if self.device else "the input stream"

    def _open_stream(self) -> Any:
        kwargs = dict(
            samplerate=self.samplerate,
            channels=self.channels,
            callback=self._callback,
            finished_callback=self._finished,
        )
        if self.stream_factory is not None:
            return self.stream_factory(**kwargs)
        sd = sounddevice_module()
        assert self.device is not None
        try:
            return sd.InputStream(device=self.device.index, dtype="float32", **kwargs)
        except Exception as exc:  # PortAudioError, ValueError: bad rate/channels, device busy or gone
            raise DeviceError(
                f"cannot open input {self.device.name!r} (index {self.device.index}) at {self.samplerate} Hz, "
                f"{self.channels} channel(s): {exc}"
            ) from exc

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        for name in ("stop", "close"):
            with contextlib.suppress(Exception):  # a device that is gone cannot be stopped; closing must not fail
                getattr(stream, name)()

    def _open_take(self) -> None:
        import soundfile as sf

        assert self.save_take is not None
        try:
            self._take = sf.SoundFile(str(self.save_take), "w", self.samplerate, self.channels, "PCM_24", format="FLAC")
        except Exception as exc:
            raise ParameterError(f"cannot write the take to {self.save_take}: {exc}") from exc

    def _write_take(self, x: np.ndarray) -> None:
        if self._take is None:
            return
        try:
            self._take.write(x)
        except Exception as exc:  # a full disk must not stop following
            self._take_error = f"{type(exc).__name__}: {exc}"
            self._close_take()

    def _close_take(self) -> None:
        take, self._take = self._take, None
        if take is not None:
            try:
                take.close()
            except Exception as exc:
                self._take_error = self._take_error or f"{type(exc).__name__}: {exc}"


def _empty_track(reference: Performance) -> Track:
    """A track without positions (a session that failed before its first frame)."""
    from dataclasses import fields

    kinds = {"lost": bool, "frame": np.int64, "paused": bool}
    return Track(**{f.name: np.zeros(0, kinds.get(f.name, np.float64)) for f in fields(Track)})
