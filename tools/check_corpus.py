"""Check the corpus truth: pairing, annotation time base and rendering offsets.

For each chosen pair and condition:

* pairing: the take's and the reference's label sequences are equal (beat k is beat k);
* time base: each annotated beat's distance to the nearest MIDI note onset (median and
  90th percentile, ms): small when the annotations are in the MIDI file's seconds;
* rendering offset: the lag [ms] that best aligns the rendered audio's onset strength
  (librosa, 10 ms hop) with the MIDI note onsets (times x the condition's time scale),
  searched over ±500 ms; near 0 when MIDI time 0 is sample 0. A shift such as
  TiMidity's leading-silence trim (without ``--preserve-silence``) shows as a lag of
  minus the first note's time; ``--show-trim`` renders one take that way for contrast.

    .venv/bin/python tools/check_corpus.py --split dev --quick [--conditions ...] [--show-trim]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_corpus

from matcher.evaluation import conditions as cond
from matcher.evaluation import corpus

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    build_corpus.add_arguments(parser)
    parser.add_argument("--show-trim", action="store_true", help="also render one take with TiMidity's default trim")
    args = parser.parse_args()
    cache = args.cache or corpus.cache_root()
    pairs, names = build_corpus.selected(args)
    print(f"{'pair / performance':<58}{'condition':<13}{'labels':>7}{'beat-note ms':>14}"
          f"{'first sound - first note ms':>29}{'onset offset med (IQR) ms':>27}")  # fmt: skip
    for p in pairs:
        take_t, take_l = p.take.beats()
        ref_t, ref_l = p.ref.beats()
        same = "equal" if take_l == ref_l else "DIFFER"
        for role, perf, beats in (("ref", p.ref, ref_t), ("take", p.take, take_t)):
            med, p90 = beat_to_onset_ms(beats, note_onsets(perf.midi))
            print(f"  {role} {perf.name:<52}{'':<13}{same:>7}{med:>7.1f} /{p90:>5.1f}")
        rows = [("reference", corpus.render_pair(p, names[0], cache).ref_audio, note_onsets(p.ref.midi), 1.0)]
        take_on = note_onsets(p.take.midi)
        for name in names:
            c = cond.CONDITIONS[name]
            rows.append((name, corpus.render_pair(p, name, cache).take_audio, take_on * c.time_scale, c))
        for name, path, onsets, c in rows:
            audio, sr = librosa.load(path, sr=None)
            noisy = isinstance(c, cond.Condition) and c.noise is not None
            first = "noise" if noisy else f"{(first_sound(audio, sr) - onsets[0]) * 1000:.0f}"
            med, iqr = onset_lag(audio, sr, onsets)
            print(f"{p.name:<58}{name:<13}{'':>7}{'':>14}{first:>29}{med * 1000:>18.0f} ({iqr * 1000:.0f})")
    if args.show_trim and pairs:
        p = pairs[0]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "trim.wav"
            cmd = ["timidity", "-c", str(cond.FREEPATS), "-Ow", "-s", str(cond.SR), "-o", str(out), str(p.take.midi)]
            subprocess.run(cmd, capture_output=True, check=True)
            audio, sr = librosa.load(out, sr=None)
        onsets = note_onsets(p.take.midi)
        med, iqr = onset_lag(audio, sr, onsets)
        shift = (first_sound(audio, sr) - onsets[0]) * 1000
        print(f"\nwithout --preserve-silence ({p.take.name}): first sound - first note "
              f"{shift:.0f} ms, onset offset {med * 1000:.0f} ({iqr * 1000:.0f}) ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
