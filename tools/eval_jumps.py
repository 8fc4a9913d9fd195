"""Re-locking after jumps: the online follower on evaluation takes edited to jump, pause or lose audio.

Scenarios (each an edit of an evaluation take, with exact ground truth; T1 is the edit's take time):

* ``restart``  take[0:T1] + take[0:]             the player starts again from the beginning
* ``back``     take[0:T1] + take[T1-20 s:]       jumps 20 s of take back
* ``forward``  take[0:T1] + take[T1+20 s:]       jumps 20 s of take ahead
* ``drop``     take[0:T1] + take[T1+0.5 s:]      500 ms of audio lost
* ``silence``  take[0:T1] + 5 s of zeros + take[T1:]
* ``noise``    take[0:T1] + 5 s of room noise + take[T1:]   (pink, 30 dB below the take's RMS)

Splices are 5 ms equal-power crossfades centred on the splice, so every output sample
away from a splice is one take sample and the timeline stays exact. T1 is placed at
``--places`` points per take and kind, spread over [25 s, end of the annotated music -
6 s - what the edit skips]; a take too short for an edit is skipped (and listed).

Truth: the unedited take maps take time to reference time by linear interpolation of
corresponding annotated points, undefined outside the annotated span: piano, the
note-onset annotations (about four a beat; the 41 beats alone, 1.7 s apart, interpolate
up to 170 ms away from the onsets between them); percussion, the beats; synthetic, the
tempo maps on a quarter-beat grid. An edited take's time maps back to take time segment
by segment. Where the music repeats exactly, every equivalent reference position counts
as truth: in the synthetic percussion pieces, 12-beat cycles with the same strokes
(velocities, which matcher.synth draws per stroke, ignored; a cycle missing a dropped
stroke is unique); shared-data positions are unique. During a pause there is no truth:
the follower should hold where the pause began.

Metrics, per set and kind and pooled:

* re-lock time: from the point the music continues after the edit (the splice; for a
  pause, the end of the pause; for a restart, the first annotated point) to the first
  report within 200 ms of (any equivalent) truth such that every report over the next
  1 s is too; ``never`` when that does not happen before the take ends. Share re-locked
  within 2 s and the median. Reports count whatever their ``lost`` flag.
* pauses: max drift, the largest distance of a report during the pause from where the
  pause began (goal: within 200 ms).
* accuracy outside the jumps: tools/eval_follow.py's beat metric (a take beat at tB
  scored by the reports' ``ref_t`` interpolated at tB) on the annotated beats of the
  edited take, leaving out the beats within 2 s after each splice, next to the same
  beats of the unedited take followed by the same follower ("base").

Sets: ``piano`` / ``percussion`` (../shared/data, skipped when absent) and synthetic
``synth-melodic`` / ``synth-percussion`` pieces of about 65 s (eval_follow's synthetic
pairs last 24 s, too short for 20-s jumps), made here with matcher.synth and
eval_follow's tempo warps.

    .venv/bin/python tools/eval_jumps.py [--sets piano percussion synth-melodic synth-percussion]
        [--kinds restart back forward drop silence noise] [--quick | --places N] [--per-scenario] [--json OUT]

About 3-4.5 min for all sets (211 scenarios, 5 h of audio followed, one process); --quick 1.3 min.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import eval_follow as ef  # noqa: E402  (tools/ is not a package; it puts tools/baselines on the path)

from matcher import Config, build_reference  # noqa: E402
from matcher.audio import FILE_BLOCK_SECONDS, file_blocks  # noqa: E402
from matcher.features import YinModel, extract  # noqa: E402
from matcher.follow import Follower, FollowParams, Track, follow_blocks  # noqa: E402
from matcher.follow.costs import cost_vectors, flux_scale  # noqa: E402
from matcher.reference import Reference  # noqa: E402
from matcher.synth import Note, TempoMap, melody, percussion, render  # noqa: E402

pairs = ef.shared_pairs

TOL_S = 0.2  # a report within this of truth is on it [s]
HOLD_S = 1.0  # ... and re-locked when it stays so this long [s]
GOAL_S = 2.0  # re-lock goal [s]
EXCLUDE_S = 2.0  # beats this long after a splice are left out of the accuracy figures [s]
FADE_S = 0.005  # crossfade at splices [s]
JUMP_S = 20.0  # back / forward jumps [s of take]
PAUSE_S = 5.0  # silence / noise inserted [s]
DROP_S = 0.5  # audio dropped [s]
LEAD_S = 25.0  # earliest edit [s of take]: the follower has locked by then
TAIL_S = 6.0  # annotated music left after the edit lands [s]: re-lock + hold + a few beats
MIN_SPACING_S = 3.0  # edits of one kind in one take at least this far apart [s]
ROOM_NOISE_DB = -30.0  # inserted room noise, relative to the take's RMS [dB]
SYNTH_BPM = 100.0  # reference tempo of the synthetic pieces
SYNTH_BARS = 28  # melodic pieces: 4/4 bars (112 beats, 67 s at 100 bpm)
SYNTH_CYCLES = 9  # percussion pieces: 12-beat cycles (107 beats, 64 s)
PERC_CYCLE = 12.0  # beats per cycle of matcher.synth.percussion
SYNTH_WARPS = ("curve", "rubato")  # eval_follow.synth_warps used for piece 0, 1
TIMES_MS = pairs.TOLERANCES_MS  # beats within these [ms]
JUMP_KINDS = ("restart", "back", "forward", "drop")
PAUSE_KINDS = ("silence", "noise")
KINDS = (*JUMP_KINDS, *PAUSE_KINDS)
ALL_SETS = ("piano", "percussion", "synth-melodic", "synth-percussion")


# -- truth -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruthMap:
    """Take time -> reference time of one unedited take, and which reference positions are equivalent.

    take_t, ref_t : np.ndarray [shape=(n,), s]   corresponding times, both strictly increasing
    score : np.ndarray [shape=(n,), beats]       score position of each point (locates the cycles)
    cycle_beats : float > 0 or None             length of the repeating cycle; None: every position unique
    cycle_ids : tuple[int, ...]                  one id per cycle c (score [c * cycle_beats, (c + 1) *
                                                 cycle_beats)); cycles with equal ids are the same music
    """

    take_t: np.ndarray
    ref_t: np.ndarray
    score: np.ndarray
    cycle_beats: float | None = None
    cycle_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.take_t)
        if n < 2 or len(self.ref_t) != n or len(self.score) != n:
            raise ValueError(f"need >= 2 corresponding points, got {n}, {len(self.ref_t)}, {len(self.score)}")
        for name in ("take_t", "ref_t", "score"):
            if np.any(np.diff(getattr(self, name)) <= 0):
                raise ValueError(f"TruthMap.{name} must be strictly increasing")
        if self.cycle_beats is not None and not self.cycle_ids:
            raise ValueError("cycle_beats needs cycle_ids")

    @classmethod
    def from_points(cls, take_t: np.ndarray, ref_t: np.ndarray) -> TruthMap:
        """Unique positions from corresponding times; points where either time does not advance are dropped."""
        take_t, ref_t = np.asarray(take_t, np.float64), np.asarray(ref_t, np.float64)
        keep = [0]
        for k in range(1, len(take_t)):
            if take_t[k] > take_t[keep[-1]] and ref_t[k] > ref_t[keep[-1]]:
                keep.append(k)
        return cls(take_t[keep], ref_t[keep], np.arange(len(keep), dtype=np.float64))

    @property
    def span(self) -> tuple[float, float]:
        """First and last annotated take time [s]."""
        return float(self.take_t[0]), float(self.take_t[-1])

    def ref_at(self, take_t: np.ndarray) -> np.ndarray:
        """Reference time [s] of unedited take time(s); NaN outside the annotated span or where NaN."""
        x = np.asarray(take_t, np.float64)
        inside = (x >= self.take_t[0]) & (x <= self.take_t[-1])
        return np.where(inside, np.interp(x, self.take_t, self.ref_t), np.nan)

    def equivalents(self, ref_t: np.ndarray) -> np.ndarray:
        """[shape=(n, k), s]: column 0 is ``ref_t``, the others equivalent reference positions (NaN: none)."""
        r = np.atleast_1d(np.asarray(ref_t, np.float64))
        if self.cycle_beats is None:
            return r[:, None]
        length, ids = self.cycle_beats, np.asarray(self.cycle_ids)
        known = ~np.isnan(r)
        u = np.interp(np.where(known, r, self.ref_t[0]), self.ref_t, self.score)
        c = np.clip(np.floor(u / length), 0, len(ids) - 1).astype(np.int64)
        offset = u - c * length
        out = np.full((len(r), 1 + len(ids)), np.nan)
        out[:, 0] = r
        for c2 in range(len(ids)):
            u2 = c2 * length + offset
            ok = known & (ids[c] == ids[c2]) & (c != c2) & (u2 >= self.score[0]) & (u2 <= self.score[-1])
            out[ok, 1 + c2] = np.interp(u2[ok], self.score, self.ref_t)
        return out


def cycle_ids(notes: list[Note], cycle_beats: float) -> tuple[int, ...]:
    """One id per cycle: cycles holding the same strokes (offset in the cycle, drum) share an id.

    Velocities are ignored (matcher.synth.percussion draws one per stroke); a cycle with a
    dropped stroke differs from a complete one.
    """
    cycles: dict[int, set[tuple[float, int]]] = {}
    for n in notes:
        c = int(np.floor(n.beat / cycle_beats))
        cycles.setdefault(c, set()).add((round(n.beat - c * cycle_beats, 6), n.drum))
    patterns = [frozenset(cycles.get(c, ())) for c in range(max(cycles) + 1)]
    first = {p: k for k, p in reversed(list(enumerate(patterns)))}
    return tuple(first[p] for p in patterns)


# -- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of the edited take: take audio from ``src`` [s] on, or inserted fill (``src`` None)."""

    start: float  # [s of the edited take]
    length: float  # [s]
    src: float | None  # [s of the unedited take]


