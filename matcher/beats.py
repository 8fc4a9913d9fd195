"""Reference beats: tracked with librosa's algorithm (our numba copy of its tracker,
:mod:`matcher.beat_kernels`) or read from a user's file, and the mapping
from reference time to (fractional) beat and bar numbers.

Beat files may be
* one time [s] per line;
* CSV with a header naming a time column (``time``, ``perf_time_sec``, ...) and
  optionally a beat-number column (``score_beat``, ``beat``, ...), so gaps in the
  annotation keep their numbering;
* ``time beat_in_bar`` lines (whitespace or comma separated), whose 1s mark downbeats.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from .errors import InputFileError, ParameterError

TIME_COLUMNS = ("time", "perf_time_sec", "time_sec", "seconds", "sec", "t", "beat_time", "onset_time")
NUMBER_COLUMNS = ("score_beat", "beat", "beat_number", "beat_index", "score_onset_beat")


@dataclass(frozen=True)
class Beats:
    """Beat times with their beat and bar numbers.

    Attributes
    ----------
    times : np.ndarray [shape=(n,), seconds, increasing]
    numbers : np.ndarray [shape=(n,)]
        Beat number of each time, counting from 0 (gaps allowed).
    bars : np.ndarray [shape=(n,)]
        Fractional bar of each beat: bar 1 starts at 1.0; beat ``b`` of an ``N``-beat bar
        sits at ``bar + b / N``.
    beats_per_bar : int
        Nominal metre (for display; ``bars`` carries the real bar lines).
    source : str
        ``"tracked"`` or the file the beats came from.
    """

    times: np.ndarray
    numbers: np.ndarray
    bars: np.ndarray
    beats_per_bar: int
    source: str

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return f"Beats(n={len(self)}, beats_per_bar={self.beats_per_bar}, source={self.source!r})"

    @classmethod
    def from_numbers(cls, times: np.ndarray, numbers: np.ndarray, beats_per_bar: int, source: str) -> Beats:
        if beats_per_bar < 1:
            raise ParameterError(f"beats per bar must be at least 1, got {beats_per_bar}")
        times = np.asarray(times, np.float64)
        numbers = np.asarray(numbers, np.float64)
        return cls(times, numbers, 1.0 + numbers / beats_per_bar, beats_per_bar, source)

    def beat_at(self, ref_t: np.ndarray | float) -> np.ndarray | float:
        """Fractional beat number at reference time(s) [s], extrapolated at the ends."""
        return interp_extrapolated(ref_t, self.times, self.numbers)

    def bar_at(self, ref_t: np.ndarray | float) -> np.ndarray | float:
        """Fractional bar number at reference time(s) [s] (bar 1 starts at 1.0)."""
        return interp_extrapolated(ref_t, self.times, self.bars)

    def tempo_bpm(self) -> float:
        """Median tempo [beats per minute] from the beat intervals (NaN with < 2 beats).

        Intervals are taken over spans of up to 4 beats: tracked beats sit on the frame
        grid, and a single interval's quantisation (one 32 ms hop) is 3 % of a beat at 120 bpm.
        """
        if len(self) < 2:
            return float("nan")
        k = min(4, len(self) - 1)
        span = (self.times[k:] - self.times[:-k]) / (self.numbers[k:] - self.numbers[:-k])
        return float(60.0 / np.median(span))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"beat_times": self.times, "beat_numbers": self.numbers, "beat_bars": self.bars}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], beats_per_bar: int, source: str) -> Beats:
        return cls(
            np.asarray(arrays["beat_times"]),
            np.asarray(arrays["beat_numbers"]),
            np.asarray(arrays["beat_bars"]),
            beats_per_bar,
            source,
        )


def interp_extrapolated(x: np.ndarray | float, xp: np.ndarray, fp: np.ndarray) -> np.ndarray | float:
    """``np.interp(x, xp, fp)`` continued beyond both ends at the first and last
    intervals' rates (NaN without points, the one value with one)."""
    if len(xp) == 0:
        return np.full(np.shape(x), np.nan) if np.ndim(x) else float("nan")
    if len(xp) == 1:
        return np.full(np.shape(x), fp[0]) if np.ndim(x) else float(fp[0])
    scalar = not np.ndim(x)
    x = np.atleast_1d(np.asarray(x, np.float64))
    y = _interp_extrapolated(x.ravel(), np.asarray(xp, np.float64), np.asarray(fp, np.float64)).reshape(x.shape)
    return float(y[0]) if scalar else y


