"""Accuracy of the online follower, side by side with the baselines.

Sets:
* ``synth-melodic`` / ``synth-percussion``: pairs generated here (``matcher.synth``) with
  exact ground truth at every beat: tempo curves of ±30 %, rubato, a pause;
* ``piano`` / ``percussion``: the pairs of ../shared/data (see its README), when present.

Metric (the same for every method): for each annotated take beat at time tB, the
follower's ``ref_t`` reports are interpolated linearly at tB, where each report's ``t``
is when a live system could first have shown it; the error is the distance to the
annotated reference time. Reported per set: share within 50/100/200 ms, mean and median.

Baselines: ``--run-baselines`` runs pymatchmaker (Arzt/chroma, Dixon/log-spectral) and
the offline librosa chroma DTW in the same run (tools/baselines; pymatchmaker in its
own virtual environment, made by tools/baselines/setup_matchmaker.sh).

    .venv/bin/python tools/eval_follow.py [--sets piano percussion synth-melodic synth-percussion]
        [--run-baselines] [--json OUT] [--param NAME=VALUE ...]

Jumps, restarts, pauses and dropped audio (the takes edited with exact truth; re-lock
time, accuracy outside the jumps) are the scenarios of tools/eval_jumps.py, also run as
``tools/eval_follow.py --jumps [its options]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "baselines"))
import pairs as shared_pairs  # noqa: E402  (tools/ is not a package)

from matcher import Config, build_reference  # noqa: E402
from matcher.features import YinModel  # noqa: E402
from matcher.follow import FollowParams, follow_blocks  # noqa: E402
from matcher.synth import TempoMap, melody, percussion, render  # noqa: E402

CONFIG_OVERRIDES: dict = {}  # experiments: feature settings other than the defaults


@dataclass(frozen=True)
class Case:
    """One reference -> take pair with corresponding beat times (take, reference)."""

    set_name: str
    name: str
    ref_audio: Path
    take_audio: Path
    take_beats: np.ndarray
    ref_beats: np.ndarray


def shared_cases(sets: list[str]) -> list[Case]:
    cases = []
    for p in shared_pairs.all_pairs():
        if p.set_name in sets and p.ref_audio.exists() and p.take_audio.exists():
            take_t, ref_t = shared_pairs.joined_beats(p)
            cases.append(Case(p.set_name, p.name, p.ref_audio, p.take_audio, take_t, ref_t))
    return cases


def synth_warps(n_beats: float, seed: int) -> list[tuple[str, TempoMap]]:
    """Take tempo maps against a steady 100 bpm reference: a ±30 % curve, rubato, a pause."""
    rng = np.random.default_rng(seed)
    knots = tuple(np.linspace(0, n_beats, 5))
    curve = TempoMap(knots, tuple(100 * np.array([0.7, 1.0, 1.3, 1.1, 0.8])))
    rk = tuple(np.arange(0, n_beats + 2, 2.0))
    rubato = TempoMap(rk, tuple(100 * (1 + 0.15 * rng.uniform(-1, 1, len(rk)))))
    pause = TempoMap((0.0, n_beats), (90.0, 110.0), {float(n_beats // 2): 3.0})
    return [("curve", curve), ("rubato", rubato), ("pause", pause)]


def synth_cases(sets: list[str], folder: Path) -> list[Case]:
    sr = Config().sr
    cases = []
    for kind in ("melodic", "percussion"):
        set_name = f"synth-{kind}"
        if set_name not in sets:
            continue
        for piece in range(2):
            notes = melody(10, 4, seed=piece) if kind == "melodic" else percussion(4, seed=piece)
            n_beats = max(n.beat + n.length for n in notes)
            ref_map = TempoMap((0.0, n_beats), (100.0, 100.0))
            ref_path = folder / f"{kind}{piece}_ref.wav"
            sf.write(ref_path, render(notes, ref_map, sr, timbre=0), sr)
            beats = np.arange(0.0, np.floor(n_beats) + 1)
            for warp_name, take_map in synth_warps(n_beats, seed=piece):
                take_path = folder / f"{kind}{piece}_{warp_name}.wav"
                sf.write(take_path, render(notes, take_map, sr, timbre=1, noise_db=30.0, seed=piece + 7), sr)
                cases.append(
                    Case(
                        set_name,
                        f"{kind}{piece}-{warp_name}",
                        ref_path,
                        take_path,
                        take_map.seconds(beats),
                        ref_map.seconds(beats),
                    )
                )
    return cases


def run_follower(case: Case, params: FollowParams) -> tuple[np.ndarray, float, float]:
    """Beat errors [ms], seconds spent following, and take seconds followed."""
    from matcher.audio import file_blocks

    config = Config(pitch_backend="yin", **CONFIG_OVERRIDES)
    ref = build_reference(case.ref_audio, config, YinModel(config), "ref")
    start = time.perf_counter()
    track = follow_blocks(ref, (b for b, _ in file_blocks(case.take_audio, config.sr)), params)
    spent = time.perf_counter() - start
    errors = shared_pairs.score_answers(case.take_beats, case.ref_beats, track.t, track.ref_t)
    return errors, spent, float(track.t[-1])


def print_table(results: dict[str, dict[str, dict]]) -> None:
    for set_name, methods in results.items():
        print(f"\n{set_name}")
        print(f"  {'method':<24}{'≤50 ms':>8}{'≤100 ms':>9}{'≤200 ms':>9}{'mean ms':>9}{'median':>8}{'n':>5}")
        for method, r in methods.items():
            print(
                f"  {method:<24}{r['within_50']:>7.1f}%{r['within_100']:>8.1f}%{r['within_200']:>8.1f}%"
                f"{r['mean_ms']:>9.1f}{r['median_ms']:>8.1f}{r['n']:>5}"
            )


def follow_params(settings: list[str]) -> FollowParams:
    """FollowParams with ``NAME=VALUE`` settings (numbers) over the defaults."""
    defaults = FollowParams()
    values = {}
    for item in settings:
        name, _, value = item.partition("=")
        if not hasattr(defaults, name) or not value:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE with NAME a FollowParams field")
        values[name] = type(getattr(defaults, name))(float(value))
    return replace(defaults, **values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    all_sets = ["piano", "percussion", "synth-melodic", "synth-percussion"]
    parser.add_argument("--sets", nargs="+", default=all_sets, choices=all_sets)
    parser.add_argument("--run-baselines", action="store_true", help="run pymatchmaker and chroma DTW too")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--per-pair", action="store_true", help="print each pair's figures")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a FollowParams setting")
    args = parser.parse_args()

    params = follow_params(args.param)
    results: dict[str, dict[str, dict]] = {}
    per_pair = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = shared_cases(args.sets) + synth_cases(args.sets, Path(tmp))
        if not cases:
            print("no evaluation pairs found (../shared/data absent and no synthetic set chosen)", file=sys.stderr)
            return 2
        errors: dict[str, list[np.ndarray]] = {}
        spent = followed = 0.0
        for case in cases:
            e, s, f = run_follower(case, params)
            spent, followed = spent + s, followed + f
            errors.setdefault(case.set_name, []).append(e)
            row = {"set": case.set_name, "pair": case.name, **shared_pairs.summarize(e)}
            per_pair.append(row)
            if args.per_pair:
                print(f"{case.set_name:<18}{case.name:<26}{row['within_50']:6.1f}%{row['within_100']:6.1f}%"
                      f"{row['within_200']:6.1f}%  median {row['median_ms']:.1f} ms")  # fmt: skip
        for set_name, errs in errors.items():
            results[set_name] = {"matcher": shared_pairs.summarize(np.concatenate(errs))}

    if args.run_baselines:
        results = merge_baselines(results, [s for s in args.sets if s in ("piano", "percussion")])
    print_table(results)
    print(
        f"\nmatcher: {followed:.0f} s of takes followed in {spent:.1f} s "
        f"({followed / spent:.0f}x real time, features and steps, one process); "
        f"algorithmic latency {Config().n_ahead / Config().sr * 1000:.0f} ms "
        "(newest settled frame's centre behind t)"
    )
    if args.json:
        args.json.write_text(json.dumps({"sets": results, "pairs": per_pair, "params": params.__dict__}, indent=1))
    return 0


def merge_baselines(results: dict[str, dict[str, dict]], sets: list[str]) -> dict[str, dict[str, dict]]:
    """Run tools/baselines/eval_baselines.py on the shared sets and add its rows."""
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(HERE / "baselines" / "eval_baselines.py"), "--json", out.name, "--sets", *sets]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        base = json.loads(Path(out.name).read_text())["sets"]
    for set_name, methods in base.items():
        for method, figures in methods.items():
            results.setdefault(set_name, {})[method] = figures
    return results


if __name__ == "__main__":
    if "--jumps" in sys.argv[1:]:
        sys.argv.remove("--jumps")
        import eval_jumps

        sys.exit(eval_jumps.main())
    sys.exit(main())