@dataclass(frozen=True)
class Scenario:
    """One edit of a take: its segments in order; ``fill`` is what a pause holds ("silence"/"noise")."""

    kind: str
    at: float  # T1 [s]
    segments: tuple[Segment, ...]
    fill: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.at:.2f}s"

    @property
    def duration(self) -> float:
        return self.segments[-1].start + self.segments[-1].length

    @property
    def splices(self) -> tuple[float, ...]:
        """Edited-take times where one segment gives way to the next [s]."""
        return tuple(s.start for s in self.segments[1:])

    @property
    def resume(self) -> Segment:
        """The take music that follows the edit (the last segment)."""
        return self.segments[-1]

    def source_times(self, t: np.ndarray) -> np.ndarray:
        """Unedited take time of edited-take time(s) ``t``; NaN inside fill and beyond the end."""
        t = np.asarray(t, np.float64)
        starts = np.array([s.start for s in self.segments])
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        src = np.array([np.nan if s.src is None else s.src for s in self.segments])
        ends = np.array([s.start + s.length for s in self.segments])
        return np.where((t >= starts[k]) & (t < ends[k]), src[k] + (t - starts[k]), np.nan)

    def truth(self, t: np.ndarray, truth: TruthMap) -> np.ndarray:
        """[shape=(len(t), k), s]: every reference time equivalent to edited-take time ``t`` (NaN: none)."""
        return truth.equivalents(truth.ref_at(self.source_times(t)))

    def place(self, src_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where unedited take times ``src_t`` occur in the edited take: (edited times, index into src_t).

        A time may occur twice (after a restart or a jump back) or not at all (skipped).
        """
        src_t = np.asarray(src_t, np.float64)
        out_t, index = [], []
        for s in self.segments:
            if s.src is None:
                continue
            k = np.flatnonzero((src_t >= s.src) & (src_t < s.src + s.length))
            out_t.append(s.start + src_t[k] - s.src)
            index.append(k)
        order = np.argsort(np.concatenate(out_t), kind="stable")
        return np.concatenate(out_t)[order], np.concatenate(index)[order]

    def render(self, take: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        """The edited take [float32, ``sr``] from the unedited one; equal-power crossfades at splices.

        Segment boundaries must be whole samples at ``sr``.
        """
        half = max(1, round(FADE_S * sr / 2))
        x = (np.arange(2 * half) + 0.5) / (2 * half)
        fade_in, fade_out = np.sin(0.5 * np.pi * x), np.cos(0.5 * np.pi * x)
        out = np.zeros(round(self.duration * sr), np.float64)
        last = len(self.segments) - 1
        for i, s in enumerate(self.segments):
            a, n = round(s.start * sr), round(s.length * sr)
            lo, hi = (a - half if i > 0 else a), (a + n + half if i < last else a + n)
            if s.src is None:
                piece = fill_audio(self.fill, hi - lo, take, rng)
            else:
                piece = np.zeros(hi - lo)
                s0 = round(s.src * sr) - (a - lo)
                src_lo, src_hi = max(s0, 0), min(s0 + hi - lo, len(take))
                if src_hi > src_lo:
                    piece[src_lo - s0 : src_hi - s0] = take[src_lo:src_hi]
            if i > 0:
                piece[: 2 * half] *= fade_in
            if i < last:
                piece[-2 * half :] *= fade_out
            out[lo:hi] += piece
        return out.astype(np.float32)


def fill_audio(fill: str, n: int, take: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a pause: zeros, or pink room noise ``ROOM_NOISE_DB`` below the take's RMS."""
    if fill == "silence":
        return np.zeros(n)
    if fill != "noise":
        raise ValueError(f"unknown fill {fill!r}; valid: 'silence', 'noise'")
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    noise = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(np.square(take, dtype=np.float64))))
    return noise * (rms * 10 ** (ROOM_NOISE_DB / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-12))


