"""SPICE pitch backend: Google's self-supervised pitch estimator through tensorflow-hub.

Gfeller, Frank, Roblek, Sharifi, Tagliasacchi & Velimirović (2020), "SPICE:
Self-supervised pitch estimation", IEEE/ACM TASLP 28.

The model is loaded with ``tensorflow_hub.load(handle)``: the public TF Hub address by
default, or a local SavedModel folder. Its ``serving_default`` signature takes mono
float32 samples at 16 kHz and returns ``pitch`` (a number in [0, 1]) and
``uncertainty`` once per 512 samples. How ``pitch`` maps to Hz differs between model
versions, so the mapping is chosen at load time by running the model on synthetic
tones, and a model that reads them wrongly is refused.

TensorFlow is imported only when a model is loaded, never by ``import matcher``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ModelError, ParameterError

#: The public TF Hub address of SPICE v2, loaded when no handle is given.
SPICE_HANDLE = "https://tfhub.dev/google/spice/2"

#: SPICE's native grid: 16 kHz input, one output per 512 samples (32 ms).
SPICE_SR = 16000
SPICE_HOP = 512

#: Outputs the ``serving_default`` signature must have.
SPICE_OUTPUTS = ("pitch", "uncertainty")


@dataclass(frozen=True)
class Calibration:
    """Linear map from SPICE's ``pitch`` output to semitones above 10 Hz.

    ``semitones = offset + slope * pitch``; ``hz = 10 * 2 ** (semitones / 12)``.
    """

    name: str
    offset: float  # [semitones above 10 Hz] at pitch output 0
    slope: float  # [semitones per unit of pitch output]

    def hz(self, pitch: np.ndarray) -> np.ndarray:
        """Model ``pitch`` output -> frequency [Hz] (float64)."""
        semitones = self.offset + self.slope * np.asarray(pitch, np.float64)
        return 10.0 * 2.0 ** (semitones / 12.0)

    def __str__(self) -> str:
        return f"{self.name}: semitones above 10 Hz = {self.offset} + {self.slope} * pitch"


#: The published mappings, by model version (v1: the model in ../shared/models/spice_1;
#: v2: tfhub.dev/google/spice/2 and its usage example).
CALIBRATIONS: dict[str, Calibration] = {
    "v1": Calibration("v1", 24.374, 62.511),
    "v2": Calibration("v2", 25.58, 63.07),
}

#: Tones the mapping is chosen on, and held-out tones it is then checked on [Hz]
#: (82-988 Hz: E2 .. B5, inside SPICE's reliable 60-1050 Hz).
FIT_TONES_HZ = (110.0, 196.0, 329.63, 587.33, 880.0)
CHECK_TONES_HZ = (82.41, 146.83, 261.63, 440.0, 659.26, 987.77)

#: A model whose check tones read further off than this [cents] is refused. SPICE v1
#: with its own mapping reads them within 6.4 cents (measured); the wrong version's
#: mapping is 125-180 cents off.
MAX_CHECK_CENTS = 25.0

#: Length of each calibration tone [frames]; its pitch is the median of the middle
#: frames, which sit more than TONE_EDGE frames away from the neighbouring tones.
TONE_FRAMES = 24
TONE_EDGE = 8

# Receptive field of SPICE v1, measured on 20 s of Chopin piano (p01) and of samulnori
# percussion (perc7_00_take) by running the model on windows that start (end) L frames
# before (after) a frame and comparing with the output for the whole signal (largest
# relative difference of midi / confidence over 78 frames of each):
#   L =  8: left 8e-3 / 9e-2, right 0.26 / 1.1;  L = 12: left 6e-3 / 7e-2, right 4e-3 / 5e-2;
#   L = 16: left 1e-5 / 6e-5, right 7e-5 / 4e-4;  L = 17: both below 4e-6 / 1.4e-5
#   (|d pitch| < 3e-6, |d uncertainty| <= 1e-5); bit-identical from L = 20 (left), 22 (right).
# Perturbing the input changes outputs up to 16 frames away: the lowest octave of SPICE's
# constant-Q front end is a 512-point STFT at 1/32 of the rate (+-8192 samples), plus its
# decimation filters. So a stream's last 12-15 frames still move by more than 1e-3 (not
# only 5-8), and it takes 17 to settle to 1e-5. Left context costs only compute
# (PitchStream passes new + 37 frames per call: ~12 % more model time with 10-s file
# blocks), so it is exact; right context is latency, so it stops at 17 frames (544 ms).
SPICE_LEFT_CONTEXT = 20
SPICE_RIGHT_CONTEXT = 17

# Voicing threshold on confidence (1 - uncertainty), measured with SPICE v1 on audible
# frames: decaying harmonic notes, MIDI 40-84, clean or at 20 dB SNR: 5th percentile
# 0.87-0.89, 98-99 % at 0.7 or above. Broadband noise at 0.7 or above: white 1.6 %,
# brown 4.8 %, decaying noise bursts (snare-like) 6 %, pink 13 %. Polyphonic piano
# (Chopin, FluidSynth) has median 0.64, 41 % of frames at 0.7 or above (polyphony lowers
# SPICE's confidence; 0.6 would keep 54 % but pass 13-35 % of noise). SPICE cannot tell
# band-limited noise (200-2000 Hz: median 0.83) or the GM percussion of ../shared/data
# (gongs, bells: 31-53 % above 0.7) from notes; percussion is carried by the onset
# feature, not by pitch.
SPICE_VOICING_THRESHOLD = 0.7


class SpiceModel:
    """A loaded SPICE model as a :class:`~matcher.features.pitch.PitchModel`.

    Parameters
    ----------
    signature : tf.ConcreteFunction
        The model's ``serving_default`` signature.
    input_name : str
        The keyword its audio input is declared under.
    handle : str
        What was loaded (TF Hub address or SavedModel folder).
    owner : object
        The loaded SavedModel object; kept alive because the signature needs its variables.
    calibration : Calibration, optional
        Mapping from ``pitch`` output to Hz; :meth:`calibrate` chooses it.
    """

    name = "spice"
    hop = SPICE_HOP
    left_context = SPICE_LEFT_CONTEXT
    right_context = SPICE_RIGHT_CONTEXT
    voicing_threshold = SPICE_VOICING_THRESHOLD

    def __init__(
        self,
        signature: Any,
        input_name: str,
        handle: str,
        owner: Any = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.signature = signature
        self.input_name = input_name
        self.handle = handle
        self._owner = owner
        self.calibration = calibration
        self.check_cents: dict[float, float] = {}  # check tone [Hz] -> error [cents] at load

    def __repr__(self) -> str:
        cal = self.calibration.name if self.calibration else "uncalibrated"
        return f"SpiceModel(handle={self.handle!r}, calibration={cal})"

    def raw(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's own outputs, ``1 + len(audio) // hop`` of each.

        Parameters
        ----------
        audio : np.ndarray [shape=(n,), float32]
            Mono samples at 16 kHz; any length, including 0.

        Returns
        -------
        pitch : np.ndarray [shape=(1 + n // hop,), float32]
            SPICE's pitch output in [0, 1] (see :class:`Calibration`).
        uncertainty : np.ndarray [shape=(1 + n // hop,), float32]
            In [0, 1]; frame ``i`` is centred on sample ``i * hop``.
        """
        import tensorflow as tf

        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ParameterError(f"SPICE needs mono samples, got shape {audio.shape}")
        n_samples = len(audio)
        n_frames = 1 + n_samples // self.hop
        if 0 < n_samples < self.hop:
            # SPICE v1 fails on 1-32 samples (its decimated octaves get too short to
            # pad); zeros are what it sees beyond the end of any signal anyway.
            audio = np.pad(audio, (0, self.hop - len(audio)))
        try:
            out = self.signature(**{self.input_name: tf.constant(audio)})
            pitch = np.asarray(out["pitch"], np.float32).reshape(-1)
            uncertainty = np.asarray(out["uncertainty"], np.float32).reshape(-1)
        except Exception as exc:  # TensorFlow raises many types
            raise ModelError(f"SPICE model {self.handle!r} failed on {n_samples} samples: {_one_line(exc)}") from exc
        if len(pitch) < n_frames or len(uncertainty) < n_frames:
            # SPICE centres frame i on sample i*hop (measured: centred within 4 samples by
            # time reversal) and returns exactly 1 + n//hop frames for n >= 33 samples.
            raise ModelError(
                f"SPICE model {self.handle!r} returned {len(pitch)} pitch / {len(uncertainty)} uncertainty "
                f"values for {n_samples} samples; expected {n_frames} (one per {self.hop} samples, centred)"
            )
        return pitch[:n_frames], uncertainty[:n_frames]

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pitch [Hz] and confidence (1 - uncertainty, in [0, 1]) per frame, float32."""
        if self.calibration is None:
            raise ModelError(f"SPICE model {self.handle!r} is not calibrated; load it with load_spice()")
        pitch, uncertainty = self.raw(audio)
        hz = self.calibration.hz(pitch).astype(np.float32)
        return hz, np.clip(1.0 - uncertainty, 0.0, 1.0).astype(np.float32)

    def calibrate(self) -> Calibration:
        """Choose the pitch -> Hz mapping from synthetic tones and check it on others.

        The published mapping (:data:`CALIBRATIONS`) with the smallest RMS error on
        :data:`FIT_TONES_HZ` is taken; it must then read every one of
        :data:`CHECK_TONES_HZ` (440 Hz among them) within :data:`MAX_CHECK_CENTS`.

        Raises
        ------
        ModelError
            When no published mapping passes the check.
        """
        outputs = self.tone_outputs(FIT_TONES_HZ + CHECK_TONES_HZ)  # one model call, ~8 s of audio
        fit_raw, check_raw = outputs[: len(FIT_TONES_HZ)], outputs[len(FIT_TONES_HZ) :]
        best = min(CALIBRATIONS.values(), key=lambda c: _rms(_cents_off(c, fit_raw, FIT_TONES_HZ)))
        errors = _cents_off(best, check_raw, CHECK_TONES_HZ)
        self.check_cents = {hz: round(float(e), 1) for hz, e in zip(CHECK_TONES_HZ, errors, strict=True)}
        if not np.all(np.abs(errors) <= MAX_CHECK_CENTS):
            readings = ", ".join(f"{hz:g} Hz {e:+.0f}" for hz, e in self.check_cents.items())
            raise ModelError(
                f"SPICE model {self.handle!r} fails its calibration check: with the closest known mapping "
                f"({best}) test tones read off by [cents] {readings}; the limit is {MAX_CHECK_CENTS:g} cents. "
                f"It is not SPICE v1/v2 or not a working pitch model"
            )
        self.calibration = best
        return best

    def tone_outputs(self, freqs: Sequence[float]) -> np.ndarray:
        """Median ``pitch`` output on a harmonic tone at each of ``freqs`` [Hz], in one model call."""
        audio = calibration_tones(freqs)
        pitch, _ = self.raw(audio)
        per_tone = pitch[: len(freqs) * TONE_FRAMES].reshape(len(freqs), TONE_FRAMES)
        return np.median(per_tone[:, TONE_EDGE:-TONE_EDGE], axis=1).astype(np.float64)


def calibration_tones(freqs: Sequence[float], sr: int = SPICE_SR, hop: int = SPICE_HOP) -> np.ndarray:
    """Harmonic tones (6 partials at 1/k amplitude, peak 0.3) of ``TONE_FRAMES * hop``
    samples each, back to back: float32 at ``sr``."""
    n = TONE_FRAMES * hop
    t = np.arange(n) / sr
    parts = []
    for f0 in freqs:
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 7) if k * f0 < 0.45 * sr)
        parts.append(0.3 * x / np.max(np.abs(x)))
    return np.concatenate(parts).astype(np.float32)


def _cents_off(calibration: Calibration, pitch: np.ndarray, freqs: Sequence[float]) -> np.ndarray:
    return 1200.0 * np.log2(calibration.hz(pitch) / np.asarray(freqs, np.float64))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def _quiet_tensorflow_python_logs() -> Iterator[None]:
    """Silence TensorFlow's Python warnings while a model loads (v1 SavedModels log one
    line per reference variable), restoring the user's level afterwards."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


