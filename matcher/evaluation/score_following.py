"""Score following in the Matchmaker benchmark's form (tools/eval_score_following.py): the score
rendered as the reference, a rendered human performance of the same ASAP piece as the take,
under the corpus's acoustic conditions (:mod:`matcher.evaluation.conditions`).

* **Pieces**: every folder of a split with a performance whose beat labels equal those of
  ``midi_score_annotations.txt`` (its k-th annotated beat is then the score's k-th beat);
  per folder its shortest such performance; ``n`` takes the ``n`` shortest pieces.
* **Reference**: ``midi_score.mid`` through :func:`matcher.notation.build_score_reference`
  (rendered once per piece, shared by every condition, and kept between runs in a
  reference store under the corpus cache, :func:`score_reference`: building it is most of
  a run that follows online).
* **Takes**: the performance MIDI rendered under each condition into the corpus's audio
  cache (:func:`matcher.evaluation.corpus.audio_path`, so a performance the corpus already
  rendered is reused), noise seeded by the performance's name.
* **Errors** on the take's time axis: at each annotated take beat, the score beat the
  method reports there (its reference time interpolated at the beat, turned into a
  fractional beat number by the score's beat times) minus the true beat, times the take's
  local beat period [ms]. A score's seconds depend on the tempo it is rendered at; the
  take's do not.
* **Tracked**: :func:`matcher.evaluation.tracking.tracked` (30-s windows every 10 s, lost
  when their median error exceeds their median beat period).

Methods: ``online`` (:func:`matcher.follow.follow_blocks`), ``offline``
(:func:`matcher.compare.compare`), ``mm_arzt`` (pymatchmaker's Arzt OLTW, audio to audio
against the same rendered score) and ``mm_hmm`` (pymatchmaker's audio score HMM, the
outer-product HMM of Nakamura et al., given the score MIDI itself; its symbolic HMMs take
MIDI performances only).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..align import AlignParams
from ..atomic import write_atomic
from ..audio import file_blocks, file_sha256
from ..compare import compare
from ..config import Config
from ..follow import FollowParams, follow_blocks
from ..notation import build_score_reference, read_score
from ..notation.render import Rendering, TempoMap
from ..reference import Reference, ReferenceStore, build_reference
from . import conditions as cond
from . import corpus, tracking
from .baselines import matchmaker_takes
from .corpus import DATA_ROOT as ASAP
from .corpus_check import note_onsets

WITHIN_MS = (50, 100, 300)
#: A take beat within this of one of the performance's note onsets is played [s]; the
#: others fall in held notes or rests, where ASAP's truth is itself interpolated.
PLAYED_S = 0.03
METHODS = ("online", "offline", "mm_arzt", "mm_hmm")
#: The acoustic conditions of a full run: each plays the take on another instrument than the
#: reference's FluidR3 piano (MuseScore General dry; TimGM6mb in a small room; TiMidity++ in a
#: large hall with pink noise 10 dB below).
CONDITIONS = ("soundfont", "room-small", "hardest")
QUICK_PIECES = 6


@dataclass(frozen=True)
class ScorePiece:
    """One ASAP folder's score and the performance followed against it."""

    split: str
    folder: str
    score_midi: Path
    score_annotations: Path
    performance: corpus.Performance

    @property
    def name(self) -> str:
        return self.performance.name

    def take_beats(self) -> np.ndarray:
        """The performance's annotated beats [s of its MIDI]."""
        return self.performance.beats()[0]

    def score_beats(self) -> np.ndarray:
        """The score's annotated beats [s of the score MIDI]."""
        return corpus.read_annotations(self.score_annotations)[0]


def _label_kinds(labels: tuple[str, ...]) -> list[str]:
    return [label.split(",")[0] for label in labels]