def _chain(kind: str, at: float, parts: Iterable[tuple[float | None, float]], fill: str = "") -> Scenario:
    segments, start = [], 0.0
    for src, length in parts:
        segments.append(Segment(start, length, src))
        start += length
    return Scenario(kind, at, tuple(segments), fill)


#: kind -> (edit(T1, take duration) -> Scenario, take seconds the edit skips ahead)
EDITS: dict[str, tuple[Callable[[float, float], Scenario], float]] = {
    "restart": (lambda at, dur: _chain("restart", at, [(0.0, at), (0.0, dur)]), 0.0),
    "back": (lambda at, dur: _chain("back", at, [(0.0, at), (at - JUMP_S, dur - at + JUMP_S)]), 0.0),
    "forward": (lambda at, dur: _chain("forward", at, [(0.0, at), (at + JUMP_S, dur - at - JUMP_S)]), JUMP_S),
    "drop": (lambda at, dur: _chain("drop", at, [(0.0, at), (at + DROP_S, dur - at - DROP_S)]), DROP_S),
    "silence": (lambda at, dur: _chain("silence", at, [(0.0, at), (None, PAUSE_S), (at, dur - at)], "silence"), 0.0),
    "noise": (lambda at, dur: _chain("noise", at, [(0.0, at), (None, PAUSE_S), (at, dur - at)], "noise"), 0.0),
}


