"""FeatureStream: the one feature pipeline, for files and microphones alike.

Offline extraction pushes a whole file block by block; live input pushes microphone
blocks. Either way ``push`` returns the frames that are *settled* — no later audio can
change them — and these are equal whatever the block sizes were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import ParameterError
from ..spool import SpoolFile, spool_folder
from .frames import Frames
from .pitch import PitchModel, PitchStream, load_pitch_model
from .spectral import SpectralStream


class FeatureStream:
    """Incremental feature extraction.

    Parameters
    ----------
    config : Config
        Frame grid and feature settings.
    pitch_model : PitchModel, optional
        Loaded pitch model; by default the one ``config.pitch_backend`` names.

    Examples
    --------
    >>> stream = FeatureStream(Config())
    >>> frames = stream.push(block)          # settled frames so far (maybe none)
    >>> tail = stream.flush()                # end of stream: the remaining frames
    """

    def __init__(self, config: Config, pitch_model: PitchModel | None = None) -> None:
        self.config = config
        self.pitch_model = pitch_model or load_pitch_model(config)
        if self.pitch_model.name != config.pitch_backend:
            raise ParameterError(
                f"pitch model {self.pitch_model.name!r} does not match config.pitch_backend {config.pitch_backend!r}"
            )
        if self.pitch_model.hop % config.hop:
            raise ParameterError(f"pitch model hop {self.pitch_model.hop} is not a multiple of config.hop {config.hop}")
        # A model on a coarser grid (SPICE: 512 samples) holds each value for this many frames.
        self.pitch_repeat = self.pitch_model.hop // config.hop
        self.spectral = SpectralStream(config)
        self.pitch = PitchStream(self.pitch_model)
        self._spec: list[dict[str, np.ndarray]] = []
        self._pitch: list[tuple[np.ndarray, np.ndarray]] = []
        self.n_samples = 0
        self.n_frames = 0  # frames returned so far

    @property
    def lookahead_samples(self) -> int:
        """How far [samples] the newest settled frame's centre lies behind the newest audio (at most)."""
        pitch = self.pitch_model.right_context * self.pitch_model.hop
        return max(pitch, self.config.n_ahead)

    def push(self, block: np.ndarray) -> Frames:
        """Add mono float32 samples at ``config.sr``; return the newly settled frames."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 1:
            raise ParameterError(f"FeatureStream.push needs mono samples, got shape {block.shape}")
        self.n_samples += len(block)
        self._collect(self.spectral.push(block), self.pitch.push(block))
        return self._emit()

    def flush(self) -> Frames:
        """End of stream: the frames not yet returned (``1 + n_samples // hop`` in all)."""
        self._collect(self.spectral.flush(), self.pitch.flush())
        total = 1 + self.n_samples // self.config.hop
        # Repeated coarse pitch frames may run past the last frame of the stream.
        keep = total - self.n_frames
        if self._pitch:
            midi = np.concatenate([p[0] for p in self._pitch])[:keep]
            conf = np.concatenate([p[1] for p in self._pitch])[:keep]
            self._pitch = [(midi, conf)]
        return self._emit()

    def _collect(self, spec: dict[str, np.ndarray] | None, pitch: tuple[np.ndarray, np.ndarray]) -> None:
        if spec is not None:
            self._spec.append(spec)
        if len(pitch[0]):
            self._pitch.append(tuple(np.repeat(a, self.pitch_repeat) for a in pitch))

    def _emit(self) -> Frames:
        n_spec = sum(len(s["db"]) for s in self._spec)
        n_pitch = sum(len(p[0]) for p in self._pitch)
        n = min(n_spec, n_pitch)
        if n == 0:
            return Frames.empty(self.config.n_bands)
        spec = {key: np.concatenate([s[key] for s in self._spec]) for key in self._spec[0]}
        midi = np.concatenate([p[0] for p in self._pitch])
        conf = np.concatenate([p[1] for p in self._pitch])
        self._spec = [{key: value[n:] for key, value in spec.items()}] if n_spec > n else []
        self._pitch = [(midi[n:], conf[n:])] if n_pitch > n else []
        self.n_frames += n
        return self._gate(spec["db"][:n], midi[:n], conf[:n], {key: value[:n] for key, value in spec.items()})

    def _gate(self, db: np.ndarray, midi: np.ndarray, conf: np.ndarray, spec: dict[str, np.ndarray]) -> Frames:
        # Silence and near-silence are unvoiced whatever the model says (SPICE reports
        # confident pitch on silence); confident frames keep their pitch.
        audible = db >= self.config.gate_db
        conf = np.where(audible, conf, 0.0).astype(np.float32)
        voiced = audible & (conf >= self.pitch_model.voicing_threshold) & np.isfinite(midi)
        midi = np.where(voiced, midi, np.nan).astype(np.float32)
        return Frames(
            midi=midi, confidence=conf, db=spec["db"], onset=spec["onset"], flux=spec["flux"], chroma=spec["chroma"]
        )


class FrameSink:
    """Collects a stream's frames into arrays allocated once for the count expected (a
    file's length is known before it is read), so a long file's features are never held
    twice, as joining per-block parts would; grows (copying) only if more arrive.

    Inside :func:`matcher.spool.spooled` (``reference add``) the 2-D arrays (flux, chroma:
    nine tenths of the bytes) go to unnamed temporary files instead and come back mapped
    read-only (:class:`matcher.spool.SpoolFile`), so memory holds only the per-frame numbers.
    """

    def __init__(self, n_bands: int, expected: int, spool: Path | None = None) -> None:
        self.n = 0
        empty = Frames.empty(n_bands).arrays()
        wide = {k for k, a in empty.items() if a.ndim == 2} if spool is not None else set()
        self._spools = {k: SpoolFile(spool, empty[k].shape[1], empty[k].dtype) for k in wide}
        self._arrays = {
            k: np.empty((max(expected, 0), *a.shape[1:]), a.dtype) for k, a in empty.items() if k not in wide
        }

    def add(self, frames: Frames) -> None:
        m = len(frames)
        capacity = len(next(iter(self._arrays.values())))
        if self.n + m > capacity:
            grown = max(2 * capacity, self.n + m)
            for key, a in self._arrays.items():
                bigger = np.empty((grown, *a.shape[1:]), a.dtype)
                bigger[: self.n] = a[: self.n]
                self._arrays[key] = bigger
        for key, a in frames.arrays().items():
            if key in self._spools:
                self._spools[key].append(a)
            else:
                self._arrays[key][self.n : self.n + m] = a
        self.n += m

    def frames(self) -> Frames:
        """The frames collected (once: spooled arrays are mapped and their files closed)."""
        mapped = {key: spool.array(self.n) for key, spool in self._spools.items()}
        return Frames.from_arrays({**{key: a[: self.n] for key, a in self._arrays.items()}, **mapped})


def extract(
    blocks: Iterable[np.ndarray],
    config: Config,
    pitch_model: PitchModel | None = None,
    progress: Callable[[int], None] | None = None,
    expected_frames: int = 0,
) -> Frames:
    """Push every block through one :class:`FeatureStream`; all frames of the stream.

    ``progress`` is called with the number of samples consumed after each block;
    ``expected_frames`` (a file's ``1 + n_samples // hop``) lets the arrays be allocated once.
    Within :func:`matcher.spool.spooled` the 2-D arrays are spooled to disk (:class:`FrameSink`).
    """
    stream = FeatureStream(config, pitch_model)
    sink = FrameSink(config.n_bands, expected_frames, spool_folder())
    for block in blocks:
        sink.add(stream.push(block))
        if progress is not None:
            progress(len(block))
    sink.add(stream.flush())
    return sink.frames()
