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
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from matcher import Config, build_reference, compare
from matcher.audio import file_blocks
from matcher.features import YinModel
from matcher.follow import follow_blocks
from matcher.notation import build_score_reference, read_score
from matcher.notation.render import LEAD_S

HERE = Path(__file__).resolve().parent
ASAP = HERE.parents[1] / "shared" / "data" / "asap"
TAKE_SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MM_PYTHON = HERE / "baselines" / ".venv-matchmaker" / "bin" / "python"
WITHIN_MS = (50, 100, 300)


def _labels(path: Path) -> list[str]:
    return [line.split("\t")[2].split(",")[0] for line in path.read_text().splitlines() if line.strip()]


def _times(path: Path) -> np.ndarray:
    return np.array([float(line.split("\t")[0]) for line in path.read_text().splitlines() if line.strip()])


def choose_pieces(asap: Path, split: str, n: int) -> list[dict[str, str]]:
    """The ``n`` shortest folders of ``split``, each with its shortest performance whose
    beat labels equal the score's."""
    with open(asap / "metadata.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    best: dict[str, tuple[float, dict[str, str]]] = {}
    for row in rows:
        if row["split"] != split:
            continue
        perf, score = asap / row["performance_annotations"], asap / row["midi_score_annotations"]
        if _labels(perf) != _labels(score):
            continue
        length = float(_times(perf)[-1])
        if row["folder"] not in best or length < best[row["folder"]][0]:
            best[row["folder"]] = (length, row)
    return [row for _, row in sorted(best.values(), key=lambda v: v[0])[:n]]


def render_take(midi: Path, out: Path, soundfont: Path) -> Path:
    """The performance MIDI as audio, leading silence kept (the annotations count from 0)."""
    cmd = ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", "22050", "-F", str(out)]
    subprocess.run([*cmd, str(soundfont), str(midi)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return out


def beat_errors_ms(take_beats: np.ndarray, ref_beats: np.ndarray, report_t: np.ndarray, report_ref_t: np.ndarray):
    """|reported score beat - true beat| x the take's local beat period [ms], per take beat."""
    ref_t = np.interp(take_beats, report_t, report_ref_t)
    k = np.arange(len(ref_beats), dtype=np.float64)
    slope_lo = 1.0 / (ref_beats[1] - ref_beats[0])
    slope_hi = 1.0 / (ref_beats[-1] - ref_beats[-2])
    beat = np.interp(ref_t, ref_beats, k)
    beat = np.where(ref_t < ref_beats[0], (ref_t - ref_beats[0]) * slope_lo, beat)
    beat = np.where(ref_t > ref_beats[-1], k[-1] + (ref_t - ref_beats[-1]) * slope_hi, beat)
    period = np.gradient(take_beats)
    return np.abs(beat - k) * period * 1000.0, period * 1000.0


def tracked(take_beats: np.ndarray, errors: np.ndarray, period_ms: np.ndarray) -> bool:
    """No 30-s window (every 10 s) whose median error exceeds its median beat period."""
    start = 0.0
    while start < take_beats[-1]:
        sel = (take_beats >= start) & (take_beats < start + 30.0)
        if sel.any() and np.median(errors[sel]) > np.median(period_ms[sel]):
            return False
        start += 10.0
    return True


def player_tempo(score_midi: Path, score_beats: np.ndarray, take_beats: np.ndarray) -> tuple[float, np.ndarray]:
    """The take's mean tempo [quarter notes per minute] (what a player would give as
    ``--tempo``), and the score's beats [s] in a rendering at that constant tempo."""
    _, marks, _ = read_score(score_midi)
    grid = np.linspace(0.0, 1e5, 400001)  # quarters
    q = np.interp(score_beats + LEAD_S, marks.seconds(grid), grid)
    qpm = 60.0 * (q[-1] - q[0]) / (take_beats[-1] - take_beats[0])
    return float(qpm), LEAD_S + q * 60.0 / qpm


def run_piece(
    row: dict[str, str], config: Config, model: Any, folder: Path, mm_python: Path | None, at_player_tempo: bool
) -> dict:
    score_midi = ASAP / row["midi_score"]
    take_beats = _times(ASAP / row["performance_annotations"])
    # the rendering keeps the score MIDI's seconds exactly, after the lead-in
    ref_beats = _times(ASAP / row["midi_score_annotations"]) + LEAD_S
    tempo_bpm = None
    if at_player_tempo:
        tempo_bpm, ref_beats = player_tempo(score_midi, ref_beats - LEAD_S, take_beats)
    ref_wav = folder / "score.wav"
    ref = build_score_reference(
        score_midi, config=config, pitch_model=model, name="score", tempo_bpm=tempo_bpm, keep_audio=ref_wav
    )
    take_wav = render_take(ASAP / row["midi_performance"], folder / "take.wav", TAKE_SOUNDFONT)
    out: dict[str, Any] = {"folder": row["folder"], "take": Path(row["midi_performance"]).name}
    out["beats"] = len(take_beats)
    out["tempo_bpm"] = tempo_bpm
    out["seconds"] = round(float(take_beats[-1]), 1)
    track = follow_blocks(ref, (b for b, _ in file_blocks(take_wav, config.sr)))
    err, period = beat_errors_ms(take_beats, ref_beats, track.t.astype(np.float64), track.ref_t.astype(np.float64))
    out["online"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    take_ref = build_reference(take_wav, config, model, "take", track=False)
    alignment = compare(ref, take_ref).alignment
    err, period = beat_errors_ms(take_beats, ref_beats, alignment.b_t, alignment.a_t)
    out["offline"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    if mm_python is not None:
        mm_json = folder / "mm.json"
        cmd = [str(mm_python), str(HERE / "baselines" / "run_matchmaker.py"), "--method", "arzt"]
        cmd += ["--ref", str(ref_wav), "--take", str(take_wav), "--out", str(mm_json)]
        subprocess.run(cmd, check=True, capture_output=True)
        rep = np.asarray(json.loads(mm_json.read_text())["reports"], np.float64)
        err, period = beat_errors_ms(take_beats, ref_beats, rep[:, 0], rep[:, 1])
        out["mm_arzt"] = {"errors": err.tolist(), "tracked": tracked(take_beats, err, period)}
    return out


def summarise(results: list[dict], method: str) -> dict[str, Any]:
    runs = [r[method] for r in results if method in r]
    if not runs:
        return {}
    err = np.concatenate([np.asarray(r["errors"]) for r in runs])
    row: dict[str, Any] = {f"within_{ms}": round(100.0 * float(np.mean(err <= ms)), 1) for ms in WITHIN_MS}
    row["median_ms"] = round(float(np.median(err)), 1)
    row["tracked"] = round(100.0 * float(np.mean([r["tracked"] for r in runs])), 1)
    row["pieces"] = len(runs)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=6, help="how many folders (the shortest first)")
    ap.add_argument("--split", default="validation", choices=("validation", "dev"))
    ap.add_argument("--mm-python", type=Path, default=MM_PYTHON, help="pymatchmaker's venv python")
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
        line = "  ".join(
            f"{m} {summarise([res], m)['within_50']:5.1f}/{summarise([res], m)['within_300']:5.1f}"
            f"{'' if res[m]['tracked'] else ' LOST'}"
            for m in ("online", "offline", "mm_arzt")
            if m in res
        )
        print(f"{res['folder']:<45} {res['beats']:4d} beats {res['seconds']:6.1f} s  {line}", flush=True)
    print()
    print(f"{'method':<9} {'<=50 ms':>8} {'<=100 ms':>9} {'<=300 ms':>9} {'median':>8} {'tracked':>8}  pieces")
    for method in ("online", "offline", "mm_arzt"):
        s = summarise(results, method)
        if s:
            print(
                f"{method:<9} {s['within_50']:7.1f}% {s['within_100']:8.1f}% {s['within_300']:8.1f}% "
                f"{s['median_ms']:6.1f}ms {s['tracked']:7.1f}%  {s['pieces']}"
            )
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "pieces": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