def placements(kind: str, truth: TruthMap, n: int) -> list[float]:
    """Up to ``n`` edit times T1 [s, multiples of 10 ms] for ``kind``, spread over the allowed range."""
    skip = EDITS[kind][1]
    lo = max(LEAD_S, truth.span[0] + JUMP_S) if kind == "back" else LEAD_S
    hi = truth.span[1] - TAIL_S - skip
    if hi < lo or n < 1:
        return []
    n = min(n, 1 + int((hi - lo) / MIN_SPACING_S))
    return [round(lo + (hi - lo) * (k + 0.5) / n, 2) for k in range(n)]


def make_scenario(kind: str, at: float, take_duration: float) -> Scenario:
    """The ``kind`` edit at T1 = ``at`` of a take lasting ``take_duration`` [s]."""
    if kind not in EDITS:
        raise ValueError(f"unknown scenario kind {kind!r}; valid: {', '.join(EDITS)}")
    return EDITS[kind][0](at, take_duration)


# -- metrics ----------------------------------------------------------------------------------


def distance_to_truth(ref_t: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[s] distance of each report to the nearest of its truths (row of ``truth``); NaN where none."""
    d = np.abs(truth - np.asarray(ref_t, np.float64)[:, None])
    out = np.full(len(d), np.nan)
    has = ~np.all(np.isnan(d), axis=1)
    out[has] = np.nanmin(d[has], axis=1)
    return out


def relock_time(t: np.ndarray, ref_t: np.ndarray, truth: np.ndarray, start: float) -> float:
    """Seconds from ``start`` to the first report within TOL_S of truth for HOLD_S on end; inf if never.

    t, ref_t : np.ndarray [shape=(n,), s]   the reports (t increasing)
    truth : np.ndarray [shape=(n, k), s]    each report's equivalent true reference times (NaN: none)
    """
    t = np.asarray(t, np.float64)
    d = distance_to_truth(ref_t, truth)
    ok = ~np.isnan(d) & (d <= TOL_S)
    bad = np.flatnonzero(~ok)
    cand = np.flatnonzero(ok & (t >= start))
    if cand.size == 0:
        return float("inf")
    nxt = np.append(bad, len(t))[np.searchsorted(bad, cand)]  # first bad report after each candidate
    until = np.append(t, np.inf)[nxt]  # ok holds up to (not including) this time
    held = (until > t[cand] + HOLD_S) & (t[-1] >= t[cand] + HOLD_S)
    return float(t[cand[np.argmax(held)]] - start) if held.any() else float("inf")


def max_drift(t: np.ndarray, ref_t: np.ndarray, held: np.ndarray, start: float, stop: float) -> float:
    """Largest distance [s] of the reports with ``start <= t < stop`` from the nearest of ``held``."""
    m = (np.asarray(t) >= start) & (np.asarray(t) < stop)
    if not m.any():
        return float("nan")
    return float(np.max(distance_to_truth(np.asarray(ref_t)[m], np.broadcast_to(held, (int(m.sum()), len(held))))))


def beat_errors(beat_t: np.ndarray, ref_truth: np.ndarray, track: Track) -> np.ndarray:
    """[ms] eval_follow's beat metric at take beats ``beat_t`` against the nearest equivalent truth.

    ref_truth : np.ndarray [shape=(n, k), s]   column 0 the annotated reference beat, others equivalents
    """
    if len(beat_t) == 0:
        return np.zeros(0)
    cols = [pairs.score_answers(beat_t, np.nan_to_num(ref_truth[:, j], nan=np.inf), track.t, track.ref_t)
            for j in range(ref_truth.shape[1])]  # fmt: skip
    return np.min(np.stack(cols, axis=1), axis=1)


# -- evaluation sets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """An evaluation pair (take beats scored as in eval_follow) with the truth its take is edited by."""

    case: ef.Case
    truth: TruthMap
    truth_source: str


def _read_onsets(path: Path) -> dict[float, float]:
    """``score_onset_beat,perf_time_sec`` csv -> {score onset: mean time of its notes}."""
    import csv

    times: dict[float, list[float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            times.setdefault(float(row["score_onset_beat"]), []).append(float(row["perf_time_sec"]))
    return {k: float(np.mean(v)) for k, v in times.items()}


def shared_pieces(sets: Iterable[str]) -> list[Piece]:
    """The ../shared/data pairs of ``sets``; truth from note onsets where annotated, else from beats."""
    pieces = []
    for case in ef.shared_cases(list(sets)):
        pair = next(p for p in pairs.all_pairs() if p.set_name == case.set_name and p.name == case.name)
        onsets = [Path(str(f).replace("_beats.csv", "_onsets.csv")) for f in (pair.take_beats, pair.ref_beats)]
        if all(f.exists() for f in onsets):
            take, ref = (_read_onsets(f) for f in onsets)
            common = sorted(set(take) & set(ref))
            truth = TruthMap.from_points(np.array([take[b] for b in common]), np.array([ref[b] for b in common]))
            pieces.append(Piece(case, truth, "onsets"))
        else:
            pieces.append(Piece(case, TruthMap.from_points(case.take_beats, case.ref_beats), "beats"))
    return pieces


def synth_pieces(sets: Iterable[str], folder: Path) -> list[Piece]:
    """Synthetic pieces of about 65 s (reference steady at SYNTH_BPM, take warped), written to ``folder``."""
    sr = Config().sr
    pieces = []
    for kind in ("melodic", "percussion"):
        set_name = f"synth-{kind}"
        if set_name not in sets:
            continue
        for piece, warp in enumerate(SYNTH_WARPS):
            notes = melody(SYNTH_BARS, 4, seed=piece) if kind == "melodic" else percussion(SYNTH_CYCLES, seed=piece)
            n_beats = max(n.beat + n.length for n in notes)
            ref_map = TempoMap((0.0, n_beats), (SYNTH_BPM, SYNTH_BPM))
            take_map = dict(ef.synth_warps(n_beats, seed=piece))[warp]
            ref_path, take_path = folder / f"{kind}{piece}_ref.wav", folder / f"{kind}{piece}_{warp}.wav"
            sf.write(ref_path, render(notes, ref_map, sr, timbre=0), sr)
            sf.write(take_path, render(notes, take_map, sr, timbre=1, noise_db=30.0, seed=piece + 7), sr)
            beats = np.arange(0.0, np.floor(n_beats) + 1)
            grid = np.arange(0.0, n_beats + 1e-9, 0.25)
            cycles: dict[str, Any] = {}
            if kind == "percussion":
                cycles = {"cycle_beats": PERC_CYCLE, "cycle_ids": cycle_ids(notes, PERC_CYCLE)}
            truth = TruthMap(take_map.seconds(grid), ref_map.seconds(grid), grid, **cycles)
            case = ef.Case(
                set_name, f"{kind}{piece}-{warp}", ref_path, take_path, take_map.seconds(beats), ref_map.seconds(beats)
            )
            pieces.append(Piece(case, truth, "tempo maps"))
    return pieces


# -- running ------------------------------------------------------------------------------------


def load_take(path: Path, sr: int) -> np.ndarray:
    return np.concatenate([block for block, _ in file_blocks(path, sr)])


def follow_audio(reference: Reference, audio: np.ndarray, params: FollowParams) -> Track:
    """The follower over ``audio`` fed in file-sized blocks, as eval_follow feeds a file."""
    n = int(FILE_BLOCK_SECONDS * reference.config.sr)
    return follow_blocks(reference, (audio[i : i + n] for i in range(0, len(audio), n)), params)


@dataclass(frozen=True)
class Outcome:
    """One scenario's figures (errors in ms, times in s)."""

    set_name: str
    piece: str
    scenario: Scenario
    relock_s: float
    drift_ms: float
    locatable: bool | None  # could GOAL_S of the music after the edit say where it is? (jumps)
    errors: np.ndarray = field(repr=False)
    base_errors: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": self.set_name,
            "piece": self.piece,
            "kind": self.scenario.kind,
            "at_s": self.scenario.at,
            "relock_s": None if np.isinf(self.relock_s) else round(self.relock_s, 3),
            "relocked_within_goal": bool(self.relock_s <= GOAL_S),
            "locatable": self.locatable,
            "pause_drift_ms": None if np.isnan(self.drift_ms) else round(self.drift_ms, 1),
            "beats": len(self.errors),
            **{f"within_{m}": _share(self.errors, m) for m in TIMES_MS},
            **{f"base_within_{m}": _share(self.base_errors, m) for m in TIMES_MS},
        }


