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

from matcher import Config, ReferenceStore, YinModel, build_reference
from matcher.audio import file_blocks
from matcher.evaluation.metrics import beat_errors, summarize
from matcher.evaluation.pauses import bar_tempo, held_spans
from matcher.follow import Track, follow_blocks
from matcher.follow import summarize as follow_summary
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
    acc = summarize(beat_errors(take_map.seconds(beats), ref_map.seconds(beats), track.t, track.ref_t))
    print(
        f"beats within 50/100/200 ms: {acc['within_50']:.0f} % / {acc['within_100']:.0f} % / "
        f"{acc['within_200']:.0f} %; median error {acc['median_ms']:.0f} ms"
    )
    print(f"mean tempo deviation {follow_summary(track, ref)['mean_tempo_dev_pct']:+.1f} %")

    # 5. Tempo per bar; a pause or a held note is shown as held time, not as slow playing.
    spans = held_spans(track.t, track.ref_t)
    steady_take = TempoMap(take_map.knots, take_map.bpm)  # the take without its holds
    print("tempo per bar (take against reference; held time left out):")
    print("   take s   bar   true %   followed %   held s (true / followed)")
    bars = []  # (take start, end [s], true, followed tempo ratio)
    for bar in range(1, 13):
        b0, b1 = (bar - 1) * BEATS_PER_BAR, bar * BEATS_PER_BAR
        t0, t1 = take_map.seconds(b0), take_map.seconds(b1)
        true_held = (t1 - t0) - (steady_take.seconds(b1) - steady_take.seconds(b0))
        true = (ref_map.seconds(b1) - ref_map.seconds(b0)) / (t1 - t0 - true_held)
        followed, held = bar_tempo(track.t, track.ref_t, t0, t1, spans)
        bars.append((t0, t1, true, followed))
        mark = f"   {true_held:4.1f} / {held:4.1f}" if max(true_held, held) > 0 else ""
        print(f"  {t0:7.1f} {bar:5d}   {(true - 1) * 100:+6.1f}   {(followed - 1) * 100:+8.1f}{mark}")
    png = args.out / "demo_follow.png"
    plot(track, take_map, ref_map, beats, spans, bars, png)
    print(f"wrote {png}")
    return 0 if acc["within_100"] >= 80 else 1


def plot(
    track: Track,
    take_map: TempoMap,
    ref_map: TempoMap,
    beats: np.ndarray,
    spans: list[tuple[float, float]],
    bars: list[tuple[float, float, float, float]],
    png: Path,
) -> None:
    """Position over take time with the truth; tempo per bar (held time shaded and left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, height_ratios=(3, 1.4))
    ax1.plot(track.t, track.ref_t, lw=1.2, label="followed (as shown live)")
    ax1.plot(take_map.seconds(beats), ref_map.seconds(beats), "o", ms=3, color="C3", label="truth at beats")
    ax1.set_ylabel("reference time [s]")
    ax1.legend(loc="upper left")
    ax1.set_title("matcher demo: following a tempo-warped take")
    for a, b in spans:
        for ax in (ax1, ax2):
            ax.axvspan(a, b, color="0.85", zorder=0, label="held (pause)" if ax is ax2 and a == spans[0][0] else None)
    edges = [t0 for t0, *_ in bars] + [bars[-1][1]]
    for k, name, style in ((3, "followed (per bar)", "-"), (2, "true", "--")):
        dev = [(row[k] - 1) * 100 for row in bars]
        ax2.stairs(dev, edges, ls=style, color="C0" if k == 3 else "C3", label=name)
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