@njit(cache=True)
def _interp_extrapolated(x, xp, fp):
    """The work of :func:`interp_extrapolated` (at least two points): one compiled call,
    since a live session asks for a frame or two at a time, and a dozen numpy calls on
    them cost more than the follower's step."""
    y = np.interp(x, xp, fp)
    # Continue the first and last beat intervals' rate beyond the annotated range.
    rate_lo = (fp[1] - fp[0]) / (xp[1] - xp[0])
    rate_hi = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    for k in range(x.shape[0]):
        if x[k] < xp[0]:
            y[k] = fp[0] + (x[k] - xp[0]) * rate_lo
        elif x[k] > xp[-1]:
            y[k] = fp[-1] + (x[k] - xp[-1]) * rate_hi
    return y


#: Onset envelopes longer than this [frames] have their tempo estimated from a tempogram
#: made chunk by chunk (librosa's tempogram of a whole hour would take gigabytes).
LONG_TRACK_FRAMES = 4000
#: Frames per chunk of that tempogram: 2000 holds 33 MB at a time where 4000 held 106 MB
#: (a 3-hour envelope), and runs faster (14 s of CPU instead of 17 s).
TEMPO_CHUNK_FRAMES = 2000
#: librosa's defaults for the tracker and its tempo estimate.
TIGHTNESS = 100.0
START_BPM, STD_BPM, MAX_TEMPO = 120.0, 1.0, 320.0
AC_SIZE_S = 8.0  # [s] autocorrelation window of the tempogram


def track_beats(onset: np.ndarray, sr: int, hop: int, beats_per_bar: int = 4) -> Beats:
    """Beats of an onset-strength envelope (one value per hop): librosa 0.11's
    ``beat_track(onset_envelope=..., units="time")``, the same beats without importing
    it (its import costs 3.7 s of CPU: :mod:`matcher.beat_kernels`).

    The global tempo is the peak of the time-averaged autocorrelation tempogram weighted
    by librosa's log-normal prior (``librosa.feature.tempo``); beyond
    :data:`LONG_TRACK_FRAMES` frames the tempogram's column sums are made chunk by chunk,
    so memory is linear in the length. Then Ellis's dynamic program with that tempo.
    """
    onset = np.asarray(onset, np.float64)
    if len(onset) < 4 or not np.any(onset > 0):
        return Beats.from_numbers(np.zeros(0), np.zeros(0), beats_per_bar, "tracked")
    bpm = global_tempo(onset, sr, hop)
    frames = _beat_frames(onset, bpm, sr / hop)
    times = frames * hop / float(sr)  # librosa.frames_to_time
    return Beats.from_numbers(times, np.arange(len(times), dtype=np.float64), beats_per_bar, "tracked")


