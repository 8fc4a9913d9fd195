"""The one door from the web server to the engine.

Everything :mod:`matcher.serve` needs from matcher — the reference store, preprocessing,
the live follower, practice scoring and comparison — is reached through this module, so
when the facade API (``matcher.load``, ``matcher.follow``, ``matcher.score``,
``matcher.compare``) lands only this file changes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import Resampler, audio_info, file_sha256
from ..config import Config
from ..errors import InputFileError, MatcherError, ParameterError, StoreError
from ..features import FeatureStream, NoPitch, resolve_backend
from ..follow import Follower, Position, Track, follow_blocks, positions_jsonl
from ..reference import Reference, ReferenceStore, build_reference, check_name, name_from_path

__all__ = [
    "InputFileError",
    "LiveFollow",
    "MatcherError",
    "ParameterError",
    "Position",
    "Reference",
    "ReferenceStore",
    "StoreError",
    "Track",
    "add_reference",
    "check_name",
    "compare_png",
    "follow_file",
    "list_references",
    "load_reference",
    "name_from_path",
    "open_store",
    "positions_jsonl",
    "reference_detail",
    "score_take_file",
    "take_summary",
]

#: Points of the waveform overview sent with a reference (a level per point).
OVERVIEW_POINTS = 1200
#: Index fields the API shows (no store internals: file names, hashes, local paths).
PUBLIC_FIELDS = (
    "name",
    "duration",
    "created",
    "pitch_backend",
    "beats_source",
    "beats_per_bar",
    "source_rate",
    "source_channels",
)


def open_store(root: str | os.PathLike | None) -> ReferenceStore:
    """The reference store at ``root`` (else ``$MATCHER_HOME``, else ``./references``)."""
    return ReferenceStore(root)


def _public(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: meta[k] for k in PUBLIC_FIELDS if k in meta}
    if "source" in meta:
        out["source"] = Path(str(meta["source"])).name  # the file name, not where it lives
    if "beats_source" in meta and meta["beats_source"] not in ("tracked", "none"):
        out["beats_source"] = "file"
    return out


def list_references(store: ReferenceStore) -> list[dict[str, Any]]:
    """Public metadata of every stored reference, by name."""
    return [_public(meta) for _, meta in sorted(store.index().items())]


def load_reference(store: ReferenceStore, name: str) -> Reference:
    """A stored reference, checked against its own pitch backend's configuration."""
    meta = store.meta(name)
    return store.load(name, expect=Config(pitch_backend=meta.get("pitch_backend", "yin")))


