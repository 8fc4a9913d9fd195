"""A small SavedModel with SPICE's interface, built by the tests themselves.

It really estimates pitch, so the loading code's calibration check is a real test: a
Hann-windowed 2048-sample frame centred on every 512th sample, the strongest spectral
peak between 50 and 1100 Hz refined by parabolic interpolation of the log magnitude
(accurate to a few cents for tones whose fundamental is their strongest partial, as
the calibration tones are), mapped to SPICE's ``pitch`` output with the v1 or v2
constants. ``uncertainty`` is the spectral flatness below 4 kHz: near 0 for a tone,
about 0.6 for white noise, 1 for silence.

Build one with :func:`build_fake_spice`; load it with ``tensorflow_hub.load(folder)``
(or ``matcher.features.spice.load_spice``). TensorFlow is imported when building.
"""

from __future__ import annotations

import os
from pathlib import Path

SR = 16000
HOP = 512
WINDOW = 2048  # [samples] analysis window
N_FFT = 8192  # [samples] zero-padded FFT: 1.95 Hz bins
F_LO, F_HI = 50.0, 1100.0  # [Hz] peak search range
FLATNESS_HZ = 4000.0  # [Hz] uncertainty measured below this

#: SPICE's mappings: semitones above 10 Hz = offset + slope * pitch.
VERSIONS = {1: (24.374, 62.511), 2: (25.58, 63.07)}

#: A deliberately miscalibrated model: v1's slope with the offset half a semitone
#: high, so every tone reads 50 cents flat with v1's mapping and 80-120 cents sharp
#: with v2's.
BROKEN = (24.374 + 0.5, 62.511)


def _module(offset: float, slope: float, input_name: str, outputs: tuple[str, str]):
    import numpy as np
    import tensorflow as tf

    window = tf.constant(np.hanning(WINDOW + 1)[:-1], tf.float32)
    lo = int(F_LO * N_FFT / SR)
    hi = int(F_HI * N_FFT / SR) + 1
    flat_hi = int(FLATNESS_HZ * N_FFT / SR)
    tiny = 1e-12

    class FakeSpice(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name=input_name)])
        def __call__(self, audio):
            # Zeros around the signal so frame i is centred on sample i*HOP: 1 + n//HOP frames.
            padded = tf.pad(audio, [[WINDOW // 2, WINDOW // 2]])
            frames = tf.signal.frame(padded, WINDOW, HOP) * window
            mag = tf.abs(tf.signal.rfft(frames, [N_FFT]))
            k = tf.argmax(mag[:, lo:hi], axis=1, output_type=tf.int32) + lo
            rows = tf.range(tf.shape(k)[0])
            a, b, c = (tf.math.log(tf.gather_nd(mag, tf.stack([rows, k + d], 1)) + tiny) for d in (-1, 0, 1))
            curvature = a - 2.0 * b + c
            shift = tf.where(tf.abs(curvature) > 1e-9, 0.5 * (a - c) / curvature, 0.0)
            hz = (tf.cast(k, tf.float32) + shift) * (SR / N_FFT)
            semitones = 12.0 * tf.math.log(hz / 10.0) / tf.math.log(2.0)
            pitch = (semitones - offset) / slope
            power = tf.square(mag[:, 1:flat_hi]) + tiny
            flatness = tf.exp(tf.reduce_mean(tf.math.log(power), 1)) / tf.reduce_mean(power, 1)
            return {outputs[0]: pitch, outputs[1]: tf.clip_by_value(flatness, 0.0, 1.0)}

    return FakeSpice()


def build_fake_spice(
    folder: str | os.PathLike,
    version: int = 1,
    input_name: str = "input",
    broken: bool = False,
    *,
    signature_key: str = "serving_default",
    outputs: tuple[str, str] = ("pitch", "uncertainty"),
) -> Path:
    """Save a fake SPICE SavedModel into ``folder`` (created); return the folder.

    Parameters
    ----------
    folder : path
        Where the SavedModel goes.
    version : {1, 2}
        Whose output mapping the model uses (:data:`VERSIONS`).
    input_name : str
        The keyword the signature declares for its audio input (v1 uses ``input``).
    broken : bool
        Use :data:`BROKEN` constants instead, a model the calibration check must refuse.
    signature_key : str
        Name of the signature (anything but ``serving_default`` makes a model without one).
    outputs : (str, str)
        Names of the pitch and uncertainty outputs (others make a model lacking them).
    """
    import tensorflow as tf

    offset, slope = BROKEN if broken else VERSIONS[version]
    module = _module(offset, slope, input_name, outputs)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(folder), signatures={signature_key: module.__call__.get_concrete_function()})
    return folder