def _pct(flags: list[bool]) -> float | None:
    return float(np.mean(flags) * 100.0) if flags else None


def _share(errors: np.ndarray, ms: float) -> float:
    return float(np.mean(errors <= ms) * 100.0) if len(errors) else float("nan")


def locatable(sc: Scenario, truth: TruthMap, start: float, take: np.ndarray, ref: np.ndarray, frame_s: float) -> bool:
    """Does the music's first GOAL_S after the edit, alone, say where the player is?

    An offline bound on any re-locking from content: those seconds of the take's cost
    vectors (the follower's features) matched against the whole reference by subsequence
    DTW with the follower's steps; True when the best match ends within TOL_S of (an
    equivalent of) the truth. The follower must decide causally and keep it for 1 s.
    """
    import librosa
    from scipy.spatial.distance import cdist

    src = sc.source_times(np.array([start]))[0]
    a, n = round(src / frame_s), round(GOAL_S / frame_s)
    if np.isnan(src) or a + n > len(take):
        return False
    cost = cdist(take[a : a + n], ref)
    steps = np.array([[1, 1], [1, 0], [1, 2]])
    acc = librosa.sequence.dtw(C=cost, subseq=True, step_sizes_sigma=steps, backtrack=False,
                               weights_add=np.array([0.0, 0.3, 0.0]), weights_mul=np.ones(3))  # fmt: skip
    end = float(np.argmin(acc[-1])) * frame_s
    true = sc.truth(np.array([start + (n - 1) * frame_s]), truth)[0]
    return bool(np.nanmin(np.abs(true - end)) <= TOL_S) if np.any(~np.isnan(true)) else False