def add_reference(
    store: ReferenceStore,
    audio_path: Path,
    name: str,
    beats_path: Path | None = None,
    beats_per_bar: int = 4,
    pitch: str = "yin",
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Preprocess an audio file into the store (as `matcher reference add`); its public metadata."""
    if not 1 <= beats_per_bar <= 32:
        raise ParameterError(f"beats per bar must be between 1 and 32, got {beats_per_bar}")
    name = check_name(name)
    audio_info(audio_path)  # a bad file fails before any model loads
    same = store.find_by_hash(file_sha256(audio_path))
    if same and not replace:
        raise StoreError(f"this audio is already stored as {', '.join(same)}")
    if name in store.index() and not replace:
        raise StoreError(f"a reference named {name!r} exists already")
    model = resolve_backend(pitch, None, Config(), quiet=True)
    with store.spooling():  # flux and chroma on disk until the feature file is written
        ref = build_reference(
            audio_path, Config(pitch_backend=model.name), model, name, beats_path, beats_per_bar, progress
        )
    ref.meta["source"] = name_from_path(audio_path)  # an upload's temporary path says nothing
    return _public(store.add(ref, replace=replace))


def reference_detail(store: ReferenceStore, name: str, points: int = OVERVIEW_POINTS) -> dict[str, Any]:
    """Metadata, beats (time, beat number, bar) and a waveform overview of one reference.

    The overview is the frames' level [dBFS] mapped to 0..1 above the level gate (max per
    point), ``points`` points spread evenly over the reference's duration.
    """
    ref = load_reference(store, name)
    summary = ref.summary()
    db = np.asarray(ref.frames.db, np.float64)
    gate = ref.config.gate_db
    level = np.clip((db - gate) / max(-gate, 1.0), 0.0, 1.0)
    n = max(1, min(points, len(level)))
    edges = np.linspace(0, len(level), n + 1).astype(int)
    overview = [float(level[a:b].max()) if b > a else 0.0 for a, b in itertools.pairwise(edges)]
    beats = ref.beats
    return {
        **_public(ref.meta),
        "name": ref.name,
        "duration": round(ref.duration, 4),
        "tempo_bpm": summary["tempo_bpm"],
        "beats_per_bar": beats.beats_per_bar,
        "beats": {
            "times": [round(float(t), 4) for t in beats.times],
            "numbers": [float(b) for b in beats.numbers],
            "bars": [round(float(b), 4) for b in beats.bars],
        },
        "overview": {"seconds_per_point": ref.duration / n, "level": [round(v, 3) for v in overview]},
    }


def bar_start(reference: Reference, bar: int) -> float:
    """Reference time [s] at which bar ``bar`` (from 1) starts."""
    beats = reference.beats
    if len(beats) < 2:
        raise ParameterError(f"reference {reference.name!r} has no beats: tap a time, not a bar")
    first, last = int(np.floor(beats.bars[0])), int(np.floor(beats.bars[-1]))
    if not first <= bar <= last:
        raise ParameterError(f"bar {bar} is outside the reference (bars {first}-{last})")
    return float(np.interp(float(bar), beats.bars, beats.times))


class LiveFollow:
    """One live take: PCM blocks at any rate in, positions out (the loop of
    :func:`matcher.follow.follow_blocks`, pushed instead of pulled).

    With ``record_to``, the take's audio at the model rate is written there (16-bit FLAC)
    as it arrives, up to ``max_seconds``, so that it can be scored when the take ends; the
    memory a session holds stays small (positions in 32-bit numbers, merged in runs).
    """

    def __init__(
        self, reference: Reference, sample_rate: int, record_to: Path | None = None, max_seconds: float = 4 * 3600.0
    ) -> None:
        self.reference = reference
        config = reference.config
        self.sample_rate = sample_rate
        self._resampler = Resampler(sample_rate, config.sr)
        self._stream = FeatureStream(config, NoPitch(config))
        self.follower = Follower(reference, lookahead_samples=self._stream.lookahead_samples)
        self._record: Any = None
        if record_to is not None:
            import soundfile as sf

            record_to.parent.mkdir(parents=True, exist_ok=True)
            self._record = sf.SoundFile(record_to, "w", config.sr, 1, "PCM_16", format="FLAC")
        self.recorded_samples = 0
        self._max_samples = int(max_seconds * config.sr)
        self._parts: list[Track] = []
        self._recent: list[Track] = []  # a block brings a frame or two: merged in runs of 256
        self.samples_in = 0

    def _keep_track(self, track: Track) -> None:
        if len(track):
            self._recent.append(track)
            if len(self._recent) >= 256:
                self._parts.append(Track.concat(self._recent).compact())
                self._recent.clear()

    def _feed(self, samples: np.ndarray) -> Track:
        if self._record is not None and self.recorded_samples < self._max_samples:
            keep = samples[: self._max_samples - self.recorded_samples]
            self._record.write(keep)
            self.recorded_samples += len(keep)
        track = self.follower.steps(self._stream.push(samples))
        self._keep_track(track)
        return track

    def push(self, pcm: np.ndarray) -> Track:
        """Follow mono float32 samples at ``sample_rate``; the positions they completed."""
        self.samples_in += len(pcm)
        return self._feed(self._resampler.push(pcm))

    def finish(self) -> Track:
        """The end of the take: the resampler's and the stream's last samples; closes the recording."""
        track = self._feed(self._resampler.push(np.zeros(0, np.float32), last=True))
        rest = self.follower.steps(self._stream.flush())
        self._keep_track(rest)
        self.close()
        return Track.concat([track, rest]) if len(track) else rest

    def close(self) -> None:
        """Close the recording (the take heard so far stays in it)."""
        if self._record is not None:
            self._record.close()
            self._record = None

    def seek(self, ref_t: float) -> None:
        """The player says they are at ``ref_t`` [s] now."""
        self.follower.seek(ref_t)

    def seek_bar(self, bar: int) -> float:
        """The player says they start bar ``bar`` now; the bar's start [s]."""
        ref_t = bar_start(self.reference, bar)
        self.follower.seek(ref_t)
        return ref_t

    @property
    def seconds(self) -> float:
        """Take audio followed so far [s]."""
        return self.samples_in / self.sample_rate

    def track(self) -> Track:
        """Every position of the take so far."""
        parts = self._parts + self._recent
        return Track.concat(parts) if parts else self.follower.steps(self._stream.flush())