#: TensorFlow's oneDNN kernels, which it enables by default on x86, make SPICE's first
#: calls slower (they build their primitives) and keep about 100 MB more, for no gain
#: after (measured on these machines, one core: SPICE over 88 s of piano 1.56 -> 0.74 s
#: of CPU; ``reference add`` of 3 hours 170x real time both ways, 212 -> 106 MB above
#: start-up; ``follow REF.flac --pitch spice`` on a 10-minute pair, peak RSS 1083 -> 980
#: MB; pitch equal to 5e-5 semitones). Off before TensorFlow is imported
#: (:func:`prepare_tensorflow`), unless the user set it.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def prepare_tensorflow() -> None:
    """The environment TensorFlow runs SPICE best in here; only effective before its first
    import, and a value the user set is kept."""
    os.environ.setdefault(ONEDNN_ENV, "0")


def _import_tensorflow(handle: str) -> tuple[Any, Any]:
    prepare_tensorflow()
    try:
        import tensorflow as tf
        import tensorflow_hub as hub
    except ImportError as exc:
        raise ModelError(f"cannot load SPICE model {handle!r}: {_one_line(exc)} (install tensorflow-hub)") from exc
    return tf, hub


def _load_signature(handle: str) -> tuple[Any, str, Any]:
    """``(signature, input name, loaded object)`` of the SavedModel at ``handle``."""
    tf, hub = _import_tensorflow(handle)
    try:
        with _quiet_tensorflow_python_logs():
            loaded = hub.load(handle)
    except Exception as exc:  # hub and TF raise OSError, ValueError, URLError, tf.errors...
        hint = ""
        if "://" in handle:
            hint = " (offline? a TF Hub address needs the network)"
        raise ModelError(f"cannot load SPICE model {handle!r}: {_one_line(exc)}{hint}") from exc
    signatures = getattr(loaded, "signatures", None) or {}
    if "serving_default" not in signatures:
        raise ModelError(
            f"SPICE model {handle!r} has no 'serving_default' signature (signatures: {', '.join(signatures) or 'none'})"
        )
    signature = signatures["serving_default"]
    input_name = _audio_input_name(handle, signature, tf)
    missing = [name for name in SPICE_OUTPUTS if name not in (signature.structured_outputs or {})]
    if missing:
        raise ModelError(
            f"SPICE model {handle!r}: serving_default lacks output(s) {', '.join(missing)} "
            f"(has: {', '.join(signature.structured_outputs or {}) or 'none'})"
        )
    return signature, input_name, loaded


