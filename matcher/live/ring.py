"""The preallocated ring buffer between the audio callback and the worker, and the
duration statistics of a session (latency, processing time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError


@dataclass
class Chunk:
    """What the ring held: ``samples`` [shape=(n, channels), float32] at the device rate,
    with zeros where blocks were dropped; arrival time [s, perf_counter] of its oldest and
    newest block."""

    samples: np.ndarray
    first_arrival: float
    last_arrival: float
    blocks: int


class BlockRing:
    """Single-producer, single-consumer ring of audio blocks, allocated once.

    The producer (the audio callback) calls :meth:`put`; the consumer (the worker)
    :meth:`get`. Counters only grow and each is written by one side only, so no lock is
    needed (CPython executes each store whole). A block that does not fit is dropped and
    counted, and the consumer gets as many zeros in its place.

    Parameters
    ----------
    capacity : int > 0 [samples]
    channels : int > 0
    max_blocks : int > 0       blocks in flight (arrival times are kept per block)
    """

    def __init__(self, capacity: int, channels: int, max_blocks: int = 4096) -> None:
        if capacity <= 0 or channels <= 0 or max_blocks <= 0:
            raise ParameterError(f"BlockRing needs positive sizes, got {capacity}, {channels}, {max_blocks}")
        self.capacity = capacity
        self.channels = channels
        self.max_blocks = max_blocks
        self.data = np.zeros((capacity, channels), np.float32)
        self._ends = np.zeros(max_blocks, np.int64)  # samples written up to the end of each block
        self._gaps = np.zeros(max_blocks, np.int64)  # zeros owed before each block
        self._arrival = np.zeros(max_blocks)
        self.written = 0  # producer: samples stored
        self.blocks = 0  # producer: blocks published
        self.read = 0  # consumer: samples taken
        self.read_blocks = 0  # consumer
        self.dropped_blocks = 0  # producer
        self.dropped_samples = 0  # producer
        self._gap = 0  # producer: dropped samples not yet attached to a block

    def put(self, block: np.ndarray, now: float) -> bool:
        """Copy ``block`` [shape=(n, channels)] in; False (and counted) when it does not fit."""
        n = len(block)
        if n > self.capacity - (self.written - self.read) or self.blocks - self.read_blocks >= self.max_blocks:
            self.dropped_blocks += 1
            self.dropped_samples += n
            self._gap += n
            return False
        w = self.written % self.capacity
        first = min(n, self.capacity - w)
        self.data[w : w + first] = block[:first]
        if first < n:
            self.data[: n - first] = block[first:]
        k = self.blocks % self.max_blocks
        self._ends[k] = self.written + n
        self._gaps[k] = self._gap
        self._gap = 0
        self._arrival[k] = now
        self.written += n
        self.blocks += 1  # publishes the block: the consumer reads nothing past this count
        return True

    def get(self) -> Chunk | None:
        """Every block published since the last call (None if there is none)."""
        nb, rb = self.blocks, self.read_blocks
        if nb == rb:
            return None
        slots = np.arange(rb, nb) % self.max_blocks
        start, end = self.read, int(self._ends[slots[-1]])
        n = end - start
        r = start % self.capacity
        first = min(n, self.capacity - r)
        out = np.empty((n, self.channels), np.float32)
        out[:first] = self.data[r : r + first]
        out[first:] = self.data[: n - first]
        gaps = self._gaps[slots]
        if gaps.any():  # rare: blocks were dropped; put zeros where they were
            starts = np.concatenate([[start], self._ends[slots[:-1]]]) - start
            pieces, prev = [], 0
            for s, g in zip(starts[gaps > 0], gaps[gaps > 0], strict=True):
                pieces += [out[prev:s], np.zeros((g, self.channels), np.float32)]
                prev = s
            out = np.concatenate([*pieces, out[prev:]])
        chunk = Chunk(out, float(self._arrival[slots[0]]), float(self._arrival[slots[-1]]), nb - rb)
        self.read = end  # frees the space only now that it is copied
        self.read_blocks = nb
        return chunk

    def pending_gap(self) -> int:
        """Dropped samples not yet followed by a stored block (the end of a stream)."""
        return self._gap


# -- statistics ------------------------------------------------------------------------


class DurationStats:
    """Distribution of durations [s] in constant memory: a histogram of 10 µs bins up to
    1 s (longer ones in the last bin), plus the exact maximum."""

    RESOLUTION = 1e-5
    BINS = 100_000

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS + 1, np.int64)
        self.n = 0
        self.max = 0.0
        self.max_at: float | None = None  # what ``add`` was told about the maximum (take time [s])

    def add(self, seconds: float, at: float | None = None) -> None:
        k = min(self.BINS, max(0, int(seconds / self.RESOLUTION)))
        self.counts[k] += 1
        self.n += 1
        if seconds > self.max:
            self.max, self.max_at = seconds, at

    def count_over(self, seconds: float) -> int:
        """How many durations exceeded ``seconds`` (to the bin resolution)."""
        return int(self.counts[min(self.BINS, int(seconds / self.RESOLUTION) + 1) :].sum())

    def quantile(self, q: float) -> float:
        """The ``q`` quantile [s] (upper edge of its bin; the maximum for the last bin)."""
        if self.n == 0:
            return float("nan")
        k = int(np.searchsorted(np.cumsum(self.counts), q * self.n, side="left"))
        return self.max if k >= self.BINS else min(self.max, (k + 1) * self.RESOLUTION)

    def summary(self) -> dict[str, Any]:
        """``n``, ``median_ms``, ``p99_ms``, ``max_ms`` and ``max_at_s`` (where the maximum was)."""
        ms = lambda s: round(s * 1000.0, 3) if self.n else None  # noqa: E731
        return {
            "n": self.n,
            "median_ms": ms(self.quantile(0.5)),
            "p99_ms": ms(self.quantile(0.99)),
            "max_ms": ms(self.max),
            "max_at_s": None if self.max_at is None else round(self.max_at, 2),
        }


# -- the session -----------------------------------------------------------------------
