"""Checks of the corpus truth (tools/check_corpus.py): MIDI note onsets, beat-to-onset
distances, and where a rendering's onsets lie against the MIDI file's.

A render shifted against MIDI time (such as TiMidity's leading-silence trim without
``--preserve-silence``) shows as an onset offset of minus the first note's time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import librosa
import mido
import numpy as np

from . import conditions as cond

HOP_S = 0.01  # onset envelope hop [s]
MAX_LAG_S = 0.5


def note_onsets(midi: Path) -> np.ndarray:
    """Note-on times [s of the MIDI file] (tempo map applied by mido)."""
    t, out = 0.0, []
    for msg in mido.MidiFile(str(midi)):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            out.append(t)
    return np.asarray(out)


def onset_lag(audio: np.ndarray, sr: int, onsets: np.ndarray) -> tuple[float, float]:
    """Median and inter-quartile range [s] of the rendered onsets' offsets from the MIDI onsets.

    For each isolated MIDI onset (no other within 200 ms before or 100 ms after), the peak
    of the audio's onset strength (librosa, 5 ms hop) within [-100, +150] ms of it; the
    offset is where that peak lies (positive: the audio is late). A shifted render gives a
    median far from 0 or a wide spread (offsets scattered over the window).
    """
    hop = round(0.005 * sr)
    env = librosa.onset.onset_strength(y=audio.astype(np.float32), sr=sr, hop_length=hop, center=True)
    o = np.unique(np.round(np.sort(onsets), 3))
    gap_before = np.diff(o, prepend=-np.inf)
    gap_after = np.diff(o, append=np.inf)
    offsets = []
    for t in o[(gap_before > 0.2) & (gap_after > 0.1)]:
        a, b = round((t - 0.1) * sr / hop), round((t + 0.15) * sr / hop)
        if a < 0 or b >= len(env):
            continue
        offsets.append((a + int(np.argmax(env[a:b]))) * hop / sr - t)
    if not offsets:
        return float("nan"), float("nan")
    q1, med, q3 = np.percentile(offsets, [25, 50, 75])
    return float(med), float(q3 - q1)


def first_sound(audio: np.ndarray, sr: int) -> float:
    """Time [s] of the first sample above -50 dB of the peak."""
    k = np.flatnonzero(np.abs(audio) > np.max(np.abs(audio)) * 10 ** (-50 / 20))
    return float(k[0] / sr) if len(k) else float("nan")


def beat_to_onset_ms(beats: np.ndarray, onsets: np.ndarray) -> tuple[float, float]:
    """Median and 90th percentile [ms] of each beat's distance to the nearest note onset."""
    o = np.sort(onsets)
    k = np.clip(np.searchsorted(o, beats), 1, len(o) - 1)
    d = np.minimum(np.abs(beats - o[k - 1]), np.abs(o[k] - beats)) * 1000.0
    return float(np.median(d)), float(np.percentile(d, 90))


def render_trimmed(midi: Path, out: Path) -> Path:
    """``midi`` rendered by TiMidity with its default leading-silence trim (for contrast) to ``out``."""
    cmd = ["timidity", "-c", str(cond.FREEPATS), "-Ow", "-s", str(cond.SR), "-o", str(out), str(midi)]
    subprocess.run(cmd, capture_output=True, check=True)
    return out