def score_scenario(
    piece: Piece,
    sc: Scenario,
    track: Track,
    base_errors: np.ndarray,
    vectors: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> Outcome:
    """Re-lock time, pause drift and the beats outside the jumps, edited and unedited;
    ``vectors``: the unedited take's and the reference's cost vectors and the frame period
    (for :func:`locatable`; None: not judged)."""
    truth, case = piece.truth, piece.case
    resume = sc.resume
    assert resume.src is not None
    start = resume.start + max(0.0, truth.span[0] - resume.src)  # where the truth is defined again
    relock = relock_time(track.t, track.ref_t, sc.truth(track.t, truth), start)
    drift = float("nan")
    loc = None if sc.fill or vectors is None else locatable(sc, truth, start, *vectors)
    if sc.fill:
        held = truth.equivalents(truth.ref_at(np.array([sc.at])))[0]
        drift = max_drift(track.t, track.ref_t, held, sc.at, sc.at + PAUSE_S) * 1000.0
    out_t, index = sc.place(case.take_beats)
    keep = np.ones(len(out_t), bool)
    for s in sc.splices:
        keep &= ~((out_t >= s) & (out_t < s + EXCLUDE_S))
    errors = beat_errors(out_t[keep], truth.equivalents(case.ref_beats[index[keep]]), track)
    return Outcome(case.set_name, case.name, sc, relock, drift, loc, errors, base_errors[index[keep]])


def run_piece(piece: Piece, kinds: Iterable[str], places: int, params: FollowParams) -> tuple[list[Outcome], float]:
    """Every scenario of one piece; (outcomes, take seconds followed)."""
    case = piece.case
    config = Config(pitch_backend="yin", **ef.CONFIG_OVERRIDES)
    reference = build_reference(case.ref_audio, config, YinModel(config), "ref")
    take = load_take(case.take_audio, config.sr)
    base = follow_audio(reference, take, params)
    follower = Follower(reference, params)
    frames = extract([take], config, YinModel(config))
    take_vectors = cost_vectors(frames, follower.weights, flux_scale(frames, config.gate_db))
    vectors = (take_vectors, follower.ref_vectors, config.frame_seconds)
    base_errors = beat_errors(case.take_beats, piece.truth.equivalents(case.ref_beats), base)
    followed = len(take) / config.sr
    outcomes = []
    for kind in kinds:
        for at in placements(kind, piece.truth, places):
            sc = make_scenario(kind, at, len(take) / config.sr)
            rng = np.random.default_rng(zlib.crc32(f"{case.name}/{sc.name}".encode()))
            audio = sc.render(take, config.sr, rng)
            track = follow_audio(reference, audio, params)
            outcomes.append(score_scenario(piece, sc, track, base_errors, vectors))
            followed += sc.duration
    return outcomes, followed


# -- reporting ----------------------------------------------------------------------------------


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    """Pooled figures of some outcomes."""
    relock = np.array([o.relock_s for o in outcomes])
    drift = np.array([o.drift_ms for o in outcomes])
    errors = np.concatenate([o.errors for o in outcomes]) if outcomes else np.zeros(0)
    base = np.concatenate([o.base_errors for o in outcomes]) if outcomes else np.zeros(0)
    out: dict[str, Any] = {
        "scenarios": len(outcomes),
        "relocked_within_goal_pct": float(np.mean(relock <= GOAL_S) * 100.0) if len(relock) else float("nan"),
        "median_relock_s": float(np.median(relock)) if len(relock) else float("nan"),
        "never_relocked": int(np.sum(np.isinf(relock))),
        "locatable_pct": _pct([o.locatable for o in outcomes if o.locatable is not None]),
        "relocked_when_locatable_pct": _pct([o.relock_s <= GOAL_S for o in outcomes if o.locatable]),
        "max_pause_drift_ms": float(np.nanmax(drift)) if np.any(~np.isnan(drift)) else None,
        "pauses_held_pct": (
            float(np.mean(drift[~np.isnan(drift)] <= TOL_S * 1000) * 100.0) if np.any(~np.isnan(drift)) else None
        ),
        "beats": len(errors),
    }
    for m in TIMES_MS:
        out[f"within_{m}"] = _share(errors, m)
        out[f"base_within_{m}"] = _share(base, m)
    return out


def _fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}%"


