"""The online follower: accuracy on warps with exact ground truth, monotone output,
online equals offline, state sized by the band, the Position record, and
`matcher follow` end to end (in-process and as a subprocess).

Synthetic material comes from ``matcher.synth`` (exact truth at every frame); pitch is
never computed (``NoPitch``: the follower's cost does not use it), so no TensorFlow.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tracemalloc
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher import Config
from matcher.beats import Beats
from matcher.cli import main
from matcher.errors import ParameterError
from matcher.features import FeatureStream, Frames, NoPitch, extract
from matcher.follow import CostWeights, Follower, FollowParams, Position, PreparedReference, Track, follow_blocks
from matcher.follow import kernels as K
from matcher.reference import Reference
from matcher.synth import TempoMap, demo_tempo, melody, percussion, render

CFG = Config(pitch_backend="yin")
RATE = CFG.frame_rate
FRAME_S = CFG.frame_seconds
BPM = 100.0

#: The fields of a reported position, in order (JSON lines carry exactly these keys).
POSITION_KEYS = ["t", "ref_t", "beat", "bar", "tempo_ratio", "tempo_dev_pct", "confidence", "state", "frame"]
FLOAT_KEYS = POSITION_KEYS[:7]
STATES = {"following", "lost"}


# -- synthetic material ------------------------------------------------------------------


def notes_of(kind: str) -> list:
    return melody(10, 4, seed=1) if kind == "melodic" else percussion(4, seed=1)


def steady(n_beats: float) -> TempoMap:
    return TempoMap((0.0, n_beats), (BPM, BPM))


def frames_of(audio: np.ndarray) -> Frames:
    return extract([audio], CFG, NoPitch(CFG))


def make_reference(kind: str) -> Reference:
    """A steady 100 bpm rendering, its beats known exactly from the tempo map."""
    notes = notes_of(kind)
    n_beats = max(n.beat + n.length for n in notes)
    ref_map = steady(n_beats)
    frames = frames_of(render(notes, ref_map, CFG.sr, timbre=0))
    numbers = np.arange(np.floor(n_beats) + 1)
    beats = Beats.from_numbers(ref_map.seconds(numbers), numbers, 4, "synth")
    return Reference(kind, frames, beats, CFG, {})


@pytest.fixture(scope="module")
def references() -> dict[str, Reference]:
    return {kind: make_reference(kind) for kind in ("melodic", "percussive")}


def warp_frames(frames: Frames, path: np.ndarray) -> Frames:
    """Take frames read off the reference at fractional frame positions ``path``
    (linear interpolation between neighbouring frames): the truth at take frame j is
    exactly ``path[j]``."""
    i0 = np.floor(path).astype(np.int64)
    i1 = np.minimum(i0 + 1, len(frames) - 1)
    w = path - i0
    out = {}
    for name, a in frames.arrays().items():
        a = a.astype(np.float64)
        ww = w.reshape(-1, *([1] * (a.ndim - 1)))
        out[name] = (a[i0] * (1 - ww) + a[i1] * ww).astype(np.float32)
    return Frames.from_arrays(out)


def warp_path(kind: str, n_ref: int) -> np.ndarray:
    """Reference frame [fractional] of every take frame, starting at 0 and ending inside the reference."""
    if kind == "identity":
        return np.arange(n_ref, dtype=np.float64)
    # A smooth tempo curve: the take plays 20 % faster and slower than the reference in
    # turn, two and a bit cycles over the piece (about 10 s per cycle).
    j = np.arange(2 * n_ref)
    tempo = 1.0 + 0.2 * np.sin(2 * np.pi * j / (n_ref / 2.3))
    path = np.concatenate([[0.0], np.cumsum(tempo[:-1])])
    return path[path <= n_ref - 1]


# |followed - true| [reference frames] after the first second, with the defaults of
# FollowParams. The design target is median <= 1 and max <= 3 frames; the identity
# percussive warp meets it, the others are held to their measured figures plus about
# 20 %, so a worse follower fails here. Measured with the take's levels brought to the
# reference's loudness (median / max): percussive identity 0.01 / 2.08, percussive sine
# 1.17 / 11.56, melodic identity 1.40 / 17.00 (1.17 before that: the level tracker moves
# through the piece's dynamics; after onsets the column argmin runs up to 19 frames ahead
# in a held note, a 2-frame step costs nothing), melodic sine 2.80 / 20.36. With the flux
# floor following each recording's loud level (2026-12-06): percussive 0.01 / 2.07 and
# 1.09 / 11.56, melodic 2.04 / 15.00 and 3.29 / 15.31 (this loud piece's held notes make
# less flux under the raised floor; the synthetic melodic set of tools/eval_follow.py went
# 87.4 -> 88.6 % of beats within 50 ms with it). With chroma at 0.9 and holds inside notes
# at 60 % of the hold price (2026-12-06): percussive 0.12 / 2.07 and 1.21 / 9.89, melodic
# 2.52 / 16.19 and 3.27 / 16.43 (a dearer hold lets the argmin run further ahead through
# a held note; on the dev corpus the change gained 4 points within 50 ms).
WARP_CASES = [
    pytest.param("percussive", "identity", 1.0, 3.0, id="percussive-identity"),
    pytest.param("percussive", "sine", 1.4, 14.0, id="percussive-sine"),
    pytest.param("melodic", "identity", 3.0, 20.0, id="melodic-identity"),
    pytest.param("melodic", "sine", 3.9, 24.0, id="melodic-sine"),
]


@pytest.mark.parametrize(("kind", "warp", "median_max", "worst_max"), WARP_CASES)
def test_recovers_known_warp(
    references: dict[str, Reference], kind: str, warp: str, median_max: float, worst_max: float
) -> None:
    ref = references[kind]
    path = warp_path(warp, len(ref.frames))
    take = warp_frames(ref.frames, path)
    # lookahead_samples=0: ref_t is the follower's position itself, pos * frame_s, with
    # no extrapolation over a feature look-ahead (the frames here have none).
    track = Follower(ref, lookahead_samples=0).steps(take)
    assert len(track) == len(path)
    followed = track.ref_t / FRAME_S
    # Skip the first second: the first position is the bare argmin of one column and the
    # tempo model needs 8 frames of history before it has a slope, and a few beats before
    # the path is anchored; the truth is defined (and scored) everywhere after that.
    skip = int(RATE)
    err = np.abs(followed - path)[skip:]
    median, worst = float(np.median(err)), float(np.max(err))
    assert median <= median_max and worst <= worst_max, (
        f"median {median:.2f}, max {worst:.2f} frames (allowed {median_max} / {worst_max})"
    )


@pytest.mark.parametrize("kind", ["melodic", "percussive"])
def test_slow_take_holds_cheaper(references: dict[str, Reference], kind: str) -> None:
    """A take at half the reference's tempo must hold on every other frame: the hold price
    follows the slow tempo down (``hold_tempo_s``), and the follower stays nearer the truth
    than at the full price (measured median error, frames: melodic 8.8 against 10.1,
    percussive 4.5 against 6.1)."""
    ref = references[kind]
    path = np.arange(0.0, len(ref.frames) - 1, 0.5)
    take = warp_frames(ref.frames, path)
    default = FollowParams().hold_tempo_s
    median = {}
    for hold_tempo_s in (default, 0.0):
        follower = Follower(ref, FollowParams(hold_tempo_s=hold_tempo_s), lookahead_samples=0)
        track = follower.steps(take)
        median[hold_tempo_s] = float(np.median(np.abs(track.ref_t / FRAME_S - path)[int(RATE) :]))
        slow = follower._fstate[K.S_HOLD_TEMPO]
        assert slow == 1.0 if hold_tempo_s == 0 else abs(slow - 0.5) < 0.05, slow
    assert median[default] < median[0.0], median


def test_warp_truth_is_exact(references: dict[str, Reference]) -> None:
    """The harness itself: at integer positions the warped take is the reference frame."""
    ref = references["melodic"]
    path = np.array([0.0, 3.0, 10.0, 10.5, 11.0])
    take = warp_frames(ref.frames, path)
    np.testing.assert_array_equal(take.flux[[0, 1, 2, 4]], ref.frames.flux[[0, 3, 10, 11]])
    np.testing.assert_allclose(take.flux[3], 0.5 * (ref.frames.flux[10] + ref.frames.flux[11]), rtol=1e-6)


# -- monotone output ------------------------------------------------------------------------


def fermata_take(kind: str = "melodic") -> tuple[np.ndarray, TempoMap]:
    """The reference's notes, 15 % slow at first and rushing to 10 % fast, with a
    1.5 s fermata; another timbre and noise at 35 dB SNR. The player never jumps."""
    notes = notes_of(kind)
    n_beats = max(n.beat + n.length for n in notes)
    take_map = demo_tempo(n_beats, BPM, fermata_beat=16.0)
    return render(notes, take_map, CFG.sr, timbre=1, noise_db=35.0, seed=1), take_map


@pytest.fixture(scope="module")
def fermata() -> tuple[np.ndarray, Frames]:
    audio, _ = fermata_take()
    return audio, frames_of(audio)


def test_monotone_without_jumps(references: dict[str, Reference], fermata) -> None:
    """The follower's position never moves back while the player does not jump."""
    ref = references["melodic"]
    track = Follower(ref, lookahead_samples=0).steps(fermata[1])
    steps = np.diff(track.ref_t)
    assert np.all(steps >= 0), f"{np.sum(steps < 0)} steps back, largest {-steps.min() * 1000:.2f} ms"
    # Not monotone by standing still: it got to the end of the reference.
    assert track.ref_t[-1] > ref.duration - 1.5


