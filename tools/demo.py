"""`make demo`: generate a melodic reference and a tempo-warped take of it, store the
reference, follow the take as if it were played live, and show how well the follower
knew where the player was — against the exact truth the generator knows.

No network, no microphone: everything is synthesised here (``matcher.synth``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from matcher import Config, ReferenceStore, build_reference
from matcher.audio import file_blocks
from matcher.features import YinModel
from matcher.follow import Track, follow_blocks, summarize
from matcher.synth import TempoMap, demo_tempo, melody, render

BPM = 100.0
BEATS_PER_BAR = 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for audio, plot and JSON")
    parser.add_argument("--store", type=Path, default=None, help="reference store (default: ./references)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sr = Config().sr

    # 1. A 12-bar melody; the reference at a steady 100 bpm, the take warped.
    notes = melody(n_bars=12, beats_per_bar=BEATS_PER_BAR, seed=3)
    n_beats = 12 * BEATS_PER_BAR
    ref_map = TempoMap((0.0, n_beats), (BPM, BPM))
    take_map = demo_tempo(n_beats, BPM, fermata_beat=32.0)
    ref_path, take_path = args.out / "reference.wav", args.out / "take.wav"
    sf.write(ref_path, render(notes, ref_map, sr, timbre=0), sr)
    sf.write(take_path, render(notes, take_map, sr, timbre=1, noise_db=35.0, seed=1), sr)
    beats = np.arange(n_beats + 1, dtype=float)
    beats_file = args.out / "reference_beats.txt"
    beats_file.write_text("".join(f"{t:.6f}\n" for t in ref_map.seconds(beats)))
    ref_s, take_s = ref_map.seconds(n_beats), take_map.seconds(n_beats)
    print(f"generated {ref_path} ({ref_s:.1f} s) and {take_path} ({take_s:.1f} s)")

    # 2. Preprocess and store the reference (YIN pitch: works on any machine).
    config = Config(pitch_backend="yin")
    ref = build_reference(ref_path, config, YinModel(config), "demo", beats_file, BEATS_PER_BAR)
    ReferenceStore(args.store).add(ref, replace=True)
    s = ref.summary()
    print(
        f"reference 'demo': {ref.duration:.1f} s, {s['frames']} frames, {s['beats']} beats, "
        f"{s['tempo_bpm']} bpm, voiced {100 * s['voiced_share']:.0f} %, median pitch MIDI {s['median_midi']:.1f}"
    )

    # 3. Follow the take in hop-sized blocks, exactly as live input arrives.
    blocks = (b[i : i + config.hop] for b, _ in file_blocks(take_path, sr) for i in range(0, len(b), config.hop))
    track = follow_blocks(ref, blocks)

    # 4. Accuracy against the truth at every beat, judged at the time a position was shown.
    take_beats = take_map.seconds(beats)
    answer = np.interp(take_beats, track.t, track.ref_t)
    err_ms = np.abs(answer - ref_map.seconds(beats)) * 1000
    within = {tol: float(np.mean(err_ms <= tol) * 100) for tol in (50, 100, 200)}
    print(
        f"beats within 50/100/200 ms: {within[50]:.0f} % / {within[100]:.0f} % / {within[200]:.0f} %; "
        f"median error {np.median(err_ms):.0f} ms"
    )
    summary = summarize(track, ref)
    print(f"mean tempo deviation {summary['mean_tempo_dev_pct']:+.1f} %")
    print("tempo curve (take against reference):")
    print("   take s   bar   true %   followed %")
    for bar in range(1, 13, 1):
        b = (bar - 1) * BEATS_PER_BAR + 2.0
        t = take_map.seconds(b)
        true = (take_map.tempo_ratio(np.array([b]), ref_map)[0] - 1) * 100
        k = int(np.searchsorted(track.t, t))
        lo, hi = max(0, k - 30), min(len(track), k + 30)
        followed = (np.median(track.tempo_ratio[lo:hi]) - 1) * 100
        print(f"  {t:7.1f} {bar:5d}   {true:+6.1f}   {followed:+8.1f}")
    png = args.out / "demo_follow.png"
    plot(track, take_map, ref_map, beats, png)
    print(f"wrote {png}")
    return 0 if within[100] >= 80 else 1


def plot(track: Track, take_map: TempoMap, ref_map: TempoMap, beats: np.ndarray, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, height_ratios=(3, 1.4))
    ax1.plot(track.t, track.ref_t, lw=1.2, label="followed (as shown live)")
    ax1.plot(take_map.seconds(beats), ref_map.seconds(beats), "o", ms=3, color="C3", label="truth at beats")
    ax1.set_ylabel("reference time [s]")
    ax1.legend(loc="upper left")
    ax1.set_title("matcher demo: following a tempo-warped take")
    ax2.plot(track.t, (track.tempo_ratio - 1) * 100, lw=1, label="followed")
    fine = np.linspace(0, beats[-1], 400)
    ax2.plot(take_map.seconds(fine), (take_map.tempo_ratio(fine, ref_map) - 1) * 100, "--", color="C3", label="true")
    ax2.set_ylabel("tempo deviation [%]")
    ax2.set_xlabel("take time [s]")
    ax2.set_ylim(-60, 60)
    ax2.legend(loc="upper left")
    fig.tight_layout()
    tmp = png.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, png)


if __name__ == "__main__":
    sys.exit(main())