def score_pieces(split: str, n: int | None = None, root: Path | None = None) -> list[ScorePiece]:
    """Every folder of ``split`` with a performance whose beat labels (``b``, ``db``, ``bR``)
    equal its score's and that plays every beat (:func:`corpus.skips_passage`), with the
    shortest such performance; shortest pieces first, ``n`` of them."""
    base = Path(root) if root is not None else ASAP
    with open(base / "metadata.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == split]
    best: dict[str, tuple[float, ScorePiece]] = {}
    for row in rows:
        perf = corpus.Performance(
            row["folder"], split, base / row["midi_performance"], base / row["performance_annotations"]
        )
        score_ann = base / row["midi_score_annotations"]
        times, labels = perf.beats()
        if _label_kinds(labels) != _label_kinds(corpus.read_annotations(score_ann)[1]):
            continue
        if corpus.skips_passage(times):  # a repeat not taken: the take is not the score played through
            continue
        length = float(times[-1])
        if row["folder"] not in best or length < best[row["folder"]][0]:
            piece = ScorePiece(split, row["folder"], base / row["midi_score"], score_ann, perf)
            best[row["folder"]] = (length, piece)
    pieces = [p for _, p in sorted(best.values(), key=lambda v: (v[0], v[1].folder))]
    return pieces[:n] if n else pieces


def render_take(piece: ScorePiece, condition: str, cache: Path | None = None) -> tuple[Path, np.ndarray]:
    """The piece's performance under ``condition`` (rendered or found in the corpus cache)
    and its annotated beats [s of that audio]."""
    c = cond.CONDITIONS[condition]
    perf = piece.performance
    out = corpus.audio_path(cache or corpus.cache_root(), perf, c)
    audio = cond.render(perf.midi, c, out, zlib.crc32(perf.name.encode()))
    return audio, piece.take_beats() * c.time_scale


def score_reference(
    score: Path,
    config: Config,
    model: Any,
    tempo_qpm: float | None,
    rendering: Rendering | None,
    wav: Path,
    cache: Path | None = None,
) -> Reference:
    """The score rendered and built as the reference (named ``score``), its rendering at
    ``wav`` (pymatchmaker follows that audio).

    With ``cache`` (a :class:`~matcher.reference.ReferenceStore` folder) a reference built
    before from the same score file (its bytes), tempo, rendering, configuration and pitch
    model is loaded from there instead, and one built now is added: building is most of a
    run that follows online (dev, every 11th piece x 2 conditions: 988 s in all, 110 s of
    following)."""
    if cache is None:
        return build_score_reference(
            score, config=config, pitch_model=model, name="score", tempo_bpm=tempo_qpm, keep_audio=wav,
            rendering=rendering,
        )  # fmt: skip
    settings = {"score": file_sha256(score), "tempo_qpm": tempo_qpm, "rendering": repr(rendering or Rendering()),
                "config": config.to_dict(), "version": config.version, "pitch": type(model).__name__}  # fmt: skip
    key = "score-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
    store, kept = ReferenceStore(cache), cache / f"{key}.wav"
    if key in store.index() and kept.exists():
        shutil.copyfile(kept, wav)
        return store.load(key, expect=config).renamed("score")
    ref = score_reference(score, config, model, tempo_qpm, rendering, wav)
    store.add(ref.renamed(key), replace=True)
    # (streamed: a long piece's rendering runs to hundreds of MB)
    with open(wav, "rb") as rendered:
        write_atomic(kept, lambda f: shutil.copyfileobj(rendered, f))
    return ref


def played_beats(onsets: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Whether a note onset [s] lies within :data:`PLAYED_S` of each beat [s] (bool per beat)."""
    onsets = np.sort(np.asarray(onsets, np.float64))
    if len(onsets) == 0:
        return np.zeros(len(beats), np.bool_)
    k = np.clip(np.searchsorted(onsets, beats), 1, max(len(onsets) - 1, 1))
    near = np.minimum(np.abs(onsets[k] - beats), np.abs(onsets[k - 1] - beats))
    return near <= PLAYED_S


def beat_errors_ms(
    take_beats: np.ndarray, ref_beats: np.ndarray, report_t: np.ndarray, report_ref_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """|reported score beat - true beat| x the take's local beat period [ms], per take beat.

    Parameters
    ----------
    take_beats, ref_beats : np.ndarray [shape=(n,), s]
        Beat k of the take and of the score's rendering.
    report_t, report_ref_t : np.ndarray [shape=(m,), s]
        The method's answers: take time (non-decreasing) and reference time.

    Returns
    -------
    (errors, period) : np.ndarray [shape=(n,), ms]
        The errors, and the take's local beat period at each beat.
    """
    ref_t = np.interp(take_beats, report_t, report_ref_t)
    k = np.arange(len(ref_beats), dtype=np.float64)
    slope_lo = 1.0 / (ref_beats[1] - ref_beats[0])
    slope_hi = 1.0 / (ref_beats[-1] - ref_beats[-2])
    beat = np.interp(ref_t, ref_beats, k)
    beat = np.where(ref_t < ref_beats[0], (ref_t - ref_beats[0]) * slope_lo, beat)
    beat = np.where(ref_t > ref_beats[-1], k[-1] + (ref_t - ref_beats[-1]) * slope_hi, beat)
    period = np.gradient(take_beats)
    return np.abs(beat - k) * period * 1000.0, period * 1000.0


def player_qpm(marks: TempoMap, score_beats: np.ndarray, take_beats: np.ndarray) -> float:
    """The take's mean tempo [quarter notes per minute]: what a player would give as ``--tempo``.

    ``score_beats`` are in seconds of the score MIDI (its tempo marks, no lead-in)."""
    q = marks.quarters(score_beats + marks.lead_s)
    return float(60.0 * (q[-1] - q[0]) / (take_beats[-1] - take_beats[0]))


@dataclass(frozen=True)
class Scored:
    """One method on one take: errors [ms] per take beat, tracked, seconds the method took."""

    errors: np.ndarray
    tracked: bool
    windows_lost: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"errors": [round(float(e), 1) for e in self.errors], "tracked": self.tracked,
                "windows_lost": self.windows_lost, "seconds": round(self.seconds, 2)}  # fmt: skip


def _scored(take_beats: np.ndarray, ref_beats: np.ndarray, t: np.ndarray, ref_t: np.ndarray, spent: float) -> Scored:
    err, _ = beat_errors_ms(take_beats, ref_beats, np.asarray(t, np.float64), np.asarray(ref_t, np.float64))
    ok, lost, _ = tracking.tracked(take_beats, err)
    return Scored(err, ok, lost, spent)


def run_piece(
    piece: ScorePiece,
    conditions: list[str],
    methods: list[str],
    config: Config,
    model: Any,
    folder: Path,
    mm_python: Path | None = None,
    at_player_tempo: bool = False,
    cache: Path | None = None,
    params: FollowParams | None = None,
    rendering: Rendering | None = None,
    align: AlignParams | None = None,
    ref_cache: Path | None = None,
) -> list[dict[str, Any]]:
    """One piece: its score rendered once (in ``folder``), then every method on its take
    under every condition.

    ``at_player_tempo``: the score rendered at the take's mean tempo (as a player's
    ``--tempo``) instead of its tempo marks. The pymatchmaker methods need ``mm_python``;
    ``params``: the follower's settings (default ``FollowParams.for_score()``); ``rendering``: how the
    score is played (default :class:`matcher.notation.render.Rendering`); ``align``: the
    offline method's settings (default ``AlignParams()``: two passes); ``ref_cache``: where
    built score references are kept between runs (:func:`score_reference`; None: built
    every time).

    Returns
    -------
    list[dict]
        One row per condition: ``piece``, ``folder``, ``condition``, ``beats``, ``seconds``
        (take length [s]), ``tempo_qpm`` (the rendering's fixed tempo, or None),
        ``take_vs_marks`` (the take's mean tempo over the marks' mean tempo) and per method
        its :class:`Scored`.
    """
    _, marks, _ = read_score(piece.score_midi)
    score_beats = piece.score_beats()
    take_qpm = player_qpm(marks, score_beats, piece.take_beats())
    # how fast the player is against the marks (> 1: faster), as the marks' mean tempo over the beats
    marks_qpm = player_qpm(marks, score_beats, score_beats)
    tempo_qpm = take_qpm if at_player_tempo else None
    ref_wav = folder / "score.wav"
    ref = score_reference(piece.score_midi, config, model, tempo_qpm, rendering, ref_wav, ref_cache)
    rendering_map = marks if tempo_qpm is None else TempoMap(np.zeros(1), np.array([tempo_qpm]))
    rendering_map = rendering_map.scaled((rendering or Rendering()).speed)
    # the annotated score beats in seconds of the rendering, through their quarter positions
    ref_beats = rendering_map.seconds(marks.quarters(score_beats + marks.lead_s))
    rows = []
    played = [bool(v) for v in played_beats(note_onsets(piece.performance.midi), piece.take_beats())]
    takes = [render_take(piece, name, cache) for name in conditions]
    for name, (take_wav, take_beats) in zip(conditions, takes, strict=True):
        row: dict[str, Any] = {"piece": piece.name, "folder": piece.folder, "condition": name,
                               "beats": len(take_beats), "seconds": round(float(take_beats[-1]), 1),
                               "tempo_qpm": tempo_qpm, "take_vs_marks": round(take_qpm / marks_qpm, 3),
                               "played": played}  # fmt: skip
        if "online" in methods:
            t0 = time.perf_counter()
            track = follow_blocks(ref, (b for b, _ in file_blocks(take_wav, config.sr)), params)
            row["online"] = _scored(take_beats, ref_beats, track.t, track.ref_t, time.perf_counter() - t0)
        if "offline" in methods:
            t0 = time.perf_counter()
            alignment = compare(ref, build_reference(take_wav, config, model, "take", track=False), align).alignment
            row["offline"] = _scored(take_beats, ref_beats, alignment.b_t, alignment.a_t, time.perf_counter() - t0)
        rows.append(row)
    wavs = [w for w, _ in takes]
    if "mm_arzt" in methods and mm_python is not None:
        t0 = time.perf_counter()
        outs = matchmaker_takes("arzt", wavs, ref_audio=ref_wav, python=mm_python)
        spent = (time.perf_counter() - t0) / len(wavs)  # one process for all conditions
        for row, (_, take_beats), out in zip(rows, takes, outs, strict=True):
            rep = np.asarray(out["reports"], np.float64)
            row["mm_arzt"] = _scored(take_beats, ref_beats, rep[:, 0], rep[:, 1], spent)
    if "mm_hmm" in methods and mm_python is not None:
        t0 = time.perf_counter()
        outs = matchmaker_takes("outerhmm", wavs, score=piece.score_midi, python=mm_python)
        spent = (time.perf_counter() - t0) / len(wavs)
        for row, (_, take_beats), out in zip(rows, takes, outs, strict=True):
            rep = np.asarray(out["reports"], np.float64)
            # its quarters count from the score file's time 0; ours from the first note's bar
            shift = float(np.min(ref.score.note_q)) - float(out["first_onset_quarter"])
            row["mm_hmm"] = _scored(take_beats, ref_beats, rep[:, 0], rendering_map.seconds(rep[:, 1] + shift), spent)
    return rows


def summarise(rows: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """One method's figures pooled over rows: shares within WITHIN_MS [%], median [ms],
    tracked pieces [%], takes, seconds the method took; empty when no row has the method."""
    runs: list[Scored] = [r[method] for r in rows if method in r]
    if not runs:
        return {}
    err = np.concatenate([r.errors for r in runs])
    out: dict[str, Any] = {f"within_{ms}": round(100.0 * float(np.mean(err <= ms)), 1) for ms in WITHIN_MS}
    out["median_ms"] = round(float(np.median(err)), 1)
    if all("played" in r for r in rows if method in r):
        # beats on a note against beats in held notes and rests (truth interpolated there)
        played = np.concatenate([np.asarray(r["played"], np.bool_) for r in rows if method in r])
        for key, mask in (("played", played), ("unplayed", ~played)):
            share = float(np.mean(err[mask] <= 50)) if mask.any() else float("nan")
            out[f"within_50_{key}"] = round(100.0 * share, 1)
        out["unplayed_share"] = round(100.0 * float(np.mean(~played)), 1)
    out["tracked"] = round(100.0 * float(np.mean([r.tracked for r in runs])), 1)
    out["takes"] = len(runs)
    out["method_s"] = round(sum(r.seconds for r in runs), 1)
    return out


def by_condition(rows: list[dict[str, Any]], methods: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{condition (and "pooled"): {method: summarise}}``, conditions in the rows' order."""
    names = list(dict.fromkeys(r["condition"] for r in rows))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in [*names, "pooled"]:
        mine = [r for r in rows if name in ("pooled", r["condition"])]
        out[name] = {m: s for m in methods if (s := summarise(mine, m))}
    return out


def piece_line(row: dict[str, Any]) -> str:
    """One row of :func:`run_piece` on a line: beats, seconds, each method's ≤50 / ≤300 ms shares."""
    cells = []
    for m in METHODS:
        if m in row:
            s = summarise([row], m)
            cells.append(f"{m} {s['within_50']:5.1f}/{s['within_300']:5.1f}{'' if row[m].tracked else ' LOST'}")
    head = f"{row['folder']:<42} {row['condition']:<11}{row['beats']:5d} beats {row['seconds']:6.1f} s "
    head += f"x{row['take_vs_marks']:.2f}  "
    return head + "  ".join(cells)


def summary_table(figures: dict[str, dict[str, dict[str, Any]]]) -> str:
    """:func:`by_condition` figures, a row per condition and method; ``played/unplayed``: the
    share within 50 ms at beats on a note and at beats in held notes or rests."""
    lines = [f"{'condition':<12}{'method':<9}{'<=50 ms':>8} {'<=100 ms':>9} {'<=300 ms':>9} {'median':>8} "
             f"{'tracked':>8} {'takes':>6} {'time':>7}  <=50 played/unplayed"]  # fmt: skip
    for name, methods in figures.items():
        for method, s in methods.items():
            split = f"  {s['within_50_played']:5.1f}/{s['within_50_unplayed']:5.1f}%" if "within_50_played" in s else ""
            lines.append(
                f"{name:<12}{method:<9}{s['within_50']:7.1f}% {s['within_100']:8.1f}% {s['within_300']:8.1f}% "
                f"{s['median_ms']:6.1f}ms {s['tracked']:7.1f}% {s['takes']:6d} {s['method_s']:6.0f}s{split}"
            )
    return "\n".join(lines)
