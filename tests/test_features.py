"""FeatureStream: settled frames do not depend on block sizes; YIN pitch, level gate,
onset flux and chroma read what textbook signals hold."""

from __future__ import annotations

import numpy as np
import pytest
import synth
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import Config, FeatureStream, Frames, ParameterError, YinModel, extract
from matcher.features import hz_to_midi, resolve_backend

CONFIG = Config(pitch_backend="yin")
SR = CONFIG.sr
HOP = CONFIG.hop
SIGNAL = synth.feature_signal(SR, seed=3)  # ~1.5 s: tones, clicks, noise, silence, quiet tail

# Values are compared to about 1e-5 relative. Flux and onset are differences of dB levels
# near 100 dB, whose float32 resolution is ~1e-5 dB: they get an absolute floor too.
ATOL = {"confidence": 1e-6, "db": 1e-4, "onset": 1e-4, "flux": 1e-4, "chroma": 1e-6}


def assert_frames_equal(a: Frames, b: Frames) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(np.isnan(a.midi), np.isnan(b.midi), err_msg="voicing differs")
    np.testing.assert_allclose(a.midi, b.midi, rtol=1e-5, equal_nan=True, err_msg="midi")
    for name, atol in ATOL.items():
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5, atol=atol, err_msg=name)


def split(x: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    return np.split(x, sorted(cuts))


@pytest.fixture(scope="module")
def offline(yin_config: Config, yin_model: YinModel) -> Frames:
    return extract([SIGNAL], yin_config, yin_model)


def test_test_signal_exercises_every_feature(offline: Frames) -> None:
    """Otherwise the block-size property would prove little."""
    assert 0.2 < offline.voiced.mean() < 0.9
    assert offline.onset.max() > 10 and (offline.onset == 0).any()
    assert offline.db.min() < -90 and offline.db.max() > -20
    assert ((offline.db < -50) & (offline.db > -90)).any()  # the quiet tail, below the gate
    assert offline.chroma.max() > 0


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, len(SIGNAL)), min_size=1, max_size=40))
def test_settled_frames_do_not_depend_on_block_sizes(cuts: list[int]) -> None:
    # hypothesis and function-scoped fixtures do not mix: build what is needed here
    config = Config(pitch_backend="yin")
    whole = _offline_cached(config)
    streamed = extract(split(SIGNAL, cuts), config, YinModel(config))
    assert_frames_equal(streamed, whole)


_CACHE: dict[Config, Frames] = {}


def _offline_cached(config: Config) -> Frames:
    if config not in _CACHE:
        _CACHE[config] = extract([SIGNAL], config, YinModel(config))
    return _CACHE[config]


@pytest.mark.parametrize("block", [1, 37, HOP - 1, HOP, HOP + 1, 3000])
def test_fixed_block_sizes(yin_config: Config, yin_model: YinModel, block: int) -> None:
    x = SIGNAL[: int(0.4 * SR)] if block == 1 else SIGNAL
    whole = extract([x], yin_config, yin_model)
    blocks = [x[i : i + block] for i in range(0, len(x), block)]
    assert_frames_equal(extract(blocks, yin_config, yin_model), whole)


