"""The SPICE backend: loading through tensorflow-hub, calibration, framing, streaming.

Most tests use SavedModels the tests build (``spice_fake.py``); the last group uses the
real SPICE v1 model ($MATCHER_SPICE_MODEL, else ../shared/models/spice_1) and skips
when it is absent. TensorFlow loads once per module (fixtures are module-scoped).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import synth
from hypothesis import given, settings
from hypothesis import strategies as st
from spice_fake import build_fake_spice

from matcher import Config, FeatureStream, ModelError, ParameterError, extract, file_blocks
from matcher.features import spice as spice_module
from matcher.features.pitch import SPICE_ENV, PitchStream, hz_to_midi
from matcher.features.spice import CHECK_TONES_HZ, MAX_CHECK_CENTS, SPICE_HANDLE, SpiceModel, load_spice

pytest.importorskip("tensorflow_hub")

SR = 16000
HOP = 512
SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_SPICE = Path(os.environ.get(SPICE_ENV) or SHARED / "models" / "spice_1")
PIANO = Path(os.environ.get("MATCHER_TEST_DATA") or SHARED / "data") / "vienna_chopin_op10_3"


def cents(hz: np.ndarray, ref_hz: float | np.ndarray) -> np.ndarray:
    return 1200.0 * np.log2(np.asarray(hz, np.float64) / ref_hz)


def random_blocks(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``x`` cut into consecutive blocks whose sizes cycle through ``sizes``."""
    blocks, i, k = [], 0, 0
    while i < len(x):
        blocks.append(x[i : i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    return blocks


def assert_same_pitch(a_midi, a_conf, b_midi, b_conf, threshold: float) -> None:
    """Equal to float tolerance; a voicing flag may differ only where confidence sits on the threshold."""
    assert len(a_midi) == len(b_midi)
    np.testing.assert_allclose(a_conf, b_conf, rtol=1e-5, atol=1e-5)
    a_voiced, b_voiced = np.isfinite(a_midi), np.isfinite(b_midi)
    on_edge = np.abs(b_conf - threshold) < 1e-4
    assert np.all((a_voiced == b_voiced) | on_edge)
    both = a_voiced & b_voiced
    np.testing.assert_allclose(a_midi[both], b_midi[both], rtol=1e-5)


@pytest.fixture(scope="module")
def config() -> Config:
    return Config(pitch_backend="spice")


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of fake SPICE SavedModels, by kind."""
    root = tmp_path_factory.mktemp("fake_spice")
    return {
        "v1": build_fake_spice(root / "v1", version=1),
        "v2": build_fake_spice(root / "v2", version=2),
        "audio_input": build_fake_spice(root / "audio_input", version=2, input_name="audio"),
        "broken": build_fake_spice(root / "broken", broken=True),
        "no_default": build_fake_spice(root / "no_default", signature_key="pitch_only"),
        "no_pitch": build_fake_spice(root / "no_pitch", outputs=("f0", "uncertainty")),
    }


@pytest.fixture(scope="module")
def fake_v1(fakes: dict[str, Path], config: Config) -> SpiceModel:
    return load_spice(config, str(fakes["v1"]))


# -- loading ------------------------------------------------------------------------


def test_import_matcher_does_not_import_tensorflow() -> None:
    code = "import sys, matcher, matcher.features.spice; sys.exit('tensorflow' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_fake_loads_through_tensorflow_hub(fakes, config, monkeypatch) -> None:
    import tensorflow_hub

    calls = []
    real_load = tensorflow_hub.load
    monkeypatch.setattr(tensorflow_hub, "load", lambda handle, **kw: calls.append(handle) or real_load(handle, **kw))
    model = load_spice(config, str(fakes["v1"]))
    assert calls == [str(fakes["v1"])]
    assert (model.name, model.handle, model.hop) == ("spice", str(fakes["v1"]), HOP)
    assert model.input_name == "input"
    assert model.left_context >= 17 and model.right_context >= 17


@pytest.mark.parametrize(("user", "seen"), [(None, "0"), ("1", "1")])
def test_onednn_is_off_unless_the_user_chose(monkeypatch, user, seen) -> None:
    """TensorFlow's oneDNN kernels run SPICE at half the speed here: off before the import,
    unless the user's environment says otherwise."""
    if user is None:
        monkeypatch.delenv(spice_module.ONEDNN_ENV, raising=False)
    else:
        monkeypatch.setenv(spice_module.ONEDNN_ENV, user)
    spice_module.prepare_tensorflow()
    assert os.environ[spice_module.ONEDNN_ENV] == seen


@pytest.mark.parametrize("version", [1, 2])
def test_calibration_picks_the_models_version(fakes, config, version) -> None:
    model = load_spice(config, str(fakes[f"v{version}"]))
    assert model.calibration.name == f"v{version}"
    assert set(model.check_cents) == set(CHECK_TONES_HZ)
    assert max(abs(e) for e in model.check_cents.values()) < 5.0


def test_miscalibrated_model_is_refused(fakes, config) -> None:
    with pytest.raises(ModelError, match=r"fails its calibration check.*440 Hz -50"):
        load_spice(config, str(fakes["broken"]))


def test_other_input_name_is_used(fakes, config) -> None:
    model = load_spice(config, str(fakes["audio_input"]))
    assert model.input_name == "audio"
    hz, conf = model(synth.tone(440.0, 1.0, SR, harmonics=(1.0, 0.5)))
    assert np.all(np.abs(cents(hz[3:-3], 440.0)) < 2.0)
    assert np.all(conf[3:-3] > 0.9)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "does not exist"),
        ("not_a_model", "saved_model.pb"),
        ("no_default", "no 'serving_default' signature"),
        ("no_pitch", "lacks output"),
    ],
)
def test_unusable_handles_raise_model_error(fakes, config, tmp_path, kind, message) -> None:
    if kind == "missing":
        handle = tmp_path / "nowhere"
    elif kind == "not_a_model":
        handle = tmp_path / "folder"
        handle.mkdir()
        (handle / "notes.txt").write_text("not a model")
    else:
        handle = fakes[kind]
    with pytest.raises(ModelError, match=message) as info:
        load_spice(config, str(handle))
    assert str(handle) in str(info.value)
    assert info.value.__cause__ is not None or kind in ("no_default", "no_pitch")