def follow_file(reference: Reference, blocks: Any, on_track: Callable[[Track], None] | None = None) -> Track:
    """`matcher follow --input`: mono float32 blocks at the model rate to positions."""
    return follow_blocks(reference, blocks, on_track=on_track)


def take_summary(reference: Reference, track: Track) -> dict[str, Any]:
    """Closing figures of a followed take (as `matcher follow` prints them) and the span of
    the reference it covered (``open_begin``/``open_end`` for scoring it)."""
    from ..follow import summarize
    from ..scoring import followed_span

    span = followed_span(track, reference)
    return {**summarize(track, reference), "open_begin": span.open_begin, "open_end": span.open_end}


def score_take_file(
    reference: Reference, take_path: Path, open_begin: bool = False, open_end: bool = False
) -> tuple[dict[str, Any], bytes]:
    """`matcher score` of a recorded take (``open_begin``/``open_end``: it covered only part
    of the reference): the score's JSON object and its PNG."""
    from ..align import AlignParams
    from ..scoring import load_take, score_png, score_take

    take = load_take(take_path, reference)
    score = score_take(reference, take, params=AlignParams(open_begin=open_begin, open_end=open_end))
    return score.to_dict(), score_png(score)


def compare_png(a: Reference, b: Reference) -> tuple[dict[str, Any], bytes]:
    """`matcher compare` of two performances: the comparison's JSON object and its PNG."""
    from ..compare import compare
    from ..plot import comparison_png

    result = compare(a, b)
    return result.to_dict(), comparison_png(result)


def take_as_reference(reference: Reference, take_path: Path, label: str) -> Reference:
    """A recorded take processed like ``reference`` (its configuration and pitch backend)."""
    from ..scoring import load_take

    take = load_take(take_path, reference)
    return Reference(label, take.frames, take.beats, take.config, take.meta)


class ServerMic:
    """The server's own input device as the source of a live take (chosen on the page
    instead of the browser's microphone).

    As in :mod:`matcher.live`, the sounddevice callback only copies into a preallocated
    ring (:class:`~matcher.live.BlockRing`); the session takes what arrived with
    :meth:`read` and follows it on its own thread. PortAudio is loaded only here.

    Parameters
    ----------
    device : str, int or None
        Name, part of a name, or index of an input device (None: the default input).
    ring_seconds : float > 0 [s]
        Audio the ring holds before blocks are dropped (and counted).
    """

    def __init__(self, device: str | int | None = None, ring_seconds: float = 10.0) -> None:
        from ..errors import DeviceError
        from ..live import BlockRing, find_input_device
        from ..live.devices import sounddevice_module

        self.device = find_input_device(device)
        self.sample_rate = round(self.device.samplerate)
        self.ring = BlockRing(max(1, round(ring_seconds * self.sample_rate)), 1)
        sd = sounddevice_module()
        try:
            self._stream = sd.InputStream(
                device=self.device.index, samplerate=self.sample_rate, channels=1, dtype="float32",
                callback=self._callback, finished_callback=lambda: None,
            )  # fmt: skip
        except Exception as exc:  # PortAudioError, ValueError: busy, gone, bad rate
            raise DeviceError(f"cannot open input {self.device.name!r} at {self.sample_rate} Hz: {exc}") from exc
        self._stream.start()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self.ring.put(indata, time.perf_counter())  # copy only: no allocation that stays, no locks

    def read(self) -> np.ndarray:
        """Mono float32 samples at :attr:`sample_rate` that arrived since the last call
        (zeros where blocks were dropped); empty when none did."""
        chunk = self.ring.get()
        return np.zeros(0, np.float32) if chunk is None else chunk.samples[:, 0]

    @property
    def dropped_blocks(self) -> int:
        return int(self.ring.dropped_blocks)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            for name in ("stop", "close"):
                with contextlib.suppress(Exception):  # a device already gone: nothing left to stop
                    getattr(stream, name)()


def input_devices() -> list[dict[str, Any]]:
    """The server's input devices (empty when there is no sound system), default first."""
    from ..errors import DeviceError
    from ..live import input_devices as devices

    try:
        found = devices()
    except DeviceError:
        return []
    return [d.to_dict() for d in sorted(found, key=lambda d: not d.default)]
