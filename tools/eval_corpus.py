"""Following and comparison on the corpus: ASAP pairs under named acoustic conditions.

Methods, each scored by matcher.evaluation.tracking (beats within 50/100/200/300 ms and
the median error, pooled over beats and the mean over folders; tracked pieces, 30-s
windows every 10 s; false moves per hour):

* ``follow``  — matcher's follower, ``matcher.follow.follow_blocks`` on the take in file
  blocks, against the reference preprocessed by ``build_reference`` (YIN pitch), as
  tools/eval_follow.py runs it; ``--param NAME=VALUE`` sets FollowParams;
* ``compare`` — ``matcher.compare.compare(reference, take)`` offline (its alignment path);
* ``arzt``    — pymatchmaker 0.3.0's Arzt OLTW (chroma), through tools/baselines/
  run_matchmaker.py in its own venv (tools/baselines/setup_matchmaker.sh); skipped with a
  note when that venv is absent.

``--jumps``: tools/eval_jumps.py's scenarios (restart, back, forward, drop) on the corpus
pairs (re-lock time, locatable share); ``--pauses``: 5-s pauses of pink room noise 20 dB
below the take's RMS (held within 200 ms); both per condition and pooled, follower only.

Pairs and conditions as tools/build_corpus.py (renders what is missing); ``--set
percussion`` runs the synthetic percussion pieces under the same conditions. Report on
``--split validation``; tune on ``dev`` only.

    .venv/bin/python tools/eval_corpus.py --split dev|validation [--set asap|percussion] [--quick] [--conditions ...]
        [--methods follow compare arzt] [--jumps] [--pauses] [--per-pair] [--json OUT] [--param NAME=VALUE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_corpus  # noqa: E402  (tools/ is not a package)
import eval_follow as ef  # noqa: E402

from matcher import Config, build_reference  # noqa: E402
from matcher.audio import file_blocks  # noqa: E402
from matcher.compare import compare  # noqa: E402
from matcher.evaluation import corpus, tracking  # noqa: E402
from matcher.features import YinModel  # noqa: E402
from matcher.follow import FollowParams, follow_blocks  # noqa: E402

MM_PYTHON = HERE / "baselines" / ".venv-matchmaker" / "bin" / "python"
METHODS = ("follow", "compare", "arzt")
JUMP_KINDS = ("restart", "back", "forward", "drop")
PAUSE_DB = -20.0  # room noise in pauses, relative to the take's RMS [dB]


def run_follow(ref: Any, take_audio: Path, params: FollowParams) -> tuple[np.ndarray, np.ndarray]:
    track = follow_blocks(ref, (b for b, _ in file_blocks(take_audio, ref.config.sr)), params)
    return np.asarray(track.t, np.float64), np.asarray(track.ref_t, np.float64)


def run_compare(ref: Any, take_audio: Path, config: Config) -> tuple[np.ndarray, np.ndarray]:
    take = build_reference(take_audio, config, YinModel(config), "take", track=False)
    a = compare(ref, take).alignment
    return a.b_t, a.a_t


def run_arzt(ref_audio: Path, take_audio: Path) -> tuple[np.ndarray, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(MM_PYTHON), str(HERE / "baselines" / "run_matchmaker.py"), "--method", "arzt",
               "--ref", str(ref_audio), "--take", str(take_audio), "--out", str(out)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        rep = np.asarray(json.loads(out.read_text())["reports"], np.float64)
    return rep[:, 0], rep[:, 1]


def score(r: corpus.RenderedPair, t: np.ndarray, ref_t: np.ndarray, duration: float, online: bool) -> dict[str, Any]:
    """One method's figures on one rendered pair (errors kept for pooling)."""
    e = tracking.beat_errors(r.take_beats, r.ref_beats, t, ref_t)
    ok, lost, n_win = tracking.tracked(r.take_beats, e)
    moves = tracking.false_moves(t, ref_t) if online else np.zeros(0)
    in_music = int(np.sum(moves <= r.take_beats[-1]))  # the rest: in the take's last notes ringing out
    return {"errors": e, "tracked": ok, "windows_lost": lost, "windows": n_win, "false_moves": len(moves),
            "false_moves_in_music": in_music, "false_move_at_s": [round(float(x), 2) for x in moves[:20]],
            "take_s": duration}  # fmt: skip


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled and folder-mean shares, tracked share, false moves per hour of some rows."""
    by_folder: dict[str, list[np.ndarray]] = {}
    for row in rows:
        by_folder.setdefault(row["folder"], []).append(row["errors"])
    out = tracking.pooled_and_folder_mean(by_folder)
    seconds = sum(r["take_s"] for r in rows)
    moves = sum(r["false_moves"] for r in rows)
    out["false_moves_in_music"] = sum(r["false_moves_in_music"] for r in rows)
    out["tracked_pct"] = float(np.mean([r["tracked"] for r in rows]) * 100.0) if rows else float("nan")
    out["pieces"] = len(rows)
    out["false_moves"] = moves
    out["false_moves_per_hour"] = tracking.per_hour(moves, seconds)
    out["take_hours"] = seconds / 3600.0
    out["method_seconds"] = sum(r["seconds"] for r in rows)
    return out


def print_table(title: str, figures: dict[str, dict[str, dict[str, Any]]]) -> None:
    """figures: {condition: {method: aggregate}}."""
    print(f"\n{title}")
    ms = tracking.TOLERANCES_MS
    head = f"  {'condition':<14}{'method':<9}" + "".join(f"{f'≤{m}':>7}" for m in ms) + f"{'median':>9}"
    head += "   folder-mean " + "/".join(str(m) for m in ms) + f"{'tracked':>10}{'false/h':>9}{'beats':>7}{'s':>7}"
    print(head)
    for name, methods in figures.items():
        for method, f in methods.items():
            p, m = f["pooled"], f["folder_mean"]
            line = f"  {name:<14}{method:<9}" + "".join(f"{p[f'within_{x}']:>6.1f}%" for x in ms)
            line += f"{p['median_ms']:>7.0f}ms   " + " / ".join(f"{m[f'within_{x}']:.0f}" for x in ms).ljust(17)
            fm = "—" if method == "compare" else f"{f['false_moves_per_hour']:.1f}"
            line += f"{f['tracked_pct']:>8.0f}%{fm:>9}{p['n']:>7}{f['method_seconds']:>7.0f}"
            print(line)


def run_edits(rendered: list[corpus.RenderedPair], params: FollowParams, places: int, kinds: list[str]) -> dict:
    """tools/eval_jumps.py's scenarios on rendered corpus pairs, per condition and pooled."""
    import eval_jumps as ej

    ej.ROOM_NOISE_DB = PAUSE_DB  # the pauses of issue 12: pink noise 20 dB below the take
    outcomes = []
    for r in rendered:
        case = ef.Case(r.condition, r.pair.name, r.ref_audio, r.take_audio, r.take_beats, r.ref_beats)
        piece = ej.Piece(case, ej.TruthMap.from_points(r.take_beats, r.ref_beats), "beats")
        outcomes += ej.run_piece(piece, kinds, places, params)[0]
    tables = ej.tables(outcomes, kinds)
    for name, rows in tables.items():
        ej.print_table(f"edits, {name} ({len({o.piece for o in outcomes if name in ('pooled', o.set_name)})} takes)",
                       rows)  # fmt: skip
    return {"tables": tables, "scenarios": [o.to_dict() for o in outcomes]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    build_corpus.add_arguments(parser)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--jumps", action="store_true", help="jump scenarios on the pairs (follower)")
    parser.add_argument("--pauses", action="store_true", help="5-s pauses in pink room noise 20 dB below (follower)")
    parser.add_argument("--places", type=int, default=1, help="edits per kind and take (default 1)")
    parser.add_argument("--per-pair", action="store_true", help="print every pair's figures")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a FollowParams setting")
    args = parser.parse_args()
    if not (corpus.DATA_ROOT / "metadata.csv").exists():
        print(f"no ASAP data at {corpus.DATA_ROOT} (set MATCHER_ASAP)", file=sys.stderr)
        return 2
    methods = list(args.methods)
    if "arzt" in methods and not MM_PYTHON.exists():
        print(f"arzt skipped: {MM_PYTHON} absent (run tools/baselines/setup_matchmaker.sh)")
        methods.remove("arzt")
    params = ef.follow_params(args.param)
    cache = args.cache or corpus.cache_root()
    pairs, names = build_corpus.selected(args)
    config = Config(pitch_backend="yin")
    began = time.perf_counter()
    print(f"{args.split}{' (quick)' if args.quick else ''}: {len(pairs)} pairs, {len(names)} conditions, "
          f"methods {', '.join(methods)}; cache {cache}")  # fmt: skip
    rows: list[dict[str, Any]] = []
    rendered: list[corpus.RenderedPair] = []
    render_s = 0.0
    for p in pairs:
        t0 = time.perf_counter()
        ref_path = corpus.render_pair(p, names[0], cache).ref_audio
        ref = build_reference(ref_path, config, YinModel(config), "ref", track=False)
        ref_s = time.perf_counter() - t0
        for name in names:
            t0 = time.perf_counter()
            r = corpus.render_pair(p, name, cache)
            render_s += time.perf_counter() - t0
            rendered.append(r)
            duration = sf.info(r.take_audio).duration
            for method in methods:
                t0 = time.perf_counter()
                if method == "follow":
                    t, ref_t = run_follow(ref, r.take_audio, params)
                elif method == "compare":
                    t, ref_t = run_compare(ref, r.take_audio, config)
                else:
                    t, ref_t = run_arzt(r.ref_audio, r.take_audio)
                spent = time.perf_counter() - t0
                row = {"pair": p.name, "folder": p.folder, "condition": name, "method": method, "seconds": spent,
                       **score(r, t, ref_t, duration, method != "compare")}  # fmt: skip
                rows.append(row)
                if args.per_pair:
                    s = tracking.shares(row["errors"])
                    print(f"  {p.name:<56}{name:<13}{method:<8}"
                          + " / ".join(f"{s[f'within_{m}']:.0f}" for m in tracking.TOLERANCES_MS)
                          + f"  median {s['median_ms']:.0f} ms  tracked {row['tracked']}  false {row['false_moves']}"
                          + f"  {spent:.1f} s", flush=True)  # fmt: skip
        print(f"  done {p.name} (reference {ref_s:.1f} s), {time.perf_counter() - began:.0f} s so far", flush=True)

    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for name in [*names, "pooled"]:
        figures[name] = {}
        for method in methods:
            mine = [r for r in rows if r["method"] == method and name in ("pooled", r["condition"])]
            figures[name][method] = aggregate(mine)
    print_table(f"{args.split}: beats within N ms (pooled over beats), folder mean beside; tracked pieces; "
                "false moves per hour of take", figures)  # fmt: skip
    pooled = {m: figures["pooled"][m] for m in methods if m != "compare"}
    print("false moves up to the take's last annotated beat (the rest come after it): "
          + ", ".join(f"{m} {f['false_moves_in_music']} of {f['false_moves']}" for m, f in pooled.items()))  # fmt: skip
    eval_s = time.perf_counter() - began
    take_s = sum(r["take_s"] for r in rows if r["method"] == methods[0])
    print(f"\n{take_s / 60:.1f} min of takes per method; wall {eval_s:.0f} s (render/cache {render_s:.0f} s); "
          + ", ".join(f"{m} {figures['pooled'][m]['method_seconds']:.0f} s" for m in methods))  # fmt: skip
    edits = None
    kinds = [*(JUMP_KINDS if args.jumps else ()), *(("noise",) if args.pauses else ())]
    if kinds:
        t0 = time.perf_counter()
        edits = run_edits(rendered, params, args.places, kinds)
        print(f"edits: {time.perf_counter() - t0:.0f} s")
    if args.json:
        out = {
            "command": " ".join(["tools/eval_corpus.py", *sys.argv[1:]]),
            "split": args.split,
            "seed": args.seed,
            "conditions": names,
            "figures": figures,
            "pairs": [{k: v for k, v in r.items() if k != "errors"} | tracking.shares(r["errors"]) for r in rows],
            "edits": edits,
            "params": params.__dict__,
            "seconds": round(time.perf_counter() - began, 1),
        }
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
