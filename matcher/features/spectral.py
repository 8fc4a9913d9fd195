"""Spectral features, frame by frame: level, onset flux over mel bands, chroma.

librosa supplies the filterbanks; the framing is done here so that a stream of
blocks gives exactly the frames a whole signal gives (librosa's own STFT works on
whole signals only). Frame ``k`` covers samples ``k*hop - n_fft/2 .. k*hop + n_fft/2``
with zeros before the start and after the end, as ``librosa.stft(center=True,
pad_mode="constant")`` does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft

from ..atomic import write_atomic
from ..config import Config
from ..errors import MatcherError
from .buffer import SampleBuffer
from .level import SILENCE_DB, track_loud_level, track_noise_floor

#: Floor added to band energies before the log, so digital silence has a finite level.
ENERGY_FLOOR = 1e-10
#: The flux floor follows each recording's loudness, so a take recorded 20 dB quieter
#: than its reference makes the flux the reference made: ``config.flux_floor_db`` holds
#: where a stream's loud level (a running 95th percentile of its frame levels,
#: :func:`~matcher.features.level.track_loud_level`) is FLOOR_AT_DB [dBFS], and the floor
#: moves with that level dB for dB. The level moves slowly (LOUD_UP_DB, LOUD_DOWN_DB [dB a
#: frame]: 6 dB/s up, 0.3 dB/s down): a recording's level, not its dynamics. Its first
#: frame above LOUD_START_DB [dBFS] begins it; frames more than LOUD_BELOW_DB under it
#: (rests, decays, a room's noise) leave it alone, so nothing absolute but digital silence
#: decides which frames count. Over its first LOUD_WARM_FRAMES frames (1 s) it rises
#: LOUD_WARM_UP_DB a frame, so the start of a recording, where a player restarts, is not
#: made with a floor its later passages do not share; a frame LOUD_FAR_DB above it (music
#: after a room's noise) begins that second again.
FLOOR_AT_DB = -20.0
LOUD_UP_DB, LOUD_DOWN_DB = 0.1, 0.005
LOUD_START_DB, LOUD_BELOW_DB, LOUD_FAR_DB = -90.0, 20.0, 10.0
LOUD_WARM_FRAMES, LOUD_WARM_UP_DB = 62, 1.0


def analysis_window(before: int, after: int) -> np.ndarray:
    """A Hann window whose rise spans ``before`` samples and whose fall spans ``after``.

    Equal halves give the periodic Hann window; a shorter fall lets a frame settle sooner
    after its centre (less look-ahead) while keeping the long rise's frequency resolution.
    """
    rise = np.sin(np.pi * np.arange(before) / (2 * before)) ** 2
    fall = np.cos(np.pi * np.arange(after) / (2 * after)) ** 2
    return np.concatenate([rise, fall]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class SpectralTables:
    """The fixed arrays of one configuration's spectral features, shared by every stream.

    window : float32 [shape=(n_fft,)]        analysis window
    mel : float32 [shape=(n_bands, n_fft // 2 + 1)]   librosa's mel filterbank
    chroma_fb : float32 [shape=(12, n_fft // 2 + 1)] or None   librosa's chroma filterbank
    floor : float [power]                     added to band energies before the log at a
                                              loud level of FLOOR_AT_DB
    """

    config: Config
    window: np.ndarray
    mel: np.ndarray
    chroma_fb: np.ndarray | None
    floor: float


#: Where filterbanks computed once are kept between processes (``$MATCHER_CACHE_DIR``,
#: else ``${XDG_CACHE_HOME:-~/.cache}/matcher``): making them imports librosa.filters,
#: which pulls in scipy.signal and scipy.stats, 1.4 s of CPU at every start of `follow`.
CACHE_ENV = "MATCHER_CACHE_DIR"


def cache_dir() -> Path:
    """The folder of matcher's caches (created when first written)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matcher"


def _filterbanks(config: Config) -> dict[str, np.ndarray]:
    """librosa's mel filterbank (and chroma filterbank, if configured) as float32, from
    the cache when an earlier process made them with the same librosa, numpy and settings."""
    from .librosa_loader import load_librosa

    librosa = load_librosa()

    n_fft, sr = config.n_fft, config.sr
    settings = (sr, n_fft, config.n_bands, config.fmin, config.fmax, config.chroma)
    key = repr((*settings, librosa.__version__, np.__version__))
    path = cache_dir() / f"filterbanks-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    shapes = {"mel": (config.n_bands, n_fft // 2 + 1)} | ({"chroma": (12, n_fft // 2 + 1)} if config.chroma else {})
    with contextlib.suppress(OSError, ValueError, KeyError):  # missing or damaged: made again
        with np.load(path, allow_pickle=False) as data:
            cached = {k: data[k] for k in shapes}
        if all(a.shape == shapes[k] and a.dtype == np.float32 for k, a in cached.items()):
            return cached
    made = {"mel": librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=config.n_bands, fmin=config.fmin, fmax=config.fmax)}
    if config.chroma:
        made["chroma"] = librosa.filters.chroma(sr=sr, n_fft=n_fft)
    made = {k: a.astype(np.float32) for k, a in made.items()}
    with contextlib.suppress(OSError, MatcherError):  # a read-only home: made in every process
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: np.savez(f, **made))
    return made


@functools.lru_cache(maxsize=8)
def spectral_tables(config: Config) -> SpectralTables:
    """The tables of ``config`` (built once per configuration and process; the
    filterbanks kept between processes in :func:`cache_dir`)."""
    half = config.n_fft - config.n_ahead  # samples before the frame centre
    banks = _filterbanks(config)
    tables = SpectralTables(
        config=config,
        window=analysis_window(half, config.n_ahead),
        mel=banks["mel"],
        chroma_fb=banks.get("chroma"),
        floor=10.0 ** (config.flux_floor_db / 10.0),
    )
    for a in (tables.window, tables.mel, tables.chroma_fb):
        if a is not None:
            a.setflags(write=False)
    return tables


def frame_level_db(windows: np.ndarray, hop: int) -> np.ndarray:
    """Mean-square level [dB, float64] of each frame's (unwindowed) samples [shape=(n, n_fft)]."""
    n, n_fft = windows.shape
    if n_fft % hop == 0:
        # Summed hop by hop (then the hops of a frame): the order of the float64 sums is
        # fixed by the frame alone, so any batch of frames gives the same levels.
        energy = np.square(windows.reshape(n, n_fft // hop, hop), dtype=np.float64).sum(axis=2).sum(axis=1)
    else:
        energy = np.square(windows, dtype=np.float64).sum(axis=1)
    return 10.0 * np.log10(energy / n_fft + ENERGY_FLOOR)


def spectral_features(
    tables: SpectralTables, batch: Sequence[tuple[SpectralStream, np.ndarray]]
) -> list[dict[str, np.ndarray]]:
    """:func:`spectral_arrays`, a dict of arrays (views) per pair of ``batch``."""
    arrays = spectral_arrays(tables, batch)
    return [{key: value[rows] for key, value in arrays.items()} for _, rows in _stream_rows(batch)]


def _stream_rows(batch: Sequence[tuple[SpectralStream, np.ndarray]]) -> Iterator[tuple[SpectralStream, slice]]:
    """Each stream of a batch with the rows its windows take in the batch's arrays."""
    first = 0
    for stream, windows in batch:
        yield stream, slice(first, first + len(windows))
        first += len(windows)


def spectral_arrays(
    tables: SpectralTables, batch: Sequence[tuple[SpectralStream, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Features of the new frames of several streams of one configuration at once.

    batch : (stream, windows [float32, shape=(n_k, n_fft)]) pairs, each stream's next
        frames in order (``SpectralStream.ready_windows``). One FFT and one product per
        filterbank serve them all; each stream's flux continues from its own last frame,
        which this call advances. Returns arrays (keys db, flux, onset, chroma) with the
        rows of every pair in turn, row for row what each stream alone gives.
    """
    config = tables.config
    frames = batch[0][1] if len(batch) == 1 else np.concatenate([w for _, w in batch])
    db = frame_level_db(frames, config.hop)
    # Each stream's loud level, frame by frame (it carries its own estimate on).
    loud = np.empty(len(db))
    for stream, rows in _stream_rows(batch):
        loud[rows] = track_loud_level(
            db[rows],
            stream.loud,
            LOUD_UP_DB,
            LOUD_DOWN_DB,
            LOUD_START_DB,
            LOUD_BELOW_DB,
            LOUD_WARM_FRAMES,
            LOUD_WARM_UP_DB,
            LOUD_FAR_DB,
        )
    # Before a stream's first frame above LOUD_START_DB, the floor as configured.
    floor = tables.floor * 10.0 ** ((np.nan_to_num(loud, nan=FLOOR_AT_DB) - FLOOR_AT_DB) / 10.0)
    # scipy's FFT keeps float32 and vectorises across frames: about 5x numpy's here.
    power = np.abs(scipy.fft.rfft(frames * tables.window, axis=1, overwrite_x=True)) ** 2
    bands = power @ tables.mel.T
    if config.noise_floor > 0:
        # Each band's room noise, times config.noise_floor, joins the floor: noise's
        # frame-to-frame wander is squeezed into a fraction of a dB there, while a note
        # rising well above the noise keeps nearly its whole rise.
        up = 10.0 ** (config.noise_floor_rise_db * config.frame_seconds / 10.0)
        noise = np.empty(bands.shape)
        for stream, rows in _stream_rows(batch):
            noise[rows] = track_noise_floor(bands[rows].astype(np.float64), db[rows], stream.noise, up, SILENCE_DB)
        bands += (config.noise_floor * noise).astype(np.float32)
    log_bands = 10.0 * np.log10(bands + floor.astype(np.float32)[:, None])
    # Each frame's previous one: the row above, or at a stream's first new frame the
    # stream's last frame before (at the very start, the frame itself: no rise).
    prev = np.empty_like(log_bands)
    prev[1:] = log_bands[:-1]
    for stream, rows in _stream_rows(batch):
        prev[rows.start] = log_bands[rows.start] if stream.prev_log_bands is None else stream.prev_log_bands
        stream.prev_log_bands = log_bands[rows.stop - 1].copy()
    # Rises smaller than the threshold are mostly noise: a band's level in noise
    # wanders by a few dB from frame to frame.
    flux = np.maximum(log_bands - prev - config.flux_threshold_db, 0.0)
    chroma = power @ tables.chroma_fb.T if tables.chroma_fb is not None else np.zeros((len(frames), 12))
    return {
        "db": db.astype(np.float32),
        "flux": flux.astype(np.float32),
        "onset": flux.mean(axis=1).astype(np.float32),
        "chroma": chroma.astype(np.float32),
    }


class SpectralStream:
    """Streaming level / flux / chroma extractor.

    ``push`` returns the features of every frame whose window is complete;
    ``flush`` (end of stream) returns the rest, up to ``1 + n_samples // hop`` frames.
    Many streams can be served together: ``ready_windows`` on each, then one
    :func:`spectral_features` call for all.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tables = spectral_tables(config)
        self.ahead = config.n_ahead
        self.half = config.n_fft - config.n_ahead  # samples before the frame centre
        self.buffer = SampleBuffer()
        self.next_frame = 0
        self.prev_log_bands: np.ndarray | None = None
        self.loud = np.array([np.nan, 0.0])  # the loud level the flux floor follows (track_loud_level)
        self.noise = np.full(config.n_bands, np.inf)  # each band's room noise (track_noise_floor)

    def ready_windows(self, final: bool = False) -> np.ndarray | None:
        """Samples [shape=(n, n_fft)] of the frames settled since the last call (all the
        rest when ``final``: samples past the end read as zeros); None when there are none.
        The stream then counts them as returned."""
        hop, n_fft, end = self.config.hop, self.config.n_fft, self.buffer.end
        # Frame k is complete once sample k*hop + n_fft/2 - 1 has arrived.
        complete = (end - self.ahead) // hop + 1 if end >= self.ahead else 0
        k1 = 1 + end // hop if final else complete
        k0 = self.next_frame
        if k1 <= k0:
            return None
        a, b = k0 * hop - self.half, (k1 - 1) * hop - self.half + n_fft
        seg = self.buffer.get(a, min(b, end))
        if len(seg) < b - a:
            seg = np.concatenate([seg, np.zeros(b - a - len(seg), np.float32)])
        self.next_frame = k1
        self.buffer.drop_before(k1 * hop - self.half)
        if k1 - k0 == 1:  # live input's usual case, without the cost of a strided view
            return seg.reshape(1, n_fft)
        return np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop]

    def _features(self, windows: np.ndarray | None) -> dict[str, np.ndarray] | None:
        return None if windows is None else spectral_features(self.tables, [(self, windows)])[0]

    def push(self, block: np.ndarray) -> dict[str, np.ndarray] | None:
        self.buffer.append(block)
        return self._features(self.ready_windows())

    def flush(self) -> dict[str, np.ndarray] | None:
        return self._features(self.ready_windows(final=True))
