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
import sys
import tempfile
from pathlib import Path

import librosa

from matcher.evaluation import conditions as cond
from matcher.evaluation import corpus
from matcher.evaluation.corpus_check import beat_to_onset_ms, first_sound, note_onsets, onset_lag, render_trimmed
from matcher.evaluation.corpus_runs import add_arguments, selected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--show-trim", action="store_true", help="also render one take with TiMidity's default trim")
    args = parser.parse_args()
    cache = args.cache or corpus.cache_root()
    pairs, names = selected(args)
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
            audio, sr = librosa.load(render_trimmed(p.take.midi, Path(tmp) / "trim.wav"), sr=None)
        onsets = note_onsets(p.take.midi)
        med, iqr = onset_lag(audio, sr, onsets)
        shift = (first_sound(audio, sr) - onsets[0]) * 1000
        print(f"\nwithout --preserve-silence ({p.take.name}): first sound - first note "
              f"{shift:.0f} ms, onset offset {med * 1000:.0f} ({iqr * 1000:.0f}) ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