def test_default_handle_is_the_public_address(config, monkeypatch) -> None:
    import tensorflow_hub

    seen = []

    def offline(handle, **kw):
        seen.append(handle)
        raise OSError("network unreachable")

    monkeypatch.setattr(tensorflow_hub, "load", offline)
    with pytest.raises(ModelError, match="network unreachable") as info:
        load_spice(config, None)
    assert seen == [SPICE_HANDLE] == ["https://tfhub.dev/google/spice/2"]
    assert SPICE_HANDLE in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize("changes", [{"sr": 22050}, {"hop": 384}, {"hop": 1024}])
def test_spice_needs_its_grid(config, changes) -> None:
    bad = config.replace(**changes)
    with pytest.raises(ParameterError, match=f"sr={bad.sr}, hop={bad.hop}"):
        load_spice(bad, "unused")


# -- framing and streaming, fake model ----------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 32, 33, 511, 512, 513, 1024, 5000])
def test_one_frame_per_hop_any_length(fake_v1, n) -> None:
    hz, conf = fake_v1(np.full(n, 0.1, np.float32))
    assert len(hz) == len(conf) == 1 + n // HOP
    assert hz.dtype == conf.dtype == np.float32


def test_frames_are_centred_on_hop_multiples(fake_v1) -> None:
    # A note change at sample 20*HOP: frames well before read the first note, well after the second.
    x = np.concatenate([synth.tone(220.0, 20 * HOP / SR, SR, fade=0), synth.tone(330.0, 20 * HOP / SR, SR, fade=0)])
    hz, _ = fake_v1(x)
    assert np.all(np.abs(cents(hz[3:17], 220.0)) < 5) and np.all(np.abs(cents(hz[23:38], 330.0)) < 5)
    assert abs(cents(hz[18], 220.0)) < 5 and abs(cents(hz[22], 330.0)) < 5


@pytest.mark.parametrize("hop", [HOP, HOP // 2])  # SPICE's grid, and a finer feature grid
@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=30))
def test_fake_stream_equals_offline(fake_v1, config, hop, sizes) -> None:
    config = config.replace(hop=hop)
    x = np.concatenate([synth.feature_signal(SR), synth.melody([(57, 0.3), (76, 0.2)], SR, gap=0.05)[0]])
    offline = extract([x], config, fake_v1)
    stream = FeatureStream(config, fake_v1)
    parts = [stream.push(b) for b in random_blocks(x, sizes)]
    settled = sum(len(p) for p in parts)
    assert settled >= len(offline) - (fake_v1.right_context + 2) * HOP // config.hop  # pushes return settled frames
    parts.append(stream.flush())
    midi = np.concatenate([p.midi for p in parts])
    conf = np.concatenate([p.confidence for p in parts])
    assert len(midi) == len(offline) == 1 + len(x) // config.hop
    assert_same_pitch(midi, conf, offline.midi, offline.confidence, fake_v1.voicing_threshold)


# -- the real SPICE model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spice(config: Config) -> SpiceModel:
    handle = str(REAL_SPICE)
    if "://" not in handle and not (REAL_SPICE / "saved_model.pb").is_file():
        pytest.skip(f"no SPICE model at {REAL_SPICE} (set {SPICE_ENV} to a SavedModel folder)")
    try:
        return load_spice(config, handle)
    except ModelError as exc:
        if "://" in handle:
            pytest.skip(f"SPICE model {handle} not reachable: {exc}")
        raise


def test_real_model_calibrates(spice) -> None:
    assert spice.calibration is not None
    assert max(abs(e) for e in spice.check_cents.values()) <= MAX_CHECK_CENTS
    assert abs(spice.check_cents[440.0]) < 5.0


@pytest.mark.parametrize("n", [0, 1, 32, 100, 511, 512, 1000])
def test_real_model_short_inputs(spice, n) -> None:
    hz, conf = spice(np.zeros(n, np.float32))
    assert len(hz) == len(conf) == 1 + n // HOP


