"""Timing a score (tempo map: quarter notes -> seconds) and rendering it to audio with the
FluidSynth program and a General MIDI soundfont.

The score's notes are written to a standard MIDI file (one channel per part with its
General MIDI program; percussion on channel 10) at 1 tick = 1 ms, and ``fluidsynth -F``
renders it offline to a WAV file. Nothing is fetched from the network: the soundfont is
a file on disk (Debian's ``fluid-soundfont-gm`` or ``timgm6mb-soundfont`` by default).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError, MatcherError, ParameterError
from .parse import DEFAULT_QPM, Notation

#: Where Debian's General MIDI soundfonts are installed, best first.
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/soundfonts/default.sf2",
)
#: Environment variable naming a soundfont to use instead of the Debian ones.
SOUNDFONT_ENV = "MATCHER_SOUNDFONT"
#: Rate of the rendered audio [Hz].
RENDER_SR = 22050
#: Silence rendered after the last note ends [s] (release and reverb tails).
TAIL_S = 1.0
#: Silence rendered before the first note [s]: the first onset gets a frame of quiet before it.
LEAD_S = 0.5


@dataclass(frozen=True)
class Rendering:
    """How a score is played into the MIDI file that is rendered.

    speed : float in [0.25, 4]
        The rendering's tempo over the asked one (marks or a fixed tempo). Measured on ASAP
        dev pieces (tools/eval_score_following.py --speed, 14 pieces x soundfont/hardest,
        online): beats within 50 ms 57.4 % at 1.0, 59.0 % at 1.15, 57.5 % at 1.3 (with the
        follower's far moves off 60.9 / 65.2 / 65.2 %); at the player's own tempo 55.7 % at
        1.0, 61.8 % at 1.25, 54.0 % at 1.6: the follower may hold a reference frame as long
        as it likes but advance at most two per take frame. Not the default: a faster
        reference would also shift the tempo that ``follow`` and ``compare`` report. With
        the follower of 2026-12-07 a faster rendering no longer helps (dev, every 11th
        piece x soundfont/hardest, online: 66.8 / 64.5 / 59.9 % at 1.0 / 1.15 / 1.3).
    """

    speed: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.speed, (int, float)) and 0.25 <= self.speed <= 4.0):
            raise ParameterError(f"bad speed {self.speed!r}: give a factor 0.25 to 4")


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: ``qpm[k]`` quarter notes per minute from ``q[k]`` on.

    ``q[0]`` is 0; the first tempo mark also holds before its place. The score starts
    ``lead_s`` seconds into the rendering.
    """

    q: np.ndarray
    qpm: np.ndarray
    lead_s: float = LEAD_S

    @classmethod
    def from_notation(cls, notation: Notation, tempo_bpm: float | None = None) -> TempoMap:
        """The score's tempo marks, or one constant ``tempo_bpm`` [quarter notes per minute]."""
        if tempo_bpm is not None:
            if not (isinstance(tempo_bpm, (int, float)) and 10.0 <= tempo_bpm <= 1000.0):
                raise ParameterError(f"bad tempo {tempo_bpm!r}: give quarter notes per minute, 10 to 1000")
            return cls(np.zeros(1), np.array([float(tempo_bpm)]))
        marks = [(q, bpm) for q, bpm, _ in notation.tempo_marks]
        if not marks:
            return cls(np.zeros(1), np.array([DEFAULT_QPM]))
        by_q: dict[float, float] = {}
        for q, bpm in sorted(marks, key=lambda m: m[0]):
            by_q[round(max(q, 0.0), 9)] = bpm  # several marks at one place: the last one
        q = np.array(sorted(by_q))
        qpm = np.array([by_q[k] for k in q])
        q[0] = 0.0  # the first mark also holds before its place
        return cls(q, qpm)

    def scaled(self, speed: float) -> TempoMap:
        """This map with every tempo times ``speed``."""
        return TempoMap(self.q, self.qpm * float(speed), self.lead_s)

    def seconds(self, q: np.ndarray | float) -> np.ndarray:
        """Seconds [s] from the start at quarter position(s) ``q``."""
        q = np.asarray(q, np.float64)
        spq = 60.0 / self.qpm
        starts = np.r_[0.0, np.cumsum(np.diff(self.q) * spq[:-1])]
        k = np.clip(np.searchsorted(self.q, q, side="right") - 1, 0, len(self.q) - 1)
        return self.lead_s + starts[k] + (q - self.q[k]) * spq[k]

    def quarters(self, seconds: np.ndarray | float) -> np.ndarray:
        """Quarter positions at ``seconds`` [s] of the rendering: the inverse of
        :meth:`seconds`, continued at the first and last tempo beyond the marks."""
        spq = 60.0 / self.qpm
        starts = self.lead_s + np.r_[0.0, np.cumsum(np.diff(self.q) * spq[:-1])]
        s = np.asarray(seconds, np.float64)
        k = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(starts) - 1)
        return self.q[k] + (s - starts[k]) / spq[k]


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path:
    """The soundfont to render with: ``soundfont``, else ``$MATCHER_SOUNDFONT``, else the
    first of Debian's General MIDI soundfonts that is installed."""
    if soundfont is None:
        soundfont = os.environ.get(SOUNDFONT_ENV) or None
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file() or path.stat().st_size == 0:
            raise InputFileError(f"{path}: no such soundfont file")
        return path
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise MatcherError(
        "no General MIDI soundfont found to render the score: install Debian's fluid-soundfont-gm "
        f"(or timgm6mb-soundfont), or pass --soundfont FILE or set {SOUNDFONT_ENV}"
    )


