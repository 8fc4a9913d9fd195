"""A growing window over a stream of samples, addressed by absolute sample index."""

from __future__ import annotations

import numpy as np


class SampleBuffer:
    """Keeps the samples of a stream from ``start`` on; older ones are dropped on request."""

    def __init__(self) -> None:
        self._data = np.zeros(0, np.float32)
        self.start = 0  # absolute index of self._data[0]

    @property
    def nbytes(self) -> int:
        """Bytes of samples held."""
        return self._data.nbytes

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.start + len(self._data)

    def append(self, block: np.ndarray) -> None:
        self._data = np.concatenate([self._data, np.asarray(block, np.float32)])

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples ``a:b`` (absolute); indices before the stream's start read as zeros."""
        if a < self.start and a >= 0:
            raise IndexError(f"samples from {a} were dropped (buffer starts at {self.start})")
        if b > self.end:
            raise IndexError(f"samples up to {b} not yet received (have {self.end})")
        if a >= 0:
            return self._data[a - self.start : b - self.start]
        head = np.zeros(min(-a, b - a), np.float32)
        return np.concatenate([head, self._data[: max(0, b - self.start)]])

    def drop_before(self, a: int) -> None:
        """Forget samples older than absolute index ``a``."""
        if a > self.start:
            self._data = self._data[a - self.start :]
            self.start = a