def _beat_frames(onset: np.ndarray, bpm: float, frame_rate: float) -> np.ndarray:
    """librosa's ``__beat_tracker`` for one tempo, trimmed: beat frame indices."""
    from . import beat_kernels as K

    frames_per_beat = float(np.round(frame_rate * 60.0 / bpm))
    normed = onset / (onset.std(ddof=1) + np.finfo(onset.dtype).tiny)
    score = K.local_score(normed, frames_per_beat)
    backlink, cumscore = K.track_dp(score, frames_per_beat, np.float32(TIGHTNESS))
    # The last beat: the last local maximum of the cumulative score above half their median.
    peak = np.zeros(len(cumscore), bool)
    peak[1:-1] = (cumscore[1:-1] > cumscore[:-2]) & (cumscore[1:-1] >= cumscore[2:])
    peak[-1] = cumscore[-1] > cumscore[-2]
    median = np.ma.median(np.ma.masked_array(data=cumscore, mask=~peak))
    threshold = 0.5 * np.ma.getdata(median)
    tail = len(cumscore) - 1
    for k in range(len(cumscore) - 1, -1, -1):
        if peak[k] and cumscore[k] >= threshold:
            tail = k
            break
    beats = K.backtrack(backlink, tail, len(onset))
    # Leading and trailing beats on weak onsets are dropped (librosa's __trim_beats).
    w = np.hanning(5)
    smooth = np.convolve(score[beats], w)[len(w) // 2 : len(score) + len(w) // 2]
    threshold = 0.5 * ((smooth**2).mean() ** 0.5)
    k = 0
    while k < len(score) and score[k] <= threshold:
        beats[k] = False
        k += 1
    k = len(score) - 1
    while k >= 0 and score[k] <= threshold:
        beats[k] = False
        k -= 1
    return np.flatnonzero(beats)


def global_tempo(onset: np.ndarray, sr: int, hop: int) -> float:
    """librosa's global tempo estimate [bpm] (``librosa.feature.tempo`` with its defaults)."""
    win = int(AC_SIZE_S * sr) // hop  # librosa.time_to_frames(8.0)
    # librosa centres the windows: the envelope ramps from and to zero over win // 2 frames.
    padded = np.pad(onset, (win // 2, win // 2), mode="linear_ramp", end_values=[0, 0])
    if len(onset) <= LONG_TRACK_FRAMES:
        mean_tg = _tempogram(padded, win, 0, len(onset)).mean(axis=1, keepdims=True)
    else:
        total = np.zeros(win)
        for start in range(0, len(onset), TEMPO_CHUNK_FRAMES):
            stop = min(start + TEMPO_CHUNK_FRAMES, len(onset))
            total += _tempogram(padded, win, start, stop).sum(axis=1)
        mean_tg = (total / len(onset))[:, None]
    bpms = np.zeros(win)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sr / (hop * np.arange(1.0, win))  # librosa.tempo_frequencies
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(START_BPM)) / STD_BPM) ** 2
    logprior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    best = np.argmax(np.log1p(1e6 * mean_tg) + logprior[:, None], axis=0)
    return float(bpms[best[0]])


def _hann(n: int) -> np.ndarray:
    """scipy.signal.get_window("hann", n, fftbins=True), computed as scipy does."""
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1)
    for k, a in enumerate(np.array([0.5, 0.5])):
        w += a * np.cos(k * fac)
    return w[:-1]


def _tempogram(padded: np.ndarray, win: int, start: int, stop: int) -> np.ndarray:
    """Columns ``start:stop`` of ``librosa.feature.tempogram(onset_envelope=onset,
    win_length=win)`` [shape=(win, stop - start), C order as librosa's] from the envelope
    padded as it pads it: each column's ``win`` onsets Hann-windowed, autocorrelated and
    scaled to a peak of 1 (the same FFTs, hence the same numbers)."""
    import scipy.fft

    seg = padded[start : stop + win - 1]
    frames = np.lib.stride_tricks.sliding_window_view(seg, win) * _hann(win)
    n_pad = scipy.fft.next_fast_len(2 * win - 1, real=True)
    spectrum = scipy.fft.rfft(frames, n=n_pad, axis=1)
    ac = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=1)[:, :win]
    peak = np.max(np.abs(ac), axis=1, keepdims=True)
    peak[peak < np.finfo(ac.dtype).tiny] = 1.0
    return np.ascontiguousarray((ac / peak).T)


