"""Whole commands against their floors (tools/bench_cli.py; its docstring says what is
measured): the test pair, a command measured in a fresh process, the in-process split of
where the CPU goes, and the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .data import DATA_ROOT
from .measure import TimedModel

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPICE = REPO.parent / "shared" / "models" / "spice_1"
PAIR_SR = 22050  # [Hz] rate of the generated pair (the reference rate 16 kHz is resampled to)

#: What a stored reference is followed against (Chopin piano, then samulnori-like
#: percussion: reference performances and their takes, in the same order).
_PIANO = "vienna_chopin_op10_3/Chopin_op10_no3_p0{}_fluidsynth.flac"
_PERC = "percussion/perc7_0{}_{}.flac"


def _sources(data: Path) -> tuple[list[Path], list[Path]]:
    ref = [data / _PIANO.format(k) for k in (1, 3, 5, 7)] + [data / _PERC.format(k, "ref") for k in range(3)]
    take = [data / _PIANO.format(k) for k in (2, 4, 6, 8)] + [data / _PERC.format(k, "take") for k in range(3)]
    return (ref, take) if all(p.is_file() for p in ref + take) else ([], [])


def make_pair(folder: Path, minutes: float, data: Path = DATA_ROOT) -> tuple[Path, Path, str]:
    """A reference and a take of ``minutes`` each (22.05 kHz mono FLAC): the shared piano
    and percussion performances concatenated, their takes in the same order, looped;
    without the shared data, synthetic notes and clicks with a noisier take."""
    import soundfile as sf

    from matcher.audio import read_audio

    from .bench_preprocess import _synthetic_source

    refs, takes = _sources(data)
    if refs:
        sides = {"ref": [read_audio(p, PAIR_SR) for p in refs], "take": [read_audio(p, PAIR_SR) for p in takes]}
        what = f"{len(refs)} shared performances and their takes, concatenated and looped"
    else:
        x = _synthetic_source(PAIR_SR)
        noise = np.random.default_rng(2).normal(0, 0.01, len(x)).astype(np.float32)
        sides = {"ref": [x], "take": [x + noise]}
        what = "synthetic notes and clicks looped (the take with noise)"
    n = int(minutes * 60 * PAIR_SR)
    paths = []
    for side, parts in sides.items():
        joined = np.concatenate(parts)
        path = folder / f"{side}_{minutes:g}min.flac"
        sf.write(str(path), np.resize(joined, n), PAIR_SR, subtype="PCM_16")
        paths.append(path)
    return paths[0], paths[1], what


#: Runs a command and prints its rusage as JSON. A small process of its own: Linux keeps
#: the peak RSS across exec, so a command forked straight from this (large) process would
#: report this process's size as its own peak.
_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"rc": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - start,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "stderr": err.decode(errors="replace")[-2000:]}))
"""


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` to its end: its own CPU seconds (user + system, from wait4: a shared
    machine does not inflate them as it does wall time), wall seconds and peak RSS [MB]."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", _LAUNCHER, *cmd], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"launcher failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["rc"] != 0:
        tail = out["stderr"].strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({out['rc']}): {' / '.join(tail)}")
    return {k: out[k] for k in ("cpu_s", "wall_s", "peak_rss_mb")}


def best_of(repeat: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The run with the least CPU of ``repeat``, with every run's CPU seconds."""
    runs = [run() for _ in range(max(1, repeat))]
    best = min(runs, key=lambda r: r["cpu_s"])
    return {**best, "cpu_runs": [round(r["cpu_s"], 2) for r in runs]}


# -- where the CPU goes, in one process ----------------------------------------------------


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def split_follow_stored(store: Path, name: str, take: Path) -> dict[str, float]:
    """CPU seconds of the parts of ``follow NAME --input TAKE --jsonl FILE``, each run on
    its own in this process (matcher is imported already: the start-up is the floor row's):
    loading the reference, decoding + resampling the take, its features, the follower
    (kernel and per-call Python) and the JSON lines."""
    parts: dict[str, float] = {}
    from matcher import ReferenceStore, file_blocks
    from matcher.features import FeatureStream, NoPitch
    from matcher.features.spectral import spectral_tables
    from matcher.follow import Follower, positions_jsonl
    from matcher.resolve import load_stored

    ref, parts["load stored reference"] = _cpu(lambda: load_stored(ReferenceStore(store), name))
    _, parts["spectral tables"] = _cpu(lambda: spectral_tables(ref.config))
    blocks, parts["decode + resample"] = _cpu(lambda: [b for b, _ in file_blocks(take, ref.config.sr)])

    def features() -> list[Any]:
        stream = FeatureStream(ref.config, NoPitch(ref.config))
        return [stream.push(b) for b in blocks] + [stream.flush()]

    chunks, parts["features"] = _cpu(features)
    parts[f"{BASELINE}librosa, the whole signal at once"] = librosa_features_cpu(ref.config, np.concatenate(blocks))
    follower = Follower(ref)
    tracks, parts["follower (kernel + Python)"] = _cpu(lambda: [follower.steps(c) for c in chunks if len(c)])
    _, parts["JSON lines"] = _cpu(lambda: [positions_jsonl(t, ref) for t in tracks])
    return parts


#: Split parts that are a yardstick for the part before them, not a part of the command.
BASELINE = "  baseline: "


def librosa_features_cpu(config: Any, audio: np.ndarray) -> float:
    """CPU seconds of librosa's own whole-signal features for the frames matcher's front end
    makes (the baseline of its "features" part): STFT (centred, same n_fft and hop), mel
    bands, their log and per-band onset flux (``onset_strength_multi``, lag 1), chroma and
    the frame level; after a warm-up on one second, imports done."""
    import librosa

    def run(x: np.ndarray) -> None:
        power = np.abs(librosa.stft(x, n_fft=config.n_fft, hop_length=config.hop, center=True)) ** 2
        mel = librosa.feature.melspectrogram(
            S=power, sr=config.sr, n_mels=config.n_bands, fmin=config.fmin, fmax=config.fmax
        )
        librosa.onset.onset_strength_multi(S=librosa.power_to_db(mel), lag=1, max_size=1)
        librosa.feature.chroma_stft(S=power, sr=config.sr, n_fft=config.n_fft)
        librosa.feature.rms(S=np.sqrt(power), frame_length=config.n_fft)

    run(audio[: config.sr])
    return _cpu(lambda: run(audio))[1]


def split_follow_audio(ref: Path, take: Path, pitch_model: str) -> dict[str, float]:
    """CPU seconds of the parts of ``follow REF.flac --input TAKE --pitch spice``, each on
    its own in this process (matcher imported already): TensorFlow's import, the SPICE
    model's load and calibration, the reference's features with SPICE inference apart,
    its beats, following the take."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from matcher.features.spice import prepare_tensorflow

    prepare_tensorflow()
    parts: dict[str, float] = {}
    _, parts["import tensorflow + hub"] = _cpu(lambda: (__import__("tensorflow"), __import__("tensorflow_hub")))
    from matcher import Config, build_reference
    from matcher.api import follow
    from matcher.beats import track_beats
    from matcher.features.spice import load_spice

    config = Config(pitch_backend="spice")
    model, parts["SPICE load + calibration"] = _cpu(lambda: load_spice(config, pitch_model))
    timed = TimedModel(model, clock=time.process_time)
    start = time.process_time()
    reference = build_reference(ref, config, timed, track=False)
    total = time.process_time() - start
    parts["SPICE inference"] = timed.seconds
    parts["reference: decode, spectral features"] = total - timed.seconds
    beats, parts["reference beats"] = _cpu(lambda: track_beats(reference.frames.onset, config.sr, config.hop))
    reference = reference.with_beats(beats)
    _, parts["following the take"] = _cpu(lambda: follow(reference, take))
    return parts


# -- the run --------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def matcher_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "matcher", *args]


def run(
    *,
    minutes_stored: float,
    minutes_audio: float,
    pitch_model: str | None,
    repeat: int,
    split: bool,
    tool: Path,
) -> dict[str, Any]:
    """Both commands and their floors, each ``repeat`` times in fresh processes (the least
    CPU counts); with ``split``, where the CPU goes (a worker process per command)."""
    env = _env()
    out: dict[str, Any] = {"rows": [], "splits": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / "store"
        ref, take, what = make_pair(folder, minutes_stored)
        out["pair"] = what
        audio_s = minutes_stored * 60
        measure(matcher_cmd("reference", "add", str(ref), "--name", "ref", "--store", str(store), "--pitch", "yin",
                            "--quiet"), env)  # fmt: skip
        jsonl = folder / "positions.jsonl"
        follow = matcher_cmd("follow", "ref", "--input", str(take), "--store", str(store), "--jsonl", str(jsonl))
        measure([*follow, "--quiet"], env)  # caches (numba, filterbanks) made once, as after any first run
        floor = best_of(repeat, lambda: measure(matcher_cmd("--help"), env))
        row = best_of(repeat, lambda: measure([*follow, "--quiet"], env))
        out["rows"].append({"command": "follow STORED --input TAKE --jsonl FILE", "audio_s": audio_s, **row})
        out["rows"].append({"command": "  floor: matcher --help (interpreter + CLI)", "audio_s": audio_s, **floor})
        if split:
            out["splits"]["follow STORED"] = _split_in_worker(tool, env, "stored", store, take)
        if pitch_model:
            ref10, take10, _ = make_pair(folder, minutes_audio)
            audio10 = minutes_audio * 60
            cmd = matcher_cmd("follow", str(ref10), "--input", str(take10), "--pitch", "spice", "--pitch-model",
                              pitch_model, "--quiet")  # fmt: skip
            row = best_of(repeat, lambda: measure(cmd, env))
            tf = best_of(repeat, lambda: measure([sys.executable, "-c", "import tensorflow"], env))
            hub = [sys.executable, "-c", f"import tensorflow_hub as h; h.load({pitch_model!r})"]
            spice = best_of(repeat, lambda: measure(hub, env))
            out["rows"].append({"command": "follow REF.flac --input TAKE --pitch spice", "audio_s": audio10, **row})
            out["rows"].append({"command": "  floor: import tensorflow", "audio_s": audio10, **tf})
            out["rows"].append({"command": "  floor: + tensorflow_hub.load(SPICE)", "audio_s": audio10, **spice})
            if split:
                out["splits"]["follow REF.flac (SPICE)"] = _split_in_worker(
                    tool, env, "audio", ref10, take10, pitch_model
                )
    return out


def _split_in_worker(tool: Path, env: dict[str, str], kind: str, *args: Any) -> dict[str, float]:
    from .measure import run_worker

    return run_worker([sys.executable, str(tool), "--split-worker", kind, *map(str, args)], env)


def split_worker(kind: str, args: list[str]) -> dict[str, float]:
    if kind == "stored":
        store, take = args
        return split_follow_stored(Path(store), "ref", Path(take))
    ref, take, pitch_model = args
    return split_follow_audio(Path(ref), Path(take), pitch_model)


def print_report(out: dict[str, Any]) -> None:
    """The rows (RTF = audio seconds per CPU second; each command's ratio is against the
    floor row(s) below it) and the splits."""
    print(f"pair: {out['pair']}\n")
    head = f"{'command':46} {'audio s':>7} {'cpu s':>6} {'RTF cpu':>8} {'wall s':>7} {'peak RSS MB':>11}  cpu runs"
    print(head)
    print("-" * len(head))
    command = None
    for r in out["rows"]:
        is_floor = r["command"].startswith("  floor")
        if not is_floor:
            command = r
        ratio = ""
        if is_floor and command is not None:
            rss = command["peak_rss_mb"] / r["peak_rss_mb"]
            ratio = f"  (command: {command['cpu_s'] / r['cpu_s']:.1f}x its cpu, {rss:.2f}x its RSS)"
        print(
            f"{r['command']:46} {r['audio_s']:>7.0f} {r['cpu_s']:>6.2f} {r['audio_s'] / r['cpu_s']:>7.0f}x "
            f"{r['wall_s']:>7.2f} {r['peak_rss_mb']:>11.0f}  {' '.join(map(str, r['cpu_runs']))}" + ratio
        )
    for name, parts in out.get("splits", {}).items():
        total = sum(v for k, v in parts.items() if not k.startswith(BASELINE))
        print(
            f"\nwhere the CPU goes, {name} (each part alone, in one process after matcher's imports; "
            f"total {total:.2f} s):"
        )
        previous = None
        for part, seconds in parts.items():
            ratio = f"  (the part above: {previous / seconds:.2f}x its cpu)" if part.startswith(BASELINE) else ""
            print(f"  {part:46} {seconds:6.2f} s{ratio}")
            previous = seconds