def test_real_440_tone_through_file_pipeline(spice, config, tmp_path) -> None:
    x = synth.tone(440.0, 2.0, 44100, amp=0.5, harmonics=(1.0, 0.5, 0.3))
    path = synth.write(tmp_path / "a440.wav", synth.to_channels(x, 2, (1.0, 0.8)), 44100, subtype="PCM_16")
    frames = extract((block for block, _ in file_blocks(path, config.sr)), config, spice)
    inner = frames[3:-3]
    assert np.mean(inner.voiced) > 0.9
    assert np.all(np.abs(100 * (inner.midi[inner.voiced] - 69.0)) < 20.0)


def test_real_melody_within_20_cents(spice, config) -> None:
    notes = [(45, 0.5), (52, 0.4), (60, 0.5), (64, 0.4), (67, 0.45), (72, 0.4), (76, 0.5), (81, 0.4)]
    x, onsets = synth.melody(notes, SR, amp=0.4, gap=0.12)
    frames = extract([x], config, spice)
    t = np.arange(len(frames)) * config.hop / SR
    for (midi, seconds), onset in zip(notes, onsets, strict=True):
        inside = (t >= onset + 0.07) & (t <= onset + seconds - 0.07)  # away from the note's edges
        voiced = inside & frames.voiced
        assert voiced.sum() >= 0.8 * inside.sum(), f"note {midi}: {voiced.sum()} of {inside.sum()} frames voiced"
        err = 100 * (frames.midi[voiced] - midi)
        assert np.all(np.abs(err) < 20.0), f"note {midi}: errors {np.round(err, 1)} cents"
    ends = np.array([onset + seconds for (_, seconds), onset in zip(notes, onsets, strict=True)])
    in_gap = np.any((t[:, None] > ends + 0.05) & (t[:, None] < ends + 0.07), axis=1)
    assert in_gap.any() and not frames.voiced[in_gap].any()  # digital silence between notes is gated


def test_real_noise_is_unvoiced_tone_is_voiced(spice, rng) -> None:
    _, noise_conf = spice(synth.noise(3.0, SR, rng, amp=0.1))
    _, tone_conf = spice(synth.tone(261.63, 3.0, SR, harmonics=(1.0, 0.5, 0.25)))
    assert np.mean(noise_conf >= spice.voicing_threshold) < 0.1
    assert np.mean(tone_conf >= spice.voicing_threshold) > 0.95


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """20 s of piano from the shared data, else a synthetic melody."""
    from matcher import read_audio

    path = PIANO / "Chopin_op10_no3_p01_fluidsynth.flac"
    if path.is_file():
        return read_audio(path, SR)[2 * SR : 22 * SR]
    notes = [(48 + (7 * i) % 29, 0.3 + 0.1 * (i % 3)) for i in range(40)]
    return synth.melody(notes, SR, gap=0.03)[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_real_pitch_stream_equals_one_model_call(spice, music, seed) -> None:
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(1, 3 * 16000, 50)) if seed else [512, 160, 1000, 37]  # files, then live-like
    stream = PitchStream(spice)
    parts = [stream.push(b) for b in random_blocks(music, sizes)]
    parts.append(stream.flush())
    midi = np.concatenate([p[0] for p in parts])
    conf = np.concatenate([p[1] for p in parts])
    hz, whole_conf = spice(music)
    np.testing.assert_allclose(midi, hz_to_midi(hz), rtol=1e-5)
    np.testing.assert_allclose(conf, whole_conf, rtol=1e-5, atol=1e-5)


def test_real_feature_stream_equals_offline(spice, config, music) -> None:
    offline = extract([music], config, spice)
    sizes = list(np.random.default_rng(7).integers(100, 20000, 40))
    streamed = extract(random_blocks(music, sizes), config, spice)
    assert_same_pitch(streamed.midi, streamed.confidence, offline.midi, offline.confidence, spice.voicing_threshold)


@pytest.mark.slow
def test_tensorflow_start_up_logs_stay_off_stderr_unless_verbose(tmp_path: Path) -> None:
    """`matcher reference add --pitch spice` prints nothing but its own lines on stderr
    (TensorFlow, absl and CUDA log their start-up to fd 2); --verbose shows those logs."""
    if not (REAL_SPICE / "saved_model.pb").is_file():
        pytest.skip(f"no SPICE model at {REAL_SPICE} (set {SPICE_ENV} to a SavedModel folder)")
    audio = synth.write(tmp_path / "tone.wav", synth.tone(440.0, 2.0, 16000, amp=0.3), 16000)
    drop = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "MATCHER_VERBOSE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env[SPICE_ENV] = str(REAL_SPICE)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])

    def add(*options: str, store: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "matcher", *options, "reference", "add", str(audio), "--pitch", "spice"]
        return subprocess.run([*args, "--store", str(tmp_path / store)], capture_output=True, text=True, env=env)

    quiet = add(store="quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and "stored tone" in quiet.stdout and "pitch spice" in quiet.stdout
    verbose = add("--verbose", store="verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stderr.strip(), "with --verbose TensorFlow's start-up lines show (nothing to silence otherwise)"
