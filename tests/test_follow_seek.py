"""Follower.seek: the player says where they are (a tapped bar, "from the start"); the
follower restarts its band there at once and follows from there."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import Config
from matcher.beats import Beats
from matcher.errors import ParameterError
from matcher.features import FeatureStream, NoPitch, extract
from matcher.follow import Follower, Track
from matcher.reference import Reference
from matcher.synth import TempoMap, melody, render

CFG = Config(pitch_backend="yin")
BPM = 100.0
N_BARS = 12


def _reference_and_take() -> tuple[Reference, np.ndarray]:
    notes = melody(N_BARS, 4, seed=2)
    tempo = TempoMap((0.0, N_BARS * 4.0), (BPM, BPM))
    ref_audio = render(notes, tempo, CFG.sr, timbre=0)
    take_audio = render(notes, tempo, CFG.sr, timbre=1, noise_db=35.0, seed=4)
    numbers = np.arange(N_BARS * 4 + 1, dtype=float)
    beats = Beats.from_numbers(tempo.seconds(numbers), numbers, 4, "synth")
    ref = Reference("seek", extract([ref_audio], CFG, NoPitch(CFG)), beats, CFG, {"duration": len(ref_audio) / CFG.sr})
    return ref, take_audio


def _follow(follower: Follower, stream: FeatureStream, audio: np.ndarray) -> Track:
    parts = [follower.steps(stream.push(audio[i : i + CFG.hop])) for i in range(0, len(audio), CFG.hop)]
    return Track.concat([p for p in parts if len(p)])


@pytest.mark.parametrize(("played_to_bar", "seek_bar"), [(4, 9), (9, 3), (6, 1)])
def test_seek_moves_the_follower_at_once_and_it_follows_from_there(played_to_bar: int, seek_bar: int) -> None:
    ref, take = _reference_and_take()
    bar_s = 4 * 60.0 / BPM
    cut = int((played_to_bar - 1) * bar_s * CFG.sr)
    resume = int((seek_bar - 1) * bar_s * CFG.sr)
    stream = FeatureStream(CFG, NoPitch(CFG))
    follower = Follower(ref, lookahead_samples=stream.lookahead_samples)
    before = _follow(follower, stream, take[:cut])
    assert abs(before.ref_t[-1] - cut / CFG.sr) < 0.2  # it was following before the tap
    target = float(ref.beats.times[(seek_bar - 1) * 4])
    follower.seek(target)
    after = _follow(follower, stream, take[resume : resume + 6 * CFG.sr])
    assert follower.relocks == 0
    # At once: the first position after the tap is at the tapped bar.
    assert abs(after.ref_t[0] - target) <= 0.2
    # And from there on it follows the music played from that bar as well as a follower
    # that heard the take from its start does over the same bars (after the stream's
    # look-ahead, which still held audio from before the tap).
    elapsed = after.t - cut / CFG.sr  # take time since the tap
    settled = elapsed > 0.1
    err = np.abs(after.ref_t - (target + elapsed))[settled]
    plain_stream = FeatureStream(CFG, NoPitch(CFG))
    plain = _follow(Follower(ref, lookahead_samples=plain_stream.lookahead_samples), plain_stream, take)
    span = (plain.t >= target + 0.1) & (plain.t <= target + elapsed[-1])
    plain_err = np.abs(plain.ref_t - plain.t)[span]
    assert np.mean(err <= 0.2) >= np.mean(plain_err <= 0.2) - 0.05, (np.median(err), np.median(plain_err))
    assert np.median(err) <= 0.05


def test_seek_refuses_a_time_that_is_not_a_number() -> None:
    ref, _ = _reference_and_take()
    with pytest.raises(ParameterError, match="finite"):
        Follower(ref).seek(float("nan"))


def test_seek_beyond_the_ends_lands_on_them() -> None:
    ref, take = _reference_and_take()
    stream = FeatureStream(CFG, NoPitch(CFG))
    follower = Follower(ref, lookahead_samples=stream.lookahead_samples)
    follower.seek(-5.0)
    track = _follow(follower, stream, take[: CFG.sr])
    assert track.ref_t[0] <= 0.1
    follower.seek(1e6)
    assert follower.steps(stream.push(take[CFG.sr : CFG.sr + CFG.hop])).ref_t[-1] <= ref.duration


def test_seek_before_the_first_frame() -> None:
    """A player who taps bar 5 before playing starts there."""
    ref, take = _reference_and_take()
    bar_s = 4 * 60.0 / BPM
    stream = FeatureStream(CFG, NoPitch(CFG))
    follower = Follower(ref, lookahead_samples=stream.lookahead_samples)
    target = float(ref.beats.times[16])
    follower.seek(target)
    track = _follow(follower, stream, take[int(4 * bar_s * CFG.sr) : int(7 * bar_s * CFG.sr)])
    assert abs(track.ref_t[0] - target) <= 0.1
    assert track.frame[0] == 0 and len(track) == len(np.unique(track.frame))
    elapsed = track.t - track.t[0]
    assert np.median(np.abs(track.ref_t - (target + elapsed))[elapsed > 0.1]) <= 0.05