def test_monotone_without_jumps_as_reported_live(references: dict[str, Reference], fermata) -> None:
    """The same through the live path (hop-sized blocks, positions extrapolated over the
    feature look-ahead), which is what `matcher follow` prints."""
    audio = fermata[0]
    ref = references["melodic"]
    track = follow_blocks(ref, (audio[i : i + CFG.hop] for i in range(0, len(audio), CFG.hop)))
    steps = np.diff(track.ref_t)
    assert np.all(steps >= 0), f"{np.sum(steps < 0)} of {len(steps)} steps back, largest {-steps.min() * 1000:.2f} ms"


# -- online equals offline ------------------------------------------------------------------

TRACK_FIELDS = [f.name for f in fields(Track)]


def random_blocks(audio: np.ndarray, rng: np.random.Generator, longest: int) -> list[np.ndarray]:
    cuts = np.cumsum(rng.integers(1, longest, len(audio)))
    return np.split(audio, cuts[cuts < len(audio)])


def assert_tracks_equal(a: Track, b: Track, except_confidence: float | None = None) -> None:
    assert len(a) == len(b)
    for name in TRACK_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if name == "confidence" and except_confidence is not None:
            np.testing.assert_allclose(x, y, rtol=0, atol=except_confidence, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_step_equals_steps(references: dict[str, Reference], fermata) -> None:
    ref, frames = references["melodic"], fermata[1]
    lookahead = FeatureStream(CFG, NoPitch(CFG)).lookahead_samples
    whole = Follower(ref, lookahead_samples=lookahead).steps(frames)
    one = Follower(ref, lookahead_samples=lookahead)
    positions = [one.step(frames[k : k + 1]) for k in range(len(frames))]
    assert one.frames_seen == len(frames)
    assert positions == whole.positions()


def test_steps_in_chunks_equal_steps(references: dict[str, Reference], fermata, rng: np.random.Generator) -> None:
    ref, frames = references["percussive"], fermata[1]
    whole = Follower(ref).steps(frames)
    chunked = Follower(ref)
    cuts = rng.integers(1, len(frames), 80)
    bounds = np.sort(np.r_[0, cuts, cuts[0], len(frames)])  # cuts[0] twice: an empty chunk too
    parts = [chunked.steps(frames[a:b]) for a, b in itertools.pairwise(bounds)]
    assert_tracks_equal(Track.concat(parts), whole)


@pytest.mark.parametrize("longest", [64, 300, 3000, 40000])
def test_follow_blocks_equals_offline(references: dict[str, Reference], fermata, rng, longest: int) -> None:
    ref, (audio, whole_frames) = references["melodic"], fermata
    blocks = random_blocks(audio, rng, longest)
    live = follow_blocks(ref, blocks)
    lookahead = FeatureStream(CFG, NoPitch(CFG)).lookahead_samples
    # Exactly the positions of steps() over the frames of the same blocks (kept compact)...
    steps = Follower(ref, lookahead_samples=lookahead).steps(extract(blocks, CFG, NoPitch(CFG)))
    assert_tracks_equal(live, steps.compact())
    # ...and of steps() over the whole file's frames, which equal streamed frames only to
    # float tolerance (about 1e-5 relative, DESIGN.md): the same frames, states and
    # mostly the same positions. A near tie between paths (a held note, where holding and
    # stepping cost about alike) may fall the other way on rounding and move the position
    # by a frame or a few for a while, and the take's level offset, which follows the
    # reference's level at the position, a little with it: measured 0.21 s at most on
    # this take (21 reports over 2 s beyond 20 ms), on 0-36 % of the reports; a streaming
    # fault moves it much further. The flux's noise floor (a running minimum) carries one
    # frame's rounding on, so most positions differ by that much (measured 1.3e-5 s).
    offline = Follower(ref, lookahead_samples=lookahead).steps(whole_frames).compact()
    assert len(live) == len(offline)
    for name in ("t", "frame", "lost", "paused"):
        np.testing.assert_array_equal(getattr(live, name), getattr(offline, name), err_msg=name)
    moved = np.abs(live.ref_t - offline.ref_t)
    assert np.median(moved) < 1e-3 and moved.max() <= 0.25


# -- state sized by the band, not the piece ------------------------------------------------

SMALL = Config(pitch_backend="yin", n_bands=24)  # an hour of frames stays small in memory


def random_reference(seconds: float, rng: np.random.Generator) -> Reference:
    n = int(seconds * SMALL.frame_rate)
    f32 = np.float32
    frames = Frames(
        midi=np.full(n, np.nan, f32),
        confidence=np.zeros(n, f32),
        db=rng.uniform(-40, -10, n).astype(f32),
        onset=np.zeros(n, f32),
        flux=rng.exponential(1.0, (n, SMALL.n_bands)).astype(f32),
        chroma=rng.random((n, 12)).astype(f32),
    )
    beat_t = np.arange(0.0, seconds, 0.6)
    return Reference(f"random{seconds:g}", frames, Beats.from_numbers(beat_t, np.arange(len(beat_t)), 4, "x"), SMALL)


#: The global tracker's columns, one value per coarse reference frame (the one piece-sized state array).
SEARCH_ROWS_STATE = "_glob"


def arrays_of(follower: Follower) -> dict[str, np.ndarray]:
    return {name: value for name, value in vars(follower).items() if isinstance(value, np.ndarray)}


def test_state_sized_by_band(rng: np.random.Generator) -> None:
    """Every array a step writes is sized by the band, whatever the piece; only the
    reference's own features (read, never written) grow with it."""
    params = FollowParams()
    band = round(params.band_s * SMALL.frame_rate)
    hour = Follower(random_reference(3600.0, rng), params)
    minute = Follower(random_reference(60.0, rng), params)
    assert len(hour.reference.frames) == 225_000  # an hour at 62.5 frames/s
    for follower in (hour, minute):
        for name in ("_D", "_Dn", "_cost"):
            assert getattr(follower, name).shape == (2 * band + 1,), name
    take = random_reference(5.0, rng).frames
    for k in range(3):  # warm up (numba cache load) before measuring
        hour.step(take[k : k + 1])
        minute.step(take[k : k + 1])
    before = {name: (a, a.copy()) for name, a in arrays_of(hour).items()}

    def peak(follower: Follower) -> int:
        tracemalloc.start()
        for k in range(3, 40):
            follower.step(take[k : k + 1])
        follower.steps(take[40:])
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    peak_hour, peak_minute = peak(hour), peak(minute)
    after, short = arrays_of(hour), arrays_of(minute)
    assert set(after) == set(before) == set(short)
    written = {name for name, (a, copy) in before.items() if not np.array_equal(after[name], copy, equal_nan=True)}
    assert {"_D", "_istate", "_fstate"} <= written  # the test sees the state move
    for name, (array, _) in before.items():
        assert after[name] is array, f"{name} was reallocated during steps"
        # The global tracker's columns are the one exception: two floats per coarse
        # reference frame, see test_search_state_sized_by_band; bounded here to exactly that.
        if name in written and name != SEARCH_ROWS_STATE:
            assert array.shape == short[name].shape, f"state {name} grows with the piece: {array.shape}"
    if SEARCH_ROWS_STATE in after:
        assert after[SEARCH_ROWS_STATE].shape == (2, len(hour.ref_coarse))
        assert len(hour.ref_coarse) == len(hour.reference.frames) // K.COARSE
        # A column's work is spread evenly over the hops of a coarse frame.
        assert hour._params[K.P_SEARCH_ROWS] == -(-len(hour.ref_coarse) // K.COARSE)
    # What a step allocates does not depend on the piece (its reference is 60x longer).
    assert peak_hour <= peak_minute + 16_000, (peak_hour, peak_minute)


def test_kernel_reads_only_its_band(rng: np.random.Generator) -> None:
    """Reference frames far outside the band are never read: poisoning them with NaN
    changes nothing while the take stays near the start."""
    ref = random_reference(120.0, rng)
    take = warp_frames(ref.frames, np.arange(0.0, 600.0, 0.9))  # the first 10 s, played slower
    clean = Follower(ref, lookahead_samples=0)
    # The position moves at most 2 frames per take frame (667 frames: < 1334) and the band
    # reaches 625 frames past it: nothing past 2000 frames (32 s) can be read. (The global
    # tracker reads its own coarse copy, made before the poisoning.)
    far = int(40.0 * SMALL.frame_rate)
    vectors = clean.prepared.ref_vectors.copy()
    vectors[far:] = np.nan
    poisoned = Follower(ref, lookahead_samples=0, prepared=replace(clean.prepared, ref_vectors=vectors))
    assert_tracks_equal(poisoned.steps(take), clean.steps(take))


# -- re-locking and pauses ------------------------------------------------------------------

JUMP_AT = 30.0  # [s of take] where the edits below happen


@pytest.fixture(scope="module")
def long_pair() -> tuple[Reference, np.ndarray]:
    """A 48-s melodic reference and the same music played by another instrument, steadily
    at the same tempo (take time = reference time, so edits have exact truth)."""
    notes = melody(20, 4, seed=3)
    tempo = steady(max(n.beat + n.length for n in notes))
    ref_frames = frames_of(render(notes, tempo, CFG.sr, timbre=0))
    beats = Beats.from_numbers(tempo.seconds(np.arange(80.0)), np.arange(80.0), 4, "synth")
    take = render(notes, tempo, CFG.sr, timbre=1, noise_db=35.0, seed=5)
    return Reference("long", ref_frames, beats, CFG, {}), take


def _follow(reference: Reference, audio: np.ndarray) -> tuple[Track, Follower]:
    follower = Follower(reference)
    return follower.steps(frames_of(audio)), follower


def _first_on_truth(track: Track, truth: np.ndarray, start: float, hold_s: float = 1.0) -> float:
    """Seconds from ``start`` to the first report within 200 ms of truth for the next ``hold_s``."""
    ok = np.abs(track.ref_t - truth) <= 0.2
    hold = round(hold_s * RATE)
    for k in np.flatnonzero(track.t >= start):
        if k + hold <= len(ok) and ok[k : k + hold].all():
            return float(track.t[k] - start)
    return float("inf")


@pytest.mark.parametrize("jump_s", [-20.0, 12.0], ids=["back-20s", "forward-12s"])
def test_relocks_after_a_jump(long_pair, jump_s: float) -> None:
    """The player jumps; the global tracker finds the new place and the follower moves
    there: on truth within 6.5 s (tools/eval_jumps.py and tools/eval_corpus.py --jumps
    measure the distribution), the state "lost" while it doubts, "following" once there.
    Measured: forward 1.3 s; back 6.0 s, in two moves (the first lands 10 s short of the
    place, the second finds it 4 s later; 3.6 s when the take's levels were brought to
    the reference's by its own loudness alone)."""
    reference, take = long_pair
    sr = CFG.sr
    cut = round(JUMP_AT * sr)
    audio = np.concatenate([take[:cut], take[cut + round(jump_s * sr) :]])
    track, follower = _follow(reference, audio)
    truth = np.where(track.t < JUMP_AT, track.t, track.t + jump_s)
    assert follower.relocks >= 1
    on_truth = _first_on_truth(track, truth, JUMP_AT)
    assert on_truth <= 6.5
    before = (track.t > 3.0) & (track.t < JUMP_AT)
    assert np.median(np.abs(track.ref_t[before] - truth[before])) < 0.05
    after = (track.t > JUMP_AT + on_truth + 1.0) & (truth < reference.duration - 1.0)
    assert np.median(np.abs(track.ref_t[after] - truth[after])) < 0.05
    assert track.lost[(track.t > JUMP_AT) & (track.t < JUMP_AT + 3.0)].any()
    assert not track.lost[after].any()


def _assert_followed_at_once(track: Track, truth: np.ndarray, resume: float) -> None:
    """On truth within 0.5 s of the music's return, and closely after it. On truth for
    half a second, not a whole one: about 1.1 s after the return, the take's note (another
    timbre) decays before the reference's and the position runs up to 0.22 s ahead through
    it (the reference's holds inside a note cost 60 % of the hold price, DESIGN.md)."""
    assert _first_on_truth(track, truth, resume, hold_s=0.5) <= 0.5
    after = (track.t > resume + 0.5) & (track.t < resume + 5.0)
    assert np.median(np.abs(track.ref_t[after] - truth[after])) < 0.05


def test_pause_holds_where_it_began_and_resumes(long_pair) -> None:
    """5 s of silence mid-piece: once it is a pause (half a second) the position goes back
    to where the silence began and stays there, and the music afterwards is followed at once."""
    reference, take = long_pair
    cut = round(JUMP_AT * CFG.sr)
    audio = np.concatenate([take[:cut], np.zeros(5 * CFG.sr, np.float32), take[cut:]])
    track, follower = _follow(reference, audio)
    pause = (track.t >= JUMP_AT + FollowParams().pause_s + 0.05) & (track.t < JUMP_AT + 5.0)
    assert np.max(np.abs(track.ref_t[pause] - JUMP_AT)) <= 0.2
    truth = np.where(track.t < JUMP_AT + 5.0, np.minimum(track.t, JUMP_AT), track.t - 5.0)
    _assert_followed_at_once(track, truth, JUMP_AT + 5.0)
    assert follower.relocks == 0


@pytest.mark.parametrize("noise_db", [-20.0, -30.0])
def test_pause_in_room_noise_is_held(long_pair, noise_db: float) -> None:
    """5 s of pink room noise 20 or 30 dB below the take mid-piece: noise is not playing
    (flat chroma, well below the loud level), so the pause is held within 200 ms from its
    first frame to its last, and the music afterwards is followed at once."""
    from matcher.evaluation.jumps import fill_audio

    reference, take = long_pair
    cut = round(JUMP_AT * CFG.sr)
    noise = fill_audio("noise", 5 * CFG.sr, take, np.random.default_rng(4), noise_db).astype(np.float32)
    track, follower = _follow(reference, np.concatenate([take[:cut], noise, take[cut:]]))
    pause = (track.t >= JUMP_AT) & (track.t < JUMP_AT + 5.0)
    assert np.max(np.abs(track.ref_t[pause] - JUMP_AT)) <= 0.2
    truth = np.where(track.t < JUMP_AT + 5.0, np.minimum(track.t, JUMP_AT), track.t - 5.0)
    _assert_followed_at_once(track, truth, JUMP_AT + 5.0)
    assert follower.relocks == 0


def test_room_noise_is_not_playing_and_music_is(long_pair) -> None:
    """The activity test on its own: pink noise 20 dB below the take is not playing even
    above the level gate; the take's music (with its own 35-dB noise) is."""
    from matcher.evaluation.jumps import fill_audio
    from matcher.features.level import loud_level
    from matcher.follow.activity import chroma_flatness, noise_like, playing

    reference, take = long_pair
    loud = loud_level(reference.frames.db)

    def judged(frames: Frames) -> tuple[np.ndarray, np.ndarray]:
        return frames.db, playing(frames.db, noise_like(frames.chroma), CFG.gate_db, loud)

    music_db, music_playing = judged(frames_of(take[: 10 * CFG.sr]))
    noise = frames_of(fill_audio("noise", 5 * CFG.sr, take, np.random.default_rng(4), -20.0).astype(np.float32))
    noise_db, noise_playing = judged(noise)
    assert np.mean(noise_db >= CFG.gate_db) > 0.9  # the level gate alone takes it for music
    assert np.mean(noise_playing) < 0.05
    heard = music_db >= CFG.gate_db
    assert np.mean(music_playing[heard]) > 0.95
    assert chroma_flatness(np.ones((1, 12)))[0] == pytest.approx(1.0)
    assert chroma_flatness(np.eye(12)[:1])[0] == pytest.approx(0.0)


@pytest.mark.parametrize("catchup", [2.0, 0.0])
def test_an_estimate_ahead_is_caught_up_with_not_leapt(long_pair, catchup: float) -> None:
    """The tempo model alone: the band's estimate stands 1.5 s ahead of the position (it
    stalled a moment in a blurred passage and found the music again). With catch-up the
    position gains ``catchup`` frames per frame towards it, never a leap; without, it waits
    for the estimate to stay away and then leaps."""
    reference, _ = long_pair
    follower = Follower(reference, FollowParams(catchup=catchup))
    istate, fstate, params = follower._istate, follower._fstate, follower._params
    istate[K.I_J], fstate[K.S_POS], fstate[K.S_TEMPO] = 200, 1000.0, 1.0
    est = 1000.0 + 1.5 * RATE
    D = np.full(64, np.inf)  # no path through the prediction is nearly as good: not ambiguous
    positions = []
    for _ in range(round(2 * RATE)):
        K._track(est, D, 0, len(D), follower._hist_j, follower._hist_p, istate, fstate, params)
        istate[K.I_J] += 1
        est += 1.0
        positions.append(fstate[K.S_POS])
    steps = np.diff(positions)
    if catchup:
        # Beyond the gate: the tempo's frame and the catch-up; within it the estimate is
        # followed as always (a step under the gate, never a leap of the 1.5 s).
        gate = FollowParams().gate_s * RATE
        assert steps.max() <= gate + 1.0
        far = est - 1.0 - np.arange(len(positions))[::-1] - np.asarray(positions) > gate + 3.0
        assert steps[far[:-1]].max() <= catchup + 1.0 + 1e-6
        assert positions[-1] == pytest.approx(est - 1.0)  # caught up within 2 s
        assert abs(fstate[K.S_TEMPO] - 1.0) < 0.05  # the catching up is not the player's tempo
    else:
        assert steps.max() > 0.5 * RATE


def test_passage_distance_tells_a_repeat_from_other_music() -> None:
    """The look-alike test's measure: a passage and its exact repeat are at distance 0, a
    repeat played a little slower nearly so, other music far; passages reaching before
    the reference's start are never alike."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, K.SEARCH_WIDTH)).astype(np.float32)
    other = rng.normal(size=(40, K.SEARCH_WIDTH)).astype(np.float32)
    coarse = np.concatenate([a, other, a]).astype(np.float32)
    span = 20
    assert K.passage_distance(coarse, 39, 119, span) == pytest.approx(0.0)
    assert K.passage_distance(coarse, 39, 79, span) > 1.0
    assert K.passage_distance(coarse, 5, 119, span) >= K.INF


def _twin_params() -> np.ndarray:
    """Kernel parameters for the look-alike search: passages of 20 coarse frames, alike
    under half a unit frame distance, far beyond 4 frames, a look-alike's share 0.5."""
    params = np.zeros(K.N_PARAMS)
    params[K.P_TWIN_SPAN], params[K.P_TWIN_RATIO], params[K.P_SELF_UNIT] = 20, 0.5, 1.0
    params[K.P_RELOCK_FAR], params[K.P_TWIN_SHARE] = 4, 0.5
    return params


def test_a_move_goes_to_the_look_alike_nearest_the_follower() -> None:
    """Where the reference plays a passage twice, which of the two leads the global
    tracker's evidence is chance: a move goes to the look-alike nearer the follower's
    place when it has the share of the leader's evidence asked (a player who drifted, not
    one who jumped back), to the leader when it has less, and never to a place that is
    not a look-alike, however near."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(40, K.SEARCH_WIDTH)).astype(np.float32)
    coarse = np.concatenate(
        [a, rng.normal(size=(60, K.SEARCH_WIDTH)), a, rng.normal(size=(40, K.SEARCH_WIDTH))]
    ).astype(np.float32)
    params = _twin_params()
    col = np.zeros(len(coarse))
    col[39], col[139] = -10.0, -6.0  # the passage's first playing leads, its repeat follows
    col[125] = -9.0  # a place nearer still, but other music
    here = 130
    assert K.nearest_twin(coarse, col, 39, -10.0, here, params) == 139
    col[139] = -4.0  # under half the leader's evidence
    assert K.nearest_twin(coarse, col, 39, -10.0, here, params) == 39
    params[K.P_TWIN_SHARE] = 0.0  # the rule off
    col[139] = -9.5
    assert K.nearest_twin(coarse, col, 39, -10.0, here, params) == 39
    # A look-alike within relock_far of the follower is not a far place.
    params[K.P_TWIN_SHARE] = 0.5
    assert K.nearest_twin(coarse, col, 39, -10.0, 137, params) == 39


def test_the_look_alike_search_gives_up_after_its_tests() -> None:
    """A lost follower may see half the leader's evidence almost everywhere: the search
    for a nearer look-alike goes outward from the follower and stops after
    kernels.TWIN_TESTS places that are no look-alike, keeping the leader."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(40, K.SEARCH_WIDTH)).astype(np.float32)
    others = rng.normal(size=(2 * K.TWIN_TESTS, K.SEARCH_WIDTH))
    coarse = np.concatenate([a, others, a, rng.normal(size=(40, K.SEARCH_WIDTH))]).astype(np.float32)
    params = _twin_params()
    leader, twin = 39, 40 + len(others) + 39
    here = twin - K.TWIN_TESTS // 2 - 20  # among the other music, nearer the twin than the leader
    col = np.zeros(len(coarse))
    col[leader] = -10.0
    col[twin] = -9.0
    assert K.nearest_twin(coarse, col, leader, -10.0, here, params) == twin
    # Other music around the follower with that evidence too, more places than the search
    # tests before it would reach the twin: it gives up and keeps the leader.
    col[here - K.TWIN_TESTS : twin] = -9.0
    assert K.nearest_twin(coarse, col, leader, -10.0, here, params) == leader


def test_leading_silence_is_a_pause_at_the_start(long_pair) -> None:
    """A second of silence before the player starts (a live session opening): the follower
    waits at the reference's start and then follows as if the take had begun at once."""
    reference, take = long_pair
    plain, _ = _follow(reference, take)
    track, _ = _follow(reference, np.concatenate([np.zeros(CFG.sr, np.float32), take]))
    paused = (track.t > FollowParams().pause_s + 0.05) & (track.t < 1.0)
    assert np.max(np.abs(track.ref_t[paused])) <= 0.2
    settled = _first_on_truth(plain, plain.t, 0.0)
    assert _first_on_truth(track, np.maximum(track.t - 1.0, 0.0), 1.0) <= settled + 0.3
    music = (track.t > 4.0) & (track.t < 20.0)
    assert np.median(np.abs(track.ref_t[music] - (track.t[music] - 1.0))) < 0.05


def test_repeating_cycles_never_trigger_a_move() -> None:
    """Samulnori-like material: 8 cycles of one 12-beat pattern (a few strokes dropped).
    Followed from start to end without a jump, the global tracker never moves the
    follower to another cycle."""
    notes = percussion(8, seed=2)
    tempo = steady(max(n.beat + n.length for n in notes))
    beats = Beats.from_numbers(tempo.seconds(np.arange(96.0)), np.arange(96.0), 12, "synth")
    ref = Reference("cycles", frames_of(render(notes, tempo, CFG.sr, timbre=0)), beats, CFG, {})
    take = render(notes, TempoMap((0.0, 96.0), (BPM * 0.9, BPM * 1.1)), CFG.sr, timbre=1, noise_db=30.0, seed=9)
    track, follower = _follow(ref, take)
    assert follower.relocks == 0
    assert np.all(np.diff(track.ref_t) >= 0)


# -- Position -----------------------------------------------------------------------------


def test_position_fields_and_dict(references: dict[str, Reference], fermata) -> None:
    params = FollowParams()
    track = Follower(references["melodic"], params).steps(fermata[1])
    assert [f.name for f in fields(Position)] == POSITION_KEYS
    positions = track.positions()
    assert {p.state for p in positions} == STATES  # lost while warming up, then following
    for k, p in enumerate(positions):
        d = p.to_dict()
        assert list(d) == POSITION_KEYS
        assert all(isinstance(d[key], float) for key in FLOAT_KEYS), d
        assert isinstance(d["frame"], int) and d["frame"] == k
        assert d["state"] in STATES
        if track.confidence[k] < params.lost_below:
            assert d["state"] == "lost"
        assert 0.0 <= d["confidence"] <= 1.0
        assert p.tempo_dev_pct == pytest.approx((p.tempo_ratio - 1) * 100)
        assert json.loads(p.to_json()) == d
    assert positions[-1].beat == pytest.approx(references["melodic"].beats.beat_at(positions[-1].ref_t))


def test_position_json_without_beats(references: dict[str, Reference]) -> None:
    ref = references["percussive"]
    beatless = Reference("beatless", ref.frames, Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none"), CFG)
    position = Follower(beatless).steps(ref.frames[:5])[4]
    strict_json(position.to_json())


def test_track_jsonl_is_its_positions_json(references: dict[str, Reference], fermata) -> None:
    """The column-wise writer gives the text of Position.to_json, line for line, for full
    and compact tracks, with and without beats (nulls), following and lost."""
    ref = references["melodic"]
    beatless = Reference("beatless", ref.frames, Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none"), CFG)
    for reference in (ref, beatless):
        track = Follower(reference).steps(fermata[1])
        lost = track.lost.copy()
        lost[::7] = True  # both states appear
        track = Track(**{**{f.name: getattr(track, f.name) for f in fields(Track)}, "lost": lost})
        for t in (track, track.compact()):
            assert t.to_jsonl() == "".join(p.to_json() + "\n" for p in t.positions())


def test_track_jsonl_numbers_near_rounding_ties_and_extremes(rng: np.random.Generator) -> None:
    """Numbers where numpy's x * 1e4 and Python's exact round(x, 4) could disagree (ties),
    negative zero, NaN and infinities, values past the fast path's range, float32: the
    text of json.dumps, line for line."""
    edge = np.array(
        [0.0, -0.0, -1e-5, 5e-5, 1.5e-4, 1.00015, 0.03125, -0.03125, 2.0, 1e-4, -1e-4, 123456.78915, np.nan,
         np.inf, -np.inf, 1e20, 0.5, 2.5, 9.99995, 0.99995, -1e-9, 9999999999.4, 1e10, 5e9 + 5e-5]
    )  # fmt: skip
    n = 3000
    columns = [np.concatenate([np.roll(edge, i), rng.normal(0, 10.0**i, n)]) for i in range(6)]
    columns[1] = columns[1].astype(np.float32)
    m = len(columns[0])
    track = Track(*columns, lost=rng.random(m) < 0.3, frame=rng.integers(0, 10**9, m), paused=None)
    assert track.to_jsonl() == "".join(p.to_json() + "\n" for p in track.positions())


# -- `matcher follow` ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def audio_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A 4-bar melody at 100 bpm (reference) and a warped, noisy take; both WAV at the
    model rate, so the take's frame count is ``1 + n_samples // hop``."""
    folder = tmp_path_factory.mktemp("follow_cli")
    notes = melody(4, 4, seed=5)
    n_beats = max(n.beat + n.length for n in notes)
    ref_path, take_path = folder / "ref.wav", folder / "take.wav"
    sf.write(ref_path, render(notes, steady(n_beats), CFG.sr), CFG.sr, subtype="FLOAT")
    take_map = TempoMap((0.0, n_beats), (90.0, 110.0))
    take = render(notes, take_map, CFG.sr, timbre=1, noise_db=35.0, seed=2)
    sf.write(take_path, take, CFG.sr, subtype="FLOAT")
    return ref_path, take_path, 1 + len(take) // CFG.hop


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def strict_json(line: str) -> dict:
    """Parse one line as standard JSON (no NaN or Infinity)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


def check_jsonl(text: str, n_frames: int) -> list[dict]:
    lines = text.splitlines()
    assert len(lines) == n_frames, f"{len(lines)} lines for {n_frames} take frames"
    rows = [strict_json(line) for line in lines]
    for k, row in enumerate(rows):
        assert list(row) == POSITION_KEYS, row
        assert all(isinstance(row[key], float) for key in FLOAT_KEYS), row
        assert row["frame"] == k and isinstance(row["frame"], int)
        assert row["state"] in STATES
        assert 0.0 <= row["confidence"] <= 1.0
        assert row["ref_t"] >= 0.0
    t = np.array([row["t"] for row in rows])
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(t), FRAME_S, atol=2e-4)  # one line per hop (t rounded to 0.1 ms)
    return rows


def assert_one_error_line(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not exactly one line on stderr: {err!r}"
    assert err.startswith("matcher: ") and "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


def test_cli_jsonl_stdout(capsys, audio_pair) -> None:
    ref, take, n_frames = audio_pair
    rc, out, err = run(capsys, "follow", ref, "--input", take, "--pitch", "yin", "--jsonl", "-")
    assert rc == 0, err
    rows = check_jsonl(out, n_frames)  # nothing but the JSON lines on stdout
    # It followed: near the end of the reference at the end, mostly "following".
    assert rows[-1]["ref_t"] > sf.info(str(ref)).duration - 1.5
    assert np.mean([row["state"] == "following" for row in rows]) > 0.8


def test_cli_jsonl_file_and_summary(capsys, audio_pair, tmp_path: Path) -> None:
    ref, take, n_frames = audio_pair
    log = tmp_path / "take.jsonl"
    rc, out, err = run(capsys, "follow", ref, "--input", take, "--pitch", "yin", "--jsonl", log)
    assert rc == 0, err
    check_jsonl(log.read_text(), n_frames)
    assert "mean tempo deviation" in out
    assert "{" not in out  # the JSON went to the file only


def test_cli_summary_without_jsonl(capsys, audio_pair) -> None:
    ref, take, _ = audio_pair
    rc, out, err = run(capsys, "follow", ref, "--input", take, "--pitch", "yin")
    assert rc == 0, err
    assert "mean tempo deviation" in out
    # The take runs from 90 to 110 bpm against 100: about 0 % on average.
    pct = float(out.split("mean tempo deviation")[1].split("%")[0])
    assert -8.0 < pct < 8.0, out


def test_cli_stored_reference(capsys, audio_pair, tmp_path: Path) -> None:
    ref, take, n_frames = audio_pair
    store = tmp_path / "store"
    rc, _, err = run(capsys, "reference", "add", ref, "--name", "tune", "--pitch", "yin", "--store", store)
    assert rc == 0, err
    rc, out, err = run(capsys, "follow", "tune", "--input", take, "--store", store, "--jsonl", "-")
    assert rc == 0, err
    stored = check_jsonl(out, n_frames)
    # The same positions as with the audio file preprocessed on the fly.
    rc, out, err = run(capsys, "follow", ref, "--input", take, "--pitch", "yin", "--jsonl", "-")
    assert rc == 0, err
    assert stored == check_jsonl(out, n_frames)


def test_cli_unknown_reference(capsys, audio_pair, tmp_path: Path) -> None:
    _, take, _ = audio_pair
    rc, out, err = run(capsys, "follow", "no-such-tune", "--input", take, "--store", tmp_path / "store")
    assert_one_error_line(rc, err, "no-such-tune")
    assert out == ""


def skip_if_microphone() -> None:
    """Without --input, `follow` listens to the microphone where live input exists: a test
    of that path must not start listening on a machine that has one."""
    try:
        from matcher import live
    except ImportError:  # live input not there yet: `follow` refuses, no device needed
        return
    try:
        devices = live.input_devices()
    except Exception:  # no PortAudio, no sound server: nothing to listen to
        return
    if devices:
        pytest.skip(f"{len(devices)} audio input device(s) here: `follow` without --input would listen")


def assert_no_input_error(rc: int, err: str) -> None:
    """No --input and no microphone to fall back on: one clear line, exit 2."""
    assert_one_error_line(rc, err)
    # Either "live microphone input is not available yet; give the take with --input FILE"
    # or, once live input exists, that there is no input device.
    assert "--input" in err or "input device" in err, err


def test_cli_missing_input(capsys, audio_pair) -> None:
    skip_if_microphone()
    ref, _, _ = audio_pair
    rc, out, err = run(capsys, "follow", ref, "--pitch", "yin")
    assert_no_input_error(rc, err)
    assert out == ""


def test_cli_subprocess(audio_pair, tmp_path: Path) -> None:
    ref, take, n_frames = audio_pair
    env = {k: v for k, v in os.environ.items() if k not in ("MATCHER_HOME", "MATCHER_SPICE_MODEL")}

    def matcher(*args: object) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "matcher", *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)

    proc = matcher("follow", ref, "--input", take, "--pitch", "yin", "--jsonl", "-")
    assert proc.returncode == 0, proc.stderr
    check_jsonl(proc.stdout, n_frames)
    proc = matcher("follow", "no-such-tune", "--input", take, "--store", tmp_path / "store")
    assert_one_error_line(proc.returncode, proc.stderr, "no-such-tune")
    skip_if_microphone()
    proc = matcher("follow", ref, "--pitch", "yin")
    assert_no_input_error(proc.returncode, proc.stderr)


def test_followers_sharing_prepared_arrays_follow_alike(references: dict[str, Reference], fermata) -> None:
    """Many sessions of one reference share its arrays (read-only) and follow exactly as
    followers that prepared their own; arrays prepared with other settings are refused."""
    ref = references["melodic"]
    params = FollowParams()
    shared = PreparedReference.build(ref, CostWeights(), params)
    a, b = (Follower(ref, prepared=shared) for _ in range(2))
    alone = Follower(ref).steps(fermata[1])
    assert_tracks_equal(a.steps(fermata[1]), alone)
    assert_tracks_equal(b.steps(fermata[1]), alone)  # a's run left the shared arrays as they were
    assert a.ref_vectors is b.ref_vectors and not a.ref_vectors.flags.writeable
    with pytest.raises(ParameterError, match="do not match"):
        Follower(ref, FollowParams(hold_penalty=0.5), prepared=shared)
    with pytest.raises(ParameterError, match="do not match"):
        Follower(references["percussive"], prepared=shared)
