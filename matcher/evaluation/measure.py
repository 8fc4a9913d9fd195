"""Measurement helpers for the tools: resident memory, peak memory, timers, percentiles.

Memory is read from Linux ``/proc``; "above start-up" means above a baseline taken
once imports and warm-up are done (:class:`RssAbove`). All figures are in MB
(2**20 bytes) and milliseconds unless a name says otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

MB = 2**20


def rss_mb(pid: int | str = "self", *, field: str = "VmRSS", trim: bool = False) -> float:
    """Resident memory of a process [MB], from ``/proc/PID/status``.

    Parameters
    ----------
    pid : int or "self"
        The process (default: this one).
    field : str
        The status line: ``VmRSS`` (now) or ``VmHWM`` (the peak since start or since
        :func:`reset_peak`).
    trim : bool
        Give the C heap's free pages back first (glibc ``malloc_trim``; this process only),
        so that growth is not hidden in the allocator's slack.

    Raises
    ------
    OSError
        When the process does not exist (or /proc is absent).
    RuntimeError
        When the status file has no such field.
    """
    if trim and pid == "self":
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(None).malloc_trim(0)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started [MB] (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark ``VmHWM`` of this process; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssAbove:
    """Memory above a baseline taken at ``__enter__`` [MB], sampled by a thread.

    The baseline is this process's RSS when the block starts (after imports and warm-up:
    "above start-up"); a daemon thread samples RSS every ``interval`` seconds; at exit,
    ``peak_mb`` is the highest RSS sampled, ``hwm_mb`` the kernel's peak mark ``VmHWM``
    (None where it could not be reset at the start), ``end_mb`` the last.

    Examples
    --------
    >>> with RssAbove() as mem:
    ...     data = bytearray(50 * MB)
    >>> mem.peak_above_mb >= 0
    True
    """

    def __init__(self, interval: float = 0.01, *, trim: bool = False) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 s, got {interval}")
        self.interval = interval
        self.trim = trim
        self.start_mb = self.peak_mb = self.end_mb = float("nan")
        self.hwm_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._hwm_reset = False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self) -> RssAbove:
        self.start_mb = self.peak_mb = rss_mb(trim=self.trim)
        self._hwm_reset = reset_peak()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.end_mb = rss_mb(trim=self.trim)
        self.peak_mb = max(self.peak_mb, self.end_mb)
        if self._hwm_reset:
            self.hwm_mb = rss_mb(field="VmHWM")

    @property
    def peak_above_mb(self) -> float:
        """Peak RSS above the baseline [MB]: the higher of the sampled peak and the kernel's mark."""
        return max(self.peak_mb, self.hwm_mb or self.peak_mb) - self.start_mb

    @property
    def growth_mb(self) -> float:
        """RSS at exit above the baseline [MB]."""
        return self.end_mb - self.start_mb


class TimedModel:
    """A pitch model that counts its calls and adds up their time [s] by ``clock`` (wall
    time by default; ``time.process_time`` for the CPU time of every thread); everything
    else passes through."""

    def __init__(self, model: Any, clock: Callable[[], float] = time.perf_counter) -> None:
        self._model, self._clock = model, clock
        self.reset()

    def reset(self) -> None:
        """Zero the counts."""
        self.calls, self.seconds = 0, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, audio: np.ndarray) -> Any:
        start = self._clock()
        try:
            return self._model(audio)
        finally:
            self.calls += 1
            self.seconds += self._clock() - start


def run_worker(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a measuring subprocess (a fresh process: its memory is its own) and return the JSON
    object it prints on its last line of stdout.

    Raises
    ------
    RuntimeError
        The process failed; the message ends with its stderr's tail.
    """
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Timer:
    """Wall-clock (``perf_counter``) and CPU (``process_time``) seconds of a ``with`` block.

    Examples
    --------
    >>> with Timer() as clock:
    ...     _ = sum(range(1000))
    >>> clock.seconds >= 0 and clock.cpu_seconds >= 0
    True
    """

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = float("nan")
        self._t0 = self._c0 = 0.0

    def __enter__(self) -> Timer:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu_seconds = time.process_time() - self._c0


def percentiles(values: Iterable[float] | np.ndarray, scale: float = 1.0, digits: int | None = 3) -> dict[str, Any]:
    """Median, p99 and max of some durations, times ``scale`` (1000: seconds -> ms).

    Parameters
    ----------
    values : array-like [shape=(n,)]
        The durations (any unit; ``scale`` converts).
    scale : float
        Factor applied to every figure.
    digits : int or None
        Rounding of the figures (None: none).

    Returns
    -------
    dict
        ``{"n", "median", "p99", "max"}`` (NaN figures when ``values`` is empty).
    """
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64) * scale
    if x.size == 0:
        nan = float("nan")
        return {"n": 0, "median": nan, "p99": nan, "max": nan}
    out = {"median": float(np.median(x)), "p99": float(np.percentile(x, 99)), "max": float(np.max(x))}
    if digits is not None:
        out = {k: round(v, digits) for k, v in out.items()}
    return {"n": int(x.size), **out}


def memory_slope(samples: list[tuple[float, float]], settle_s: float = 60.0) -> dict[str, float | int]:
    """RSS samples ``(t [s], MB)`` -> start, end, max [MB] and slope [MB/min] after settling.

    The span starts at ``settle_s`` (or half the samples' span, if shorter); the slope is a
    least-squares line through that span (NaN with fewer than three samples).
    """
    if not samples:
        return {"samples": 0}
    t = np.array([s[0] for s in samples], dtype=np.float64)
    mb = np.array([s[1] for s in samples], dtype=np.float64)
    late = t >= min(settle_s, t[-1] / 2)
    slope = float(np.polyfit(t[late], mb[late], 1)[0] * 60) if late.sum() >= 3 else float("nan")
    return {
        "rss_start_mb": round(float(mb[late][0]), 1),
        "rss_end_mb": round(float(mb[-1]), 1),
        "rss_max_mb": round(float(mb.max()), 1),
        "rss_slope_mb_per_min": round(slope, 3),
        "from_s": round(float(t[late][0]), 1),
        "samples": len(samples),
    }


def follow_stats(stdout: str) -> dict[str, Any]:
    """The ``stats`` of the one JSON object ``matcher follow --stats --json`` prints last on stdout.

    ``{"summary": {...}, "stats": {"latency_ms": {"median", "p99", "max"}, "processing_ms":
    {...}, "overflows", "dropped_blocks", "blocks"}}``, on one line or pretty-printed; the
    object starts a line.
    """
    text = stdout.rstrip()
    return json.loads(text[text.rfind("\n{") + 1 :])["stats"]
