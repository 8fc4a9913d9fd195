"""Running the jump scenarios over evaluation pieces: pieces with truth, outcomes, pooled tables.

The front end is tools/eval_jumps.py (its docstring states the metrics); the edits and
the re-lock metric are :mod:`matcher.evaluation.jumps`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import FILE_BLOCK_SECONDS, file_blocks
from ..config import Config
from ..features import YinModel, extract
from ..follow import Follower, FollowParams, Track, follow_blocks
from ..follow.costs import cost_vectors, flux_scale
from ..reference import Reference, build_reference
from . import synthetic
from .data import Case, join, pairs_of, read_beats, read_onsets
from .jumps import (
    EXCLUDE_S,
    GOAL_S,
    JUMP_KINDS,
    PAUSE_S,
    ROOM_NOISE_DB,
    TOL_S,
    Scenario,
    make_scenario,
    max_drift,
    placements,
    relock_time,
)
from .metrics import TOLERANCES_MS, beat_errors, share_within
from .truth import TruthMap, cycle_ids

SYNTH_BPM = 100.0  # reference tempo of the synthetic pieces
SYNTH_BARS = 28  # melodic pieces: 4/4 bars (112 beats, 67 s at 100 bpm)
SYNTH_CYCLES = 9  # percussion pieces: 12-beat cycles (107 beats, 64 s)
PERC_CYCLE = float(synthetic.BEATS_PER_BAR["percussion"])  # beats per cycle of matcher.synth.percussion
SYNTH_WARPS = ("curve", "rubato")  # synthetic.warps used for piece 0, 1


@dataclass(frozen=True)
class Piece:
    """An evaluation case (take beats scored as in tools/eval_follow.py) with the truth its take is edited by."""

    case: Case
    truth: TruthMap
    truth_source: str


def shared_pieces(sets: Iterable[str]) -> list[Piece]:
    """The ../shared/data pairs of ``sets``; truth from note onsets where annotated, else from beats."""
    pieces = []
    for pair in pairs_of(tuple(sets)):
        take_t, ref_t, _ = join(read_beats(pair.take_beats), read_beats(pair.ref_beats))
        case = Case(pair.set_name, pair.name, pair.ref_audio, pair.take_audio, take_t, ref_t)
        if pair.take_onsets.exists() and pair.ref_onsets.exists():
            take_o, ref_o, _ = join(read_onsets(pair.take_onsets), read_onsets(pair.ref_onsets))
            pieces.append(Piece(case, TruthMap.from_points(take_o, ref_o), "onsets"))
        else:
            pieces.append(Piece(case, TruthMap.from_points(take_t, ref_t), "beats"))
    return pieces


def synth_pieces(sets: Iterable[str], folder: Path) -> list[Piece]:
    """Synthetic pieces of about 65 s (reference steady at SYNTH_BPM, take warped), written to ``folder``.

    Truth: the tempo maps on a quarter-beat grid; percussion cycles with the same strokes
    are equivalent (:func:`matcher.evaluation.truth.cycle_ids`).
    """
    pieces = []
    for kind, set_name in synthetic.SYNTH_SETS.items():
        if set_name not in sets:
            continue
        for k, warp in enumerate(SYNTH_WARPS):
            notes = synthetic.piece(kind, SYNTH_BARS if kind == "melodic" else SYNTH_CYCLES, seed=k)
            n_beats = synthetic.length_beats(notes)
            ref_map = synthetic.steady(n_beats, SYNTH_BPM)
            take_map = synthetic.warps(n_beats, seed=k)[warp]
            pair = synthetic.render_pair(folder, f"{kind}{k}_ref", f"{kind}{k}_{warp}", notes, ref_map, take_map,
                                         seed=k + 7)  # fmt: skip
            grid = np.arange(0.0, n_beats + 1e-9, 0.25)
            cycles: dict[str, Any] = {}
            if kind == "percussion":
                cycles = {"cycle_beats": PERC_CYCLE, "cycle_ids": cycle_ids(notes, PERC_CYCLE)}
            truth = TruthMap(take_map.seconds(grid), ref_map.seconds(grid), grid, **cycles)
            pieces.append(Piece(pair.case(set_name, f"{kind}{k}-{warp}"), truth, "tempo maps"))
    return pieces


def load_take(path: Path, sr: int) -> np.ndarray:
    """The whole take at ``sr`` [float32]."""
    return np.concatenate([block for block, _ in file_blocks(path, sr)])


def follow_audio(reference: Reference, audio: np.ndarray, params: FollowParams) -> Track:
    """The follower over ``audio`` fed in file-sized blocks, as tools/eval_follow.py feeds a file."""
    n = int(FILE_BLOCK_SECONDS * reference.config.sr)
    return follow_blocks(reference, (audio[i : i + n] for i in range(0, len(audio), n)), params)


def track_errors(beat_t: np.ndarray, ref_truth: np.ndarray, track: Track) -> np.ndarray:
    """[ms] the beat metric at take beats ``beat_t`` [s] against the nearest equivalent truth.

    ref_truth : np.ndarray [shape=(n, k), s]   column 0 the annotated reference beat, others equivalents
    """
    return beat_errors(beat_t, ref_truth, track.t, track.ref_t)


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
            **{f"within_{m}": share_within(self.errors, m) for m in TOLERANCES_MS},
            **{f"base_within_{m}": share_within(self.base_errors, m) for m in TOLERANCES_MS},
        }


def _pct(flags: list[bool]) -> float | None:
    return float(np.mean(flags) * 100.0) if flags else None


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
    errors = track_errors(out_t[keep], truth.equivalents(case.ref_beats[index[keep]]), track)
    return Outcome(case.set_name, case.name, sc, relock, drift, loc, errors, base_errors[index[keep]])


def run_piece(
    piece: Piece,
    kinds: Iterable[str],
    places: int,
    params: FollowParams,
    config: Config | None = None,
    noise_db: float = ROOM_NOISE_DB,
) -> tuple[list[Outcome], float]:
    """Every scenario of one piece; (outcomes, take seconds followed). ``config``: YIN defaults;
    ``noise_db`` [dB]: the level of the ``noise`` pauses relative to the take's RMS."""
    case = piece.case
    config = config or Config(pitch_backend="yin")
    reference = build_reference(case.ref_audio, config, YinModel(config), "ref")
    take = load_take(case.take_audio, config.sr)
    base = follow_audio(reference, take, params)
    follower = Follower(reference, params)
    frames = extract([take], config, YinModel(config))
    take_vectors = cost_vectors(frames, follower.weights, flux_scale(frames, config.gate_db))
    vectors = (take_vectors, follower.ref_vectors, config.frame_seconds)
    base_errors = track_errors(case.take_beats, piece.truth.equivalents(case.ref_beats), base)
    followed = len(take) / config.sr
    outcomes = []
    for kind in kinds:
        for at in placements(kind, piece.truth, places):
            sc = make_scenario(kind, at, len(take) / config.sr)
            rng = np.random.default_rng(zlib.crc32(f"{case.name}/{sc.name}".encode()))
            audio = sc.render(take, config.sr, rng, noise_db)
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
    for m in TOLERANCES_MS:
        out[f"within_{m}"] = share_within(errors, m)
        out[f"base_within_{m}"] = share_within(base, m)
    return out


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