def test_push_returns_settled_frames_promptly(yin_config: Config, yin_model: YinModel, rng) -> None:
    """Frames come out while audio streams in, no further behind the newest sample than
    the longest analysis half-window (YIN's, the FFT's) plus one frame, and together with
    flush they equal the offline frames."""
    c = yin_config
    max_lag = -(-max(c.yin_frame, c.n_fft) // 2 // c.hop) + 1
    stream = FeatureStream(yin_config, yin_model)
    parts, n = [], 0
    for block in split(SIGNAL, list(rng.integers(0, len(SIGNAL), 25))):
        parts.append(stream.push(block))
        n += len(block)
        emitted = sum(len(p) for p in parts)
        assert 1 + n // HOP - emitted <= max_lag, f"after {n} samples only {emitted} frames settled"
    parts.append(stream.flush())
    assert_frames_equal(Frames.concat(parts, yin_config.n_bands), extract([SIGNAL], yin_config, yin_model))


@pytest.mark.parametrize("n", [0, 1, 511, 512, 513, 2047, 2048, 5000, 16000])
def test_frame_count(yin_config: Config, yin_model: YinModel, n: int) -> None:
    x = synth.tone(440.0, n / SR, SR) if n else np.zeros(0, np.float32)
    frames = extract([x[: n // 3], x[n // 3 :]], yin_config, yin_model)
    assert len(frames) == 1 + n // HOP
    widths = {"midi": None, "confidence": None, "db": None, "onset": None, "flux": yin_config.n_bands, "chroma": 12}
    for name, width in widths.items():
        arr = getattr(frames, name)
        assert arr.shape == ((len(frames),) if width is None else (len(frames), width)), name
        assert arr.dtype == np.float32, name


def test_yin_model_grid(yin_model: YinModel) -> None:
    hz, conf = yin_model(synth.tone(440.0, 0.5, SR))
    assert len(hz) == len(conf) == 1 + int(0.5 * SR) // HOP
    assert np.all((conf >= 0) & (conf <= 1))


# -- pitch ----------------------------------------------------------------------------


def cents(midi: np.ndarray, target: float) -> np.ndarray:
    return 100.0 * np.abs(midi - target)


def test_a440_reads_midi_69(yin_config: Config, yin_model: YinModel) -> None:
    frames = extract([synth.tone(440.0, 1.0, SR, harmonics=(1.0, 0.5, 0.3))], yin_config, yin_model)
    assert frames.voiced.mean() > 0.9
    assert cents(frames.midi[frames.voiced], 69.0).max() < 20
    assert frames.confidence[frames.voiced].min() >= yin_model.voicing_threshold


def test_melody_of_known_notes(yin_config: Config, yin_model: YinModel) -> None:
    notes = [45, 52, 57, 60, 64, 69, 72, 76, 81, 88]
    x, onsets = synth.melody([(m, 0.3) for m in notes], SR, gap=0.05)
    frames = extract([x], yin_config, yin_model)
    t = np.arange(len(frames)) * HOP / SR
    for midi, t0 in zip(notes, onsets, strict=True):
        inner = (t > t0 + 0.08) & (t < t0 + 0.22)  # clear of the note's edges
        assert frames.voiced[inner].all(), f"MIDI {midi} not voiced"
        assert cents(frames.midi[inner], midi).max() < 20, f"MIDI {midi} read as {frames.midi[inner]}"


def test_silence_is_unvoiced(yin_config: Config, yin_model: YinModel) -> None:
    frames = extract([np.zeros(SR, np.float32)], yin_config, yin_model)
    assert np.isnan(frames.midi).all()
    assert (frames.confidence == 0).all()
    assert not frames.voiced.any()
    assert (frames.onset == 0).all()


def test_quiet_tone_below_gate_is_unvoiced(yin_config: Config, yin_model: YinModel) -> None:
    x = synth.tone(440.0, 1.0, SR, amp=10 ** (-60 / 20))  # about -63 dBFS, gate at -50
    frames = extract([x], yin_config, yin_model)
    assert np.isnan(frames.midi).all() and (frames.confidence == 0).all()
    loud = extract([x * 1000], yin_config, yin_model)  # the same tone, audible: voiced
    assert loud.voiced.mean() > 0.9


def test_noise_is_mostly_unvoiced(yin_config: Config, yin_model: YinModel, rng) -> None:
    frames = extract([synth.noise(1.0, SR, rng, amp=0.3)], yin_config, yin_model)
    assert frames.voiced.mean() < 0.2


def test_hz_to_midi() -> None:
    np.testing.assert_allclose(hz_to_midi(np.array([440.0, 880.0, 261.6255653])), [69.0, 81.0, 60.0], atol=1e-6)
    assert np.isnan(hz_to_midi(np.array([0.0, -1.0]))).all()


# -- onsets and chroma ------------------------------------------------------------------


def peaks(onset: np.ndarray, threshold: float) -> np.ndarray:
    """Local maxima above threshold."""
    inner = (onset[1:-1] > threshold) & (onset[1:-1] >= onset[:-2]) & (onset[1:-1] > onset[2:])
    return np.flatnonzero(inner) + 1


@pytest.mark.parametrize("bpm", [90, 137])
def test_onset_peaks_at_clicks(yin_config: Config, yin_model: YinModel, bpm: float) -> None:
    """One onset peak per click, in the first frame whose window (centred, n_fft wide)
    takes in the click: the one or the next one after the frame centred ``n_fft / 2``
    ahead of the click. (Against digital silence the first window that touches a click
    makes the largest jump in dB, so onset frames lead the click by up to half a window,
    32 ms at n_fft 1024.)"""
    x, times = synth.click_train(bpm, 5.0, SR, start=0.31)
    frames = extract([x], yin_config, yin_model)
    found = peaks(frames.onset, 0.25 * frames.onset.max())
    assert len(found) == len(times)
    lead = yin_config.n_fft / 2 / SR - HOP / SR  # the middle of those two frames
    np.testing.assert_allclose(found * HOP / SR, times - lead, atol=HOP / SR)
    assert np.all(found * HOP / SR <= times + HOP / SR)  # never late


def test_onset_is_positive_flux_mean(offline: Frames) -> None:
    assert (offline.flux >= 0).all()
    np.testing.assert_allclose(offline.onset, offline.flux.mean(axis=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("midi", [45, 52, 60, 61, 66, 71, 74])
def test_chroma_peaks_at_pitch_class(yin_config: Config, yin_model: YinModel, midi: int) -> None:
    x = synth.tone(float(synth.midi_to_hz(midi)), 0.5, SR, harmonics=(1.0, 0.4, 0.2))
    frames = extract([x], yin_config, yin_model)
    assert int(np.argmax(frames.chroma.sum(axis=0))) == midi % 12  # C = 0


def test_no_chroma_when_disabled(yin_model: YinModel) -> None:
    config = Config(pitch_backend="yin", chroma=False)
    frames = extract([synth.tone(440.0, 0.5, SR)], config, YinModel(config))
    assert frames.chroma.shape == (len(frames), 12) and not frames.chroma.any()


# -- frames and stream API ------------------------------------------------------------


def test_frames_slice_concat_arrays(offline: Frames) -> None:
    halves = [offline[:10], offline[10:]]
    assert_frames_equal(Frames.concat(halves, 84), offline)
    assert_frames_equal(Frames.from_arrays(offline.arrays()), offline)
    assert len(Frames.concat([], 84)) == 0
    assert repr(offline).startswith(f"Frames(n={len(offline)}")


def test_stream_refuses_stereo_and_mismatched_model(yin_config: Config, yin_model: YinModel) -> None:
    stream = FeatureStream(yin_config, yin_model)
    with pytest.raises(ParameterError, match="mono"):
        stream.push(np.zeros((100, 2), np.float32))

    class Other(YinModel):
        name = "spice"

    with pytest.raises(ParameterError, match="pitch model"):
        FeatureStream(yin_config, Other(yin_config))


def test_resolve_backend_yin_and_bad_choice() -> None:
    model = resolve_backend("yin")
    assert model.name == "yin" and isinstance(model, YinModel)
    with pytest.raises(ParameterError, match=r"bogus.*auto, spice, yin"):
        resolve_backend("bogus")


def test_config_validation() -> None:
    with pytest.raises(ParameterError, match="hop"):
        Config(hop=0)
    with pytest.raises(ParameterError, match="bogus"):
        Config(pitch_backend="bogus")
    with pytest.raises(ParameterError, match="fmax"):
        Config(fmax=9000.0)
    with pytest.raises(ParameterError, match="noise_floor must be"):
        Config(noise_floor=-1.0)
    with pytest.raises(ParameterError, match="noise_floor_rise_db"):
        Config(noise_floor_rise_db=float("nan"))
    with pytest.raises(ParameterError, match="unknown configuration keys: nope"):
        Config.from_dict({"nope": 1})
    c = Config(pitch_backend="yin")
    assert Config.from_dict(c.to_dict()) == c
    assert c.incompatibility(c) is None
    assert f"hop={2 * c.hop}" in c.incompatibility(c.replace(hop=2 * c.hop))


@pytest.mark.parametrize("spool", [False, True])
@pytest.mark.parametrize("expected", [0, 1, 7, 10_000])
def test_extract_into_arrays_allocated_once_gives_the_same_frames(
    yin_config: Config, yin_model: YinModel, offline: Frames, expected: int, spool: bool, tmp_path
) -> None:
    """Frames collected into arrays sized for the count expected (too few: they grow; too
    many: the rest is cut off) are the frames collected block by block; spooled to disk,
    the 2-D arrays come back mapped read-only, and no file is left in the folder."""
    from matcher.features.stream import FrameSink

    sink = FrameSink(yin_config.n_bands, expected, tmp_path if spool else None)
    sink.add(offline[:0])  # a push that settled no frame
    for k in range(0, len(offline), 5):
        sink.add(offline[k : k + 5])
    frames = sink.frames()
    for name, a in frames.arrays().items():
        assert a.dtype == offline.arrays()[name].dtype, name
        np.testing.assert_array_equal(a, offline.arrays()[name])
    assert frames.flux.flags.writeable is not spool
    assert list(tmp_path.iterdir()) == []


def test_extract_spooled_gives_the_same_frames(yin_config: Config, yin_model: YinModel, tmp_path) -> None:
    from matcher.spool import spooled

    with spooled(tmp_path / "spool"):
        frames = extract(split(SIGNAL, [5000, 12345]), yin_config, yin_model)
    assert not frames.chroma.flags.writeable  # mapped
    for name, a in extract(split(SIGNAL, [5000, 12345]), yin_config, yin_model).arrays().items():
        np.testing.assert_array_equal(frames.arrays()[name], a, err_msg=name)
    assert list((tmp_path / "spool").iterdir()) == []


def test_filterbanks_are_kept_between_processes(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Made with librosa once, then read from the cache folder: the same float32 arrays; a
    damaged cache file is made again, an unwritable folder only costs the making."""
    import librosa

    from matcher.features import spectral

    config = Config(pitch_backend="yin")
    monkeypatch.setenv(spectral.CACHE_ENV, str(tmp_path / "cache"))
    made = spectral._filterbanks(config)
    np.testing.assert_array_equal(
        made["mel"],
        librosa.filters.mel(
            sr=config.sr, n_fft=config.n_fft, n_mels=config.n_bands, fmin=config.fmin, fmax=config.fmax
        ).astype(np.float32),
    )
    np.testing.assert_array_equal(made["chroma"], librosa.filters.chroma(sr=config.sr, n_fft=config.n_fft))
    (cached,) = (tmp_path / "cache").glob("filterbanks-*.npz")
    monkeypatch.setattr(librosa.filters, "mel", lambda **kw: pytest.fail("made again"))
    again = spectral._filterbanks(config)
    assert all(np.array_equal(again[k], made[k]) and again[k].dtype == np.float32 for k in made)
    monkeypatch.undo()
    cached.write_bytes(b"PK damaged")
    monkeypatch.setenv(spectral.CACHE_ENV, str(tmp_path / "cache"))
    np.testing.assert_array_equal(spectral._filterbanks(config)["mel"], made["mel"])
    assert np.load(cached)["mel"].shape == made["mel"].shape  # written again
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(spectral.CACHE_ENV, str(tmp_path / "file" / "cache"))  # cannot be made
    np.testing.assert_array_equal(spectral._filterbanks(config)["mel"], made["mel"])


def _decaying_melody(seconds_per_note: float = 0.3, notes: int = 16) -> np.ndarray:
    """Plucked notes that ring down 60 dB into a faint noise floor: their decays sink
    towards the flux floor."""
    rng = np.random.default_rng(5)
    parts = []
    for k in range(notes):
        x = synth.tone(float(synth.midi_to_hz(60 + 2 * (k % 7))), seconds_per_note, SR, amp=0.5)
        parts.append(x * np.exp(-np.arange(len(x)) / SR / 0.05).astype(np.float32))
    music = np.concatenate(parts)
    return music + synth.noise(len(music) / SR, SR, rng, 3e-4)


def test_flux_does_not_depend_on_the_recording_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """A take recorded 20 dB quieter than its reference makes the flux the reference made:
    the floor under the log follows each recording's loud level. With the floor fixed,
    the quiet recording's decays sink into it and its flux differs."""
    from matcher.features import NoPitch, spectral

    x = _decaying_melody()
    settled = slice(round(1.0 * SR / HOP), None)  # once the loud level has settled

    def flux_gap() -> float:
        loud = extract([x], CONFIG, NoPitch(CONFIG)).flux[settled]
        quiet = extract([x * np.float32(0.1)], CONFIG, NoPitch(CONFIG)).flux[settled]
        return float(np.mean(np.abs(loud - quiet)) / np.mean(loud))

    follows = flux_gap()
    monkeypatch.setattr(spectral, "track_loud_level", lambda db, *args: np.full(len(db), np.nan))
    fixed = flux_gap()
    assert follows < 0.03 and fixed > 0.2, (follows, fixed)  # measured: 0.010 and 0.54


def test_loud_level_is_tracked_alike_at_any_gain_and_after_a_rooms_noise() -> None:
    """The level the flux floor follows moves dB for dB with the recording's gain (no
    absolute gate but digital silence's), and two seconds of a room's noise before the
    music delay it by under 1.5 s."""
    from matcher.features import spectral as S
    from matcher.features.level import track_loud_level

    rng = np.random.default_rng(0)
    music = -25.0 + 6.0 * np.sin(np.arange(2000) / 40.0) + rng.normal(0.0, 2.0, 2000)  # frame levels [dB]

    def track(db: np.ndarray) -> np.ndarray:
        state = np.array([np.nan, 0.0])
        args = (S.LOUD_START_DB, S.LOUD_BELOW_DB, S.LOUD_WARM_FRAMES, S.LOUD_WARM_UP_DB, S.LOUD_FAR_DB)
        return track_loud_level(db, state, S.LOUD_UP_DB, S.LOUD_DOWN_DB, *args)

    np.testing.assert_allclose(track(music - 30.0), track(music) - 30.0, atol=1e-9)
    noise = -70.0 + rng.normal(0.0, 1.0, round(2.0 / CONFIG.frame_seconds))
    after_noise = track(np.r_[noise, music])[len(noise) :]
    late = round(1.5 / CONFIG.frame_seconds)
    assert np.max(np.abs(after_noise[late:] - track(music)[late:])) < 0.5  # measured: 0.1


def test_room_noise_makes_little_flux_and_notes_stand_out_more() -> None:
    """Each band's room noise joins the flux floor (``Config.noise_floor``): in a room's
    noise alone the onset strength falls by more than a third, and the notes' onsets stand
    out from it half as much again. Without it the noise's frame-to-frame wander reads as
    a stream of small onsets."""
    from matcher.features import NoPitch

    parts = []
    for k in range(16):
        x = synth.tone(float(synth.midi_to_hz(60 + 2 * (k % 7))), 0.3, SR, amp=0.5, harmonics=(1.0, 0.5, 0.3, 0.2))
        parts.append(x * np.exp(-np.arange(len(x)) / SR / 0.05).astype(np.float32))
    melody = np.concatenate(parts)
    x = synth.noise(3.0 + len(melody) / SR, SR, np.random.default_rng(7), 0.01)  # -40 dBFS
    x[3 * SR :] += melody
    fs = CONFIG.frame_seconds
    alone = slice(round(1.0 / fs), round(3.0 / fs))
    starts = np.round((3.0 + 0.3 * np.arange(16)) / fs).astype(int)

    def strengths(config: Config) -> tuple[float, float]:
        onset = extract([x], config, NoPitch(config)).onset
        return float(onset[alone].mean()), float(np.mean([onset[s - 2 : s + 3].max() for s in starts]))

    (noise_on, peaks_on), (noise_off, peaks_off) = strengths(CONFIG), strengths(CONFIG.replace(noise_floor=0.0))
    assert noise_on < 0.65 * noise_off, (noise_on, noise_off)  # measured: 0.59 against 1.0
    assert peaks_on / noise_on > 1.5 * peaks_off / noise_off, (peaks_on, peaks_off)  # measured: 10.4 against 6.8


def test_noise_floor_is_the_lowest_energy_rising_slowly_and_skips_digital_silence() -> None:
    """:func:`~matcher.features.level.track_noise_floor` sits at a band's lowest energy,
    rises by at most its factor a frame, leaves digital silence out, and carries its
    state between calls (any chunking gives the same floor)."""
    from matcher.features.level import SILENCE_DB, track_noise_floor

    rng = np.random.default_rng(3)
    power = rng.uniform(1.0, 2.0, (300, 2))
    power[100:150] = 0.0  # digital silence
    power[200:] *= 100.0  # the room gets 20 dB louder
    db = np.where(power[:, 0] > 0, -40.0, -120.0)
    up = 1.01

    def track(chunks: int) -> np.ndarray:
        state = np.full(2, np.inf)
        parts = zip(np.array_split(power, chunks), np.array_split(db, chunks), strict=True)
        return np.concatenate([track_noise_floor(p, d, state, up, SILENCE_DB) for p, d in parts])

    floor = track(1)
    np.testing.assert_array_equal(track(7), floor)
    assert np.all(floor[:200] <= power[:200].max()) and np.all(floor[1:100] <= power[1:100].min() * up**100)
    np.testing.assert_array_equal(floor[100:150], np.repeat(floor[99:100], 50, axis=0))  # silence: held
    assert np.all(floor[1:] <= floor[:-1] * up + 1e-12)  # never faster than the factor
    assert floor[-1, 0] == pytest.approx(floor[199, 0] * up**100, rel=1e-9)  # rising towards the louder room