def _audio_input_name(handle: str, signature: Any, tf: Any) -> str:
    """The keyword of the signature's one 1-D float32 input (v1 calls it ``input``)."""
    args, kwargs = signature.structured_input_signature
    specs = dict(kwargs)
    if args or len(specs) != 1:
        raise ModelError(
            f"SPICE model {handle!r}: serving_default takes inputs {', '.join(specs) or args}; "
            f"expected exactly one (mono float32 audio)"
        )
    name, spec = next(iter(specs.items()))
    if spec.dtype != tf.float32 or spec.shape.rank not in (None, 1):
        raise ModelError(
            f"SPICE model {handle!r}: input {name!r} is {spec.dtype.name} of shape {spec.shape}; "
            f"expected float32 samples of shape (None,)"
        )
    return name


def load_spice(config: Config, handle: str | None = None) -> SpiceModel:
    """Load and calibrate a SPICE model.

    Parameters
    ----------
    config : Config
        Must have ``sr == 16000`` [Hz] and ``hop`` [samples] 512, SPICE's grid, or a divisor of it.
    handle : str, optional
        TF Hub address or local SavedModel folder; default :data:`SPICE_HANDLE`.

    Returns
    -------
    SpiceModel
        A :class:`~matcher.features.pitch.PitchModel` with ``name == "spice"``.

    Raises
    ------
    ParameterError
        When ``config`` is not on SPICE's grid.
    ModelError
        When the model cannot be loaded, does not have SPICE's signature, or fails the
        calibration check (see :meth:`SpiceModel.calibrate`).
    """
    # SPICE's grid is fixed; a finer feature grid works when it divides SPICE's hop
    # (FeatureStream then holds each SPICE value for hop // config.hop frames).
    if config.sr != SPICE_SR or SPICE_HOP % config.hop:
        raise ParameterError(
            f"SPICE works at sr={SPICE_SR} Hz with a hop of {SPICE_HOP} samples (or a divisor of it); "
            f"the configuration has sr={config.sr}, hop={config.hop}"
        )
    from ..logs import third_party_quiet

    handle = handle or SPICE_HANDLE
    # The import, the load and the first run are where TensorFlow logs its start-up lines.
    with third_party_quiet():
        signature, input_name, loaded = _load_signature(handle)
        model = SpiceModel(signature, input_name, handle, owner=loaded)
        model.calibrate()
    return model
