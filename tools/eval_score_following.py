"""Score following in the Matchmaker benchmark's form: the score as the reference, a
rendered human performance of the same piece as the take.

For each chosen ASAP piece (``validation`` folders by default; never tune on them):

* reference: ``matcher.notation.build_score_reference`` of ``midi_score.mid`` (the score as
  quantised MIDI, repeats unfolded as played, its own tempo marks), rendered with FluidSynth
  and FluidR3 GM (the default soundfont);
* take: one performance whose annotation labels equal the score's (so its k-th annotated
  beat is the score's k-th beat), rendered from its MIDI by ``fluidsynth`` with another
  soundfont (TimGM6mb: the acoustic condition "another soundfont", no room, no noise);
* truth: the k-th beat of ``midi_score_annotations.txt`` (score-MIDI seconds, shifted by
  the rendering's lead-in) against the k-th beat of the performance's annotations.

Errors are measured on the take's time axis: at each annotated take beat, the score beat
that the follower reports there (its ``ref_t`` interpolated at the beat, turned into a
fractional beat number by the score's beat times) minus the true beat, times the take's
local beat period. Reported: beats within 50 / 100 / 300 ms and the median, pooled over
pieces, online (``follow``) and offline (``compare``), and the **tracked** share: 30-s
windows of take time every 10 s, a window lost when the median absolute error of its
beats exceeds the take's median beat period in it, a piece tracked when none is lost.
pymatchmaker's Arzt OLTW (audio to audio on the same pair) runs beside it when its
virtual environment exists (tools/baselines/setup_matchmaker.sh).

    .venv/bin/python tools/eval_score_following.py [--pieces 6] [--split validation] [--json OUT]
        [--player-tempo]   # the score rendered at the take's mean tempo, as a player's --tempo would
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from matcher import Config
from matcher.evaluation.baselines import MATCHMAKER_PYTHON
from matcher.evaluation.score_following import (
    ASAP,
    TAKE_SOUNDFONT,
    choose_pieces,
    piece_line,
    run_piece,
    summary_table,
)
from matcher.features import YinModel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=6, help="how many folders (the shortest first)")
    ap.add_argument("--split", default="validation", choices=("validation", "dev"))
    ap.add_argument("--mm-python", type=Path, default=MATCHMAKER_PYTHON, help="pymatchmaker's venv python")
    ap.add_argument("--json", type=Path, help="write every beat error here")
    ap.add_argument(
        "--player-tempo",
        action="store_true",
        help="render each score at its take's mean tempo (as with --tempo) instead of its tempo marks",
    )
    args = ap.parse_args(argv)
    if not (ASAP / "metadata.csv").exists():
        print(f"no ASAP data at {ASAP}", file=sys.stderr)
        return 1
    if shutil.which("fluidsynth") is None or not TAKE_SOUNDFONT.exists():
        print("needs the fluidsynth program and Debian's timgm6mb-soundfont", file=sys.stderr)
        return 1
    mm_python = args.mm_python if args.mm_python.exists() else None
    if mm_python is None:
        print(f"pymatchmaker not run: no {args.mm_python} (tools/baselines/setup_matchmaker.sh)", file=sys.stderr)
    config = Config(pitch_backend="yin")
    model = YinModel(config)
    results = []
    for row in choose_pieces(ASAP, args.split, args.pieces):
        with tempfile.TemporaryDirectory(prefix="matcher-evalscore-") as tmp:
            res = run_piece(row, config, model, Path(tmp), mm_python, args.player_tempo)
        results.append(res)
        print(piece_line(res), flush=True)
    print()
    print(summary_table(results))
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "pieces": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
