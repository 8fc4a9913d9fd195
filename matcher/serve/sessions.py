"""Live following sessions over a WebSocket: the protocol, one session per connection.

Protocol (``ws[s]://HOST/api/follow/<reference>``):

1. The client sends ``{"type": "start", "sample_rate": 48000, "format": "f32"}``
   (``format``: ``"f32"`` little-endian float32 or ``"s16"`` little-endian int16, mono).
   The server answers ``{"event": "ready", "take": ID, "reference": NAME, ...}``.
   With ``{"type": "start", "source": "server", "device": NAME|INDEX|null}`` the audio
   comes from the server's own input device instead (``GET /api/devices`` lists them):
   the client then sends no audio, only the control messages of 3, and receives the
   positions as below.
2. Binary messages are PCM blocks in that format (at most :data:`MAX_BLOCK_SECONDS`).
   For each block the server sends one text message: the positions the block completed,
   one JSON object per line, the same objects as ``matcher follow --jsonl`` (no message
   when a block completed none).
3. Text messages steer the follower: ``{"type": "seek", "bar": 5}`` (the player starts
   bar 5 now), ``{"type": "seek", "ref_t": 12.5}``, ``{"type": "restart"}`` (from the
   start); answered by ``{"event": "seeked", "ref_t": ...}``. ``{"type": "stop"}`` ends the
   take: the server saves it and answers ``{"event": "ended", "take": ID, "summary": ...}``.

A malformed message ends the session with ``{"event": "error", "message": ...}`` and a
close code 1003 (unsupported data) or 1008 (policy); a client that vanishes ends it too.
Either way the take heard so far is saved (when it has a second of audio) and nothing
stored before is touched. Each connection has its own follower: sessions share only the
read-only reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import engine
from .takes import TakeStore, new_take_id

log = logging.getLogger("matcher.serve")

#: Longest PCM block accepted in one message [s].
MAX_BLOCK_SECONDS = 1.0
#: Sample rates a client may declare [Hz].
MIN_RATE, MAX_RATE = 8000, 192000
#: Sample formats: name -> (numpy dtype, scale to [-1, 1]).
FORMATS = {"f32": (np.dtype("<f4"), 1.0), "s16": (np.dtype("<i2"), 1.0 / 32768.0)}
#: A take shorter than this [s] is not kept.
MIN_TAKE_SECONDS = 1.0
#: How often the server's microphone is read when a take listens to it [s].
MIC_POLL_S = 0.02

CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
CLOSE_INTERNAL = 1011


class ProtocolError(Exception):
    """A message the protocol does not allow; its text goes to the client."""

    def __init__(self, message: str, code: int = CLOSE_UNSUPPORTED) -> None:
        super().__init__(message)
        self.code = code


def parse_start(text: str) -> tuple[int, str]:
    """The declared sample rate [Hz] and format of a start message (browser audio)."""
    msg = parse_control(text)
    if msg.get("type") != "start":
        raise ProtocolError('the first message must be {"type": "start", "sample_rate": ..., "format": ...}')
    return _browser_audio(msg)


def parse_source(text: str) -> tuple[str, Any]:
    """Where a start message says the audio comes from: ``("browser", (rate, format))``
    or ``("server", device)`` (device: a name, an index or None for the default input)."""
    msg = parse_control(text)
    if msg.get("type") != "start":
        raise ProtocolError('the first message must be {"type": "start", "sample_rate": ..., "format": ...}')
    source = msg.get("source", "browser")
    if source == "browser":
        return source, _browser_audio(msg)
    if source != "server":
        raise ProtocolError(f'source must be "browser" or "server", got {source!r}')
    device = msg.get("device")
    if device is not None and (isinstance(device, bool) or not isinstance(device, (str, int))):
        raise ProtocolError(f"device must be a name, an index or null, got {device!r}")
    return source, device


def _browser_audio(msg: dict[str, Any]) -> tuple[int, str]:
    rate = msg.get("sample_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(f"sample_rate must be a whole number of Hz in {MIN_RATE}-{MAX_RATE}, got {rate!r}")
    fmt = msg.get("format", "f32")
    if fmt not in FORMATS:
        raise ProtocolError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return rate, fmt


def parse_control(text: str) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"text messages must be JSON objects ({exc})") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("text messages must be JSON objects")
    return msg


def decode_pcm(data: bytes, fmt: str, rate: int) -> np.ndarray:
    """Mono float32 samples of a binary message."""
    dtype, scale = FORMATS[fmt]
    if len(data) % dtype.itemsize:
        raise ProtocolError(
            f"a {fmt} block must be a whole number of {dtype.itemsize}-byte samples, got {len(data)} bytes"
        )
    if len(data) > MAX_BLOCK_SECONDS * rate * dtype.itemsize:
        raise ProtocolError(f"blocks may hold at most {MAX_BLOCK_SECONDS:g} s of audio, got {len(data)} bytes")
    samples = np.frombuffer(data, dtype).astype(np.float32)
    if scale != 1.0:
        samples *= scale
    elif not np.isfinite(samples).all():
        raise ProtocolError("the block holds NaN or infinite samples")
    return samples


@dataclass
class Registry:
    """The server's live sessions (bounded: each holds a follower and the take's audio)."""

    max_sessions: int = 8
    active: dict[str, str] = field(default_factory=dict)  # take id -> reference

    def open(self, take_id: str, reference: str) -> bool:
        if len(self.active) >= self.max_sessions:
            return False
        self.active[take_id] = reference
        return True

    def close(self, take_id: str) -> None:
        self.active.pop(take_id, None)


class LiveSession:
    """One connection: a follower for one take of one reference."""

    def __init__(self, ws: WebSocket, store: engine.ReferenceStore, takes: TakeStore, registry: Registry) -> None:
        self.ws = ws
        self.store = store
        self.takes = takes
        self.registry = registry
        self.take_id = new_take_id()
        self.started = dt.datetime.now(dt.timezone.utc)
        self.live: engine.LiveFollow | None = None
        self.recording: Path | None = None  # the take's audio while it is recorded
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="matcher-serve-session")
        self.ended_by = "client left"
        self.mic: engine.ServerMic | None = None  # the server's input device, when the page chose it
        self.pump: asyncio.Task[None] | None = None
        self.pump_stop = asyncio.Event()

    async def run(self, name: str) -> None:
        await self.ws.accept()
        if not self.registry.open(self.take_id, name):
            await self._refuse(f"the server follows {self.registry.max_sessions} takes already", CLOSE_TRY_LATER)
            return
        try:
            await self._serve(name)
        except ProtocolError as exc:
            self.ended_by = f"error: {exc}"
            await self._refuse(str(exc), exc.code)
        except WebSocketDisconnect:
            pass
        except engine.MatcherError as exc:
            self.ended_by = f"error: {exc}"
            await self._refuse(str(exc), CLOSE_POLICY)
        except Exception as exc:  # a bug of ours: one message to the client, the take still kept
            log.exception("live session %s failed", self.take_id)
            self.ended_by = f"server error: {type(exc).__name__}"
            await self._refuse(f"the server failed ({type(exc).__name__}); the take so far is kept", CLOSE_INTERNAL)
        finally:
            with contextlib.suppress(Exception):  # the device may be gone already
                await self._stop_mic()
            await self._keep()

    async def _serve(self, name: str) -> None:
        try:
            reference = await asyncio.to_thread(engine.load_reference, self.store, name)
        except engine.MatcherError as exc:
            raise ProtocolError(str(exc), CLOSE_POLICY) from exc
        first = await self.ws.receive()
        if first["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(first.get("code", 1000))
        if first.get("text") is None:
            raise ProtocolError("the first message must be the JSON start message, not audio")
        source, spec = parse_source(first["text"])
        mic: engine.ServerMic | None = None
        if source == "server":
            try:
                mic = await asyncio.to_thread(engine.ServerMic, spec)
            except engine.MatcherError as exc:
                raise ProtocolError(str(exc), CLOSE_POLICY) from exc
            self.mic = mic
            rate, fmt = mic.sample_rate, "server"
        else:
            rate, fmt = spec
        self.recording = self.takes.path(name, self.take_id, ".part.flac")
        self.live = live = await self._on_worker(engine.LiveFollow, reference, rate, self.recording)
        ready = {"event": "ready", "take": self.take_id, "reference": name, "sample_rate": rate, "format": fmt}
        if mic is not None:
            ready["device"] = mic.device.name
            self.pump = asyncio.create_task(self._pump(mic, live, self.pump_stop))
        await self.ws.send_json(ready)
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                if mic is not None:
                    raise ProtocolError("this take listens to the server's microphone: send no audio")
                track = await self._on_worker(live.push, decode_pcm(msg["bytes"], fmt, rate))
                if len(track):
                    await self.ws.send_text(engine.positions_jsonl(track, live.reference))
                continue
            control = parse_control(msg.get("text") or "")
            kind = control.get("type")
            if kind == "seek":
                ref_t = self._seek(live, control)
                await self.ws.send_json({"event": "seeked", "ref_t": round(ref_t, 4), "t": round(live.seconds, 4)})
            elif kind == "restart":
                live.seek(0.0)
                await self.ws.send_json({"event": "seeked", "ref_t": 0.0, "t": round(live.seconds, 4)})
            elif kind == "stop":
                self.ended_by = "stop"
                await self._stop_mic()
                track = await self._on_worker(live.finish)
                if len(track):
                    await self.ws.send_text(engine.positions_jsonl(track, live.reference))
                meta = await self._keep()
                await self.ws.send_json({"event": "ended", "take": self.take_id if meta else None, "summary": meta})
                await self.ws.close()
                return
            else:
                raise ProtocolError(f"unknown message type {kind!r}: use seek, restart or stop")

    async def _pump(self, mic: engine.ServerMic, live: engine.LiveFollow, stop: asyncio.Event) -> None:
        """Follow what the server's microphone delivered, every MIC_POLL_S, until ``stop``
        (not cancelled: a block being followed is finished and its positions sent)."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), MIC_POLL_S)
            samples = mic.read()
            if len(samples):
                track = await self._on_worker(live.push, samples)
                if len(track):
                    await self.ws.send_text(engine.positions_jsonl(track, live.reference))

    async def _stop_mic(self) -> None:
        """Stop the pump, close the device, follow what it still held (once)."""
        pump, self.pump = self.pump, None
        mic, self.mic = self.mic, None
        if pump is not None:
            self.pump_stop.set()
            await pump
        if mic is not None:
            await asyncio.to_thread(mic.close)
            rest = mic.read()
            live = self.live
            if len(rest) and live is not None:
                track = await self._on_worker(live.push, rest)
                if len(track):
                    await self.ws.send_text(engine.positions_jsonl(track, live.reference))

    @staticmethod
    def _seek(live: engine.LiveFollow, control: dict[str, Any]) -> float:
        bar, ref_t = control.get("bar"), control.get("ref_t")
        if isinstance(bar, int) and not isinstance(bar, bool):
            try:
                return live.seek_bar(bar)
            except engine.ParameterError as exc:
                raise ProtocolError(str(exc), CLOSE_POLICY) from exc
        if isinstance(ref_t, (int, float)) and not isinstance(ref_t, bool) and math.isfinite(ref_t):
            live.seek(float(ref_t))
            return float(min(max(ref_t, 0.0), live.reference.duration))
        raise ProtocolError('a seek needs "bar" (a whole number) or "ref_t" (seconds)')

    async def _refuse(self, message: str, code: int) -> None:
        try:
            await self.ws.send_json({"event": "error", "message": message})
            await self.ws.close(code)
        except Exception:  # the client is gone already: nothing to tell
            log.debug("could not tell the client: %s", message)

    async def _keep(self) -> dict[str, Any] | None:
        """Save the take heard so far (once); its metadata, None when too short to keep."""
        live, self.live = self.live, None
        if live is None:
            self.worker.shutdown(wait=False)
            self.registry.close(self.take_id)
            return None
        # On the session's worker, after any block still being followed; shielded, so a
        # cancelled connection (the client vanished) still keeps what was heard.
        saving = asyncio.get_running_loop().run_in_executor(self.worker, self._save, live)
        saving.add_done_callback(lambda _: self.registry.close(self.take_id))  # active until saved
        self.worker.shutdown(wait=False)
        return await asyncio.shield(saving)

    async def _on_worker(self, fn: Any, *args: Any) -> Any:
        """Run ``fn`` on the session's own thread: its follower is used by one thread, in order."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)

    def _save(self, live: engine.LiveFollow) -> dict[str, Any] | None:
        live.close()
        if live.seconds < MIN_TAKE_SECONDS:
            if self.recording is not None:
                self.recording.unlink(missing_ok=True)
            return None
        name = live.reference.name
        track = live.track()
        sr = live.reference.config.sr
        assert self.recording is not None
        self.recording.replace(self.takes.path(name, self.take_id, ".flac"))
        meta = {
            "take": self.take_id,
            "reference": name,
            "date": self.started.isoformat(timespec="seconds"),
            "seconds": round(live.recorded_samples / sr, 3),
            "ended_by": self.ended_by,
            "follow": engine.take_summary(live.reference, track),
        }
        self.takes.save_json(name, self.take_id, ".json", meta)
        return meta