def _fmt_s(x: float) -> str:
    return "never" if np.isinf(x) else "—" if np.isnan(x) else f"{x:.2f} s"


def print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    head = f"  {'kind':<10}{'n':>4}{'≤2 s':>8}{'median':>9}{'never':>6}{'loc':>6}{'≤2 s|loc':>10}"
    head += f"{'drift max':>11}{'held':>7}"
    print(head + "".join(f"{f'≤{m} edit/base':>17}" for m in TIMES_MS) + f"{'beats':>7}")
    for kind, r in rows.items():
        drift = "—" if r["max_pause_drift_ms"] is None else f"{r['max_pause_drift_ms']:.0f} ms"
        held = "—" if r["pauses_held_pct"] is None else f"{r['pauses_held_pct']:.0f}%"
        line = (
            f"  {kind:<10}{r['scenarios']:>4}{r['relocked_within_goal_pct']:>7.0f}%{_fmt_s(r['median_relock_s']):>9}"
            f"{r['never_relocked']:>6}{_fmt_pct(r['locatable_pct']):>6}{_fmt_pct(r['relocked_when_locatable_pct']):>10}"
            f"{drift:>11}{held:>7}"
        )
        line += "".join(f"{r[f'within_{m}']:>9.1f}/{r[f'base_within_{m}']:>5.1f}%" for m in TIMES_MS)
        print(line + f"{r['beats']:>7}")