def _channels(notation: Notation) -> list[int]:
    """A MIDI channel per part: percussion on 9 (GM channel 10), others 0-15 without 9."""
    free = [c for c in range(16) if c != 9]
    out = []
    for i, part in enumerate(notation.parts):
        out.append(9 if part.percussion else free[i % len(free)])
    return out


def write_midi(notation: Notation, tempo: TempoMap, path: str | os.PathLike) -> float:
    """Write the score's notes, timed by ``tempo``, as a MIDI file; returns its length [s]."""
    import mido

    channels = _channels(notation)
    notes = notation.notes
    on = tempo.seconds(notes["onset_q"])
    off = np.maximum(tempo.seconds(notes["onset_q"] + notes["duration_q"]), on + 0.02)
    events: list[tuple[int, int, mido.Message]] = []
    for i, part in enumerate(notation.parts):
        if channels[i] != 9:
            events.append((0, 0, mido.Message("program_change", program=part.program, channel=channels[i])))
    for k in range(len(notes)):
        ch = channels[int(notes["part"][k])]
        pitch = int(np.clip(notes["pitch"][k], 0, 127))
        t_on, t_off = round(on[k] * 1000), round(off[k] * 1000)
        velocity = int(np.clip(notes["velocity"][k], 1, 127))  # the score's dynamics
        events.append((t_on, 2, mido.Message("note_on", note=pitch, velocity=velocity, channel=ch)))
        events.append((t_off, 1, mido.Message("note_off", note=pitch, velocity=0, channel=ch)))
    events.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(ticks_per_beat=1000)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))  # 1 tick = 1 ms
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    end = now + round(TAIL_S * 1000)
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    mid.save(str(path))
    return end / 1000.0


def render_audio(
    notation: Notation,
    tempo: TempoMap,
    out_wav: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    sr: int = RENDER_SR,
) -> Path:
    """Render the score to a mono-or-stereo WAV file with the ``fluidsynth`` program.

    Parameters
    ----------
    notation : Notation
    tempo : TempoMap
    out_wav : path-like
        The WAV file to write (its folder must exist).
    soundfont : path-like, optional
        SF2/SF3 file; default :func:`find_soundfont`.
    sr : int > 0 [Hz]
        Rate of the rendering.

    Raises
    ------
    MatcherError
        When the ``fluidsynth`` program or a soundfont is missing, or rendering fails.
    """
    program = shutil.which("fluidsynth")
    if program is None:
        raise MatcherError("the fluidsynth program is not installed: it renders scores (Debian package fluidsynth)")
    font = find_soundfont(soundfont)
    out_wav = Path(out_wav)
    midi = out_wav.with_suffix(".mid")
    write_midi(notation, tempo, midi)
    cmd = [program, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(sr), "-T", "wav", "-F"]
    cmd += [str(out_wav), str(font), str(midi)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MatcherError(f"fluidsynth failed to render {notation.path.name}: {exc}") from exc
    if done.returncode != 0 or not out_wav.is_file() or out_wav.stat().st_size <= 44:
        why = (done.stderr or done.stdout or f"exit {done.returncode}").strip().splitlines()
        raise MatcherError(f"fluidsynth failed to render {notation.path.name}: {why[-1] if why else 'no output'}")
    return out_wav
