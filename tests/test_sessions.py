"""SessionGroup: many live sessions of one reference served together follow exactly as
each would alone (FeatureStream without pitch + Follower), and own only small state."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import Config
from matcher.beats import Beats
from matcher.features import FeatureStream, NoPitch, extract
from matcher.follow import Follower, SessionGroup, Track
from matcher.reference import Reference
from matcher.synth import TempoMap, melody, percussion, render

CFG = Config(pitch_backend="yin")


def steady(n_beats: float, bpm: float) -> TempoMap:
    return TempoMap((0.0, n_beats), (bpm, bpm))


@pytest.fixture(scope="module")
def reference() -> Reference:
    notes = melody(8, 4, seed=2)
    n_beats = max(n.beat + n.length for n in notes)
    frames = extract([render(notes, steady(n_beats, 100.0), CFG.sr)], CFG, NoPitch(CFG))
    numbers = np.arange(np.floor(n_beats) + 1)
    return Reference("melody", frames, Beats.from_numbers(numbers * 0.6, numbers, 4, "synth"), CFG, {})


@pytest.fixture(scope="module")
def takes() -> list[np.ndarray]:
    """Three takes: slower and faster renderings in another timbre, and percussion (a
    take that does not match at all must not disturb the others)."""
    notes = melody(8, 4, seed=2)
    n_beats = max(n.beat + n.length for n in notes)
    out = [
        render(notes, steady(n_beats, bpm), CFG.sr, timbre=1, noise_db=30.0, seed=k) for k, bpm in enumerate((90, 112))
    ]
    drums = percussion(4, seed=3)
    out.append(render(drums, steady(max(n.beat + n.length for n in drums), 120.0), CFG.sr))
    return [a.astype(np.float32) for a in out]


def alone(reference: Reference, take: np.ndarray) -> Track:
    stream = FeatureStream(CFG, NoPitch(CFG))
    follower = Follower(reference, lookahead_samples=stream.lookahead_samples)
    parts = [follower.steps(stream.push(take[k : k + 1000])) for k in range(0, len(take), 1000)]
    return Track.concat([*parts, follower.steps(stream.flush())])


def assert_same(a: Track, b: Track) -> None:
    """The same positions, to float rounding: the group's vectorised features equal a
    stream's only so far (sums in another order), and a follower's discrete choice (a level
    step, an argmin between near-equal cells) can turn that into a small difference of
    position. Measured here 0.05 ms at most; a take pushed whole diverges by one frame at
    some frame."""
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_allclose(a.ref_t, b.ref_t, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(a.lost, b.lost)


def test_group_follows_each_session_as_alone(reference: Reference, takes: list[np.ndarray]) -> None:
    """Sessions joining at different times, pushing blocks of random sizes (some hops with
    nothing from a session), give the positions each take gets on its own."""
    rng = np.random.default_rng(7)
    group = SessionGroup(reference)
    ids: list[int] = []
    got: dict[int, list[Track]] = {}
    cursor = [0] * len(takes)
    joins = [0, 3, 9]  # pushes after which each session joins
    for push in range(100_000):
        for join in joins:
            if push == join:
                ids.append(group.add())
                got[ids[-1]] = []
        blocks = {}
        for k, session in enumerate(ids):
            if cursor[k] < len(takes[k]) and rng.random() < 0.8:
                n = int(rng.integers(1, 900))
                blocks[session] = takes[k][cursor[k] : cursor[k] + n]
                cursor[k] += n
        for session, track in group.push(blocks).items():
            got[session].append(track)
        if len(ids) == len(takes) and all(c >= len(t) for c, t in zip(cursor, takes, strict=True)):
            break
    for k, session in enumerate(ids):
        got[session].append(group.finish(session))
        assert_same(Track.concat(got[session]), alone(reference, takes[k]))
    assert len(group) == 0


def test_sessions_share_the_reference_and_own_small_state(reference: Reference) -> None:
    group = SessionGroup(reference)
    a, b = group.add(), group.add()
    fa, fb = group.follower(a), group.follower(b)
    assert fa.ref_vectors is fb.ref_vectors is group.prepared.ref_vectors
    assert fa._D is not fb._D
    group.remove(a)
    with pytest.raises(KeyError):
        group.push({a: np.zeros(256, np.float32)})
    assert len(group) == 1 and repr(group) == "SessionGroup('melody', sessions=1)"


def test_finish_without_audio_gives_an_empty_track(reference: Reference) -> None:
    group = SessionGroup(reference)
    session = group.add()
    assert group.push({session: np.zeros(10, np.float32)}) == {}
    tail = group.finish(session)
    assert len(tail) == 1  # 10 samples: one frame, settled only at the end of the stream