def tables(outcomes: list[Outcome], kinds: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{set (and "pooled"): {kind, "jumps", "all": figures}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    sets = list(dict.fromkeys(o.set_name for o in outcomes))
    for set_name in [*sets, "pooled"]:
        mine = [o for o in outcomes if set_name in ("pooled", o.set_name)]
        rows = {k: summarize([o for o in mine if o.scenario.kind == k]) for k in kinds}
        rows = {k: r for k, r in rows.items() if r["scenarios"]}
        rows["jumps"] = summarize([o for o in mine if o.scenario.kind in JUMP_KINDS])
        rows["all"] = summarize(mine)
        out[set_name] = rows
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(ALL_SETS), choices=ALL_SETS)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--quick", action="store_true", help="one edit per kind and take (same as --places 1)")
    parser.add_argument("--places", type=int, default=3, help="edits per kind and take (default 3)")
    parser.add_argument("--per-scenario", action="store_true", help="print every scenario's figures")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a FollowParams setting")
    args = parser.parse_args()
    places = 1 if args.quick else args.places

    params = ef.follow_params(args.param)
    began = time.perf_counter()
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    followed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        pieces = shared_pieces(args.sets) + synth_pieces(args.sets, Path(tmp))
        if not pieces:
            print("no evaluation pairs (../shared/data absent and no synthetic set chosen)", file=sys.stderr)
            return 2
        missing = sorted({"piano", "percussion"} & set(args.sets) - {p.case.set_name for p in pieces})
        if missing:
            print(f"skipped sets without data in {pairs.DATA_ROOT}: {', '.join(missing)}")
        for piece in pieces:
            skipped += [f"{piece.case.name}: {k}" for k in args.kinds if not placements(k, piece.truth, places)]
            done, secs = run_piece(piece, args.kinds, places, params)
            outcomes += done
            followed += secs
            if args.per_scenario:
                for o in done:
                    d = o.to_dict()
                    drift = "" if d["pause_drift_ms"] is None else f"  drift {d['pause_drift_ms']:.0f} ms"
                    print(f"{o.set_name:<17}{o.piece:<22}{o.scenario.name:<20}relock {_fmt_s(o.relock_s):>8}{drift}"
                          f"  ≤50 {d['within_50']:.0f}% (base {d['base_within_50']:.0f}%)")  # fmt: skip
    spent = time.perf_counter() - began

    figures = tables(outcomes, args.kinds)
    for set_name, rows in figures.items():
        n_pieces = len({o.piece for o in outcomes if set_name in ("pooled", o.set_name)})
        print_table(f"{set_name} ({n_pieces} takes)", rows)
    print(
        f"\nre-lock: from the music after the edit to the first report within {TOL_S * 1000:.0f} ms of truth "
        f"for {HOLD_S:g} s; ≤2 s: share re-locked within {GOAL_S:g} s; loc: share of jumps whose first "
        f"{GOAL_S:g} s of music after the edit, matched offline against the whole reference by subsequence "
        f"DTW, end within {TOL_S * 1000:.0f} ms of truth (a bound on re-locking from content); ≤2 s|loc: "
        f"re-locked within {GOAL_S:g} s among those; drift: pauses, largest distance from "
        f"where the pause began (held: ≤{TOL_S * 1000:.0f} ms); edit/base: beats within N ms on the edited take "
        f"(leaving out {EXCLUDE_S:g} s after each splice) / the same beats of the unedited take"
    )
    failures = [o for o in outcomes if o.relock_s > GOAL_S]
    if failures:
        print(f"\nnot re-locked within {GOAL_S:g} s ({len(failures)} of {len(outcomes)}):")
        for (set_name, kind), group in _group(failures).items():
            print(f"  {set_name:<17}{kind:<9}" + ", ".join(f"{o.piece}@{o.scenario.at:g}: {_fmt_s(o.relock_s)}"
                                                         for o in group))  # fmt: skip
    if skipped:
        print(f"\nskipped (take too short for the edit): {'; '.join(skipped)}")
    jumps, pooled = figures["pooled"]["jumps"], figures["pooled"]["all"]
    print(
        f"\ngoal: re-locked within {GOAL_S:g} s in ≥95 % of jumps: {jumps['relocked_within_goal_pct']:.1f} % "
        f"({jumps['scenarios']} jumps; {_fmt_pct(jumps['locatable_pct'])} locatable from {GOAL_S:g} s of "
        f"content, of which {_fmt_pct(jumps['relocked_when_locatable_pct'])} re-locked in time), "
        f"{pooled['relocked_within_goal_pct']:.1f} % with pauses; "
        f"beats ≤50 ms outside the jumps {pooled['within_50']:.1f} % vs {pooled['base_within_50']:.1f} % unedited"
    )
    print(f"{followed:.0f} s of audio followed; {spent:.0f} s in all (references, edits, following, one process)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": " ".join(["tools/eval_jumps.py", *sys.argv[1:]]),
                    "tables": figures,
                    "scenarios": [o.to_dict() for o in outcomes],
                    "skipped": skipped,
                    "truth": {p.case.name: p.truth_source for p in pieces},
                    "settings": {
                        "places": places,
                        "tol_s": TOL_S,
                        "hold_s": HOLD_S,
                        "goal_s": GOAL_S,
                        "exclude_s": EXCLUDE_S,
                        "fade_s": FADE_S,
                        "jump_s": JUMP_S,
                        "pause_s": PAUSE_S,
                        "drop_s": DROP_S,
                        "lead_s": LEAD_S,
                        "tail_s": TAIL_S,
                        "room_noise_db": ROOM_NOISE_DB,
                    },
                    "params": params.__dict__,
                    "seconds": round(spent, 1),
                },
                indent=1,
            )
        )
    return 0


def _group(outcomes: list[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.set_name, o.scenario.kind), []).append(o)
    return groups


if __name__ == "__main__":
    sys.exit(main())