def _bad(path: Path, why: str) -> InputFileError:
    return InputFileError(f"{path}: not a beat file ({why})")


def load_beats(path: str | os.PathLike, beats_per_bar: int = 4) -> Beats:
    """Read a beat file in any of the formats in the module docstring."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, type(exc).__name__) from exc
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise _bad(path, "it is empty")
    first = lines[0].replace(",", " ").replace(";", " ").replace("\t", " ").split()
    try:
        [float(cell) for cell in first]
        has_header = False
    except ValueError:
        has_header = True
    beats = _from_csv(path, lines, beats_per_bar) if has_header else _from_columns(path, lines, beats_per_bar)
    if not len(beats):
        raise _bad(path, "it holds no beats")
    if np.any(np.diff(beats.times) <= 0):
        raise _bad(path, "beat times must increase")
    if np.any(beats.times < 0) or not np.all(np.isfinite(beats.times)):
        raise _bad(path, "beat times must be finite and not negative")
    if not np.all(np.isfinite(beats.numbers)) or np.any(np.diff(beats.numbers) <= 0):
        raise _bad(path, "beat numbers must be finite and increase")
    return beats


def _from_csv(path: Path, lines: list[str], beats_per_bar: int) -> Beats:
    dialect = "excel-tab" if "\t" in lines[0] and "," not in lines[0] else "excel"
    rows = list(csv.reader(lines, dialect=dialect))
    header = [cell.strip().lower() for cell in rows[0]]
    time_col = next((header.index(c) for c in TIME_COLUMNS if c in header), None)
    if time_col is None:
        raise _bad(path, f"no time column; expected one of {', '.join(TIME_COLUMNS)}")
    num_col = next((header.index(c) for c in NUMBER_COLUMNS if c in header), None)
    try:
        times = np.array([float(r[time_col]) for r in rows[1:]])
        numbers = np.array([float(r[num_col]) for r in rows[1:]]) if num_col is not None else np.arange(len(times))
    except (ValueError, IndexError) as exc:
        raise _bad(path, f"unreadable row ({exc})") from exc
    return Beats.from_numbers(times, numbers.astype(np.float64), beats_per_bar, str(path))


def _from_columns(path: Path, lines: list[str], beats_per_bar: int) -> Beats:
    try:
        rows = [[float(cell) for cell in line.replace(",", " ").split()] for line in lines]
    except ValueError as exc:
        raise _bad(path, str(exc)) from exc
    widths = {len(r) for r in rows}
    if widths == {1}:
        times = np.array([r[0] for r in rows])
        return Beats.from_numbers(times, np.arange(len(times), dtype=np.float64), beats_per_bar, str(path))
    if widths == {2}:
        times = np.array([r[0] for r in rows])
        in_bar = np.array([r[1] for r in rows])
        if np.any(in_bar < 1) or np.any(in_bar != np.round(in_bar)):
            raise _bad(path, "beat_in_bar must be a whole number from 1 (1 marks a downbeat)")
        return _from_beat_in_bar(times, in_bar, str(path))
    raise _bad(path, "expected one time per line, or 'time beat_in_bar' lines")


def _from_beat_in_bar(times: np.ndarray, in_bar: np.ndarray, source: str) -> Beats:
    """Bars from ``beat_in_bar`` counts; each bar's length is its largest count."""
    downbeat = in_bar == 1
    bar_index = np.cumsum(downbeat)  # beats before the first downbeat are a pickup in bar 0
    bars = np.empty(len(times))
    for b in np.unique(bar_index):
        sel = bar_index == b
        length = max(in_bar[sel].max(), 1.0)
        bars[sel] = b + (in_bar[sel] - 1.0) / length
    metre = int(np.median(in_bar[np.r_[downbeat[1:], False]])) if downbeat.sum() > 1 else int(in_bar.max())
    return Beats(times, np.arange(len(times), dtype=np.float64), bars, max(metre, 1), source)
