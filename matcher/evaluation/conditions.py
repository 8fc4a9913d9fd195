"""A fixed, named set of acoustic conditions under which corpus MIDI is rendered to audio.

The *reference* of every pair is rendered one way (:data:`REFERENCE`: FluidSynth with the
FluidR3 GM soundfont, dry), as a user's stored recording would be; each *condition* says
how the *take* is rendered: the synthesis engine and soundfont (FluidSynth or TiMidity++),
a room (sox ``reverb``), a microphone-like band limit or tilt (sox filters), noise at an SNR
below the take (white, pink or room tone), a level difference, and a tuning offset.
An *instrument* condition gives every melodic channel of both recordings another General
MIDI program (strings, violin, flute, organ, guitar): the reference is then rendered as
:data:`REFERENCE` with that program too (:func:`reference_for`), as a user's reference is
played on the take's instrument.

Time truth: MIDI time 0 is sample 0 in every render (TiMidity runs with
``--preserve-silence``, without which it drops the 0.5-2.4 s before the first note and shifts
every annotation; sox's reverb has no pre-delay; effects never change the length), and a
tuning offset is made by rendering at a lower sample rate and declaring the corpus rate,
which raises every pitch by ``SR / rate`` and plays every event at ``rate / SR`` of its MIDI
time: ``audio_t = midi_t * condition.time_scale`` exactly.

Tools: ``fluidsynth``, ``timidity`` and ``sox`` (Debian: fluidsynth, fluid-soundfont-gm,
musescore-general-soundfont, timgm6mb-soundfont, timidity, freepats, sox;
``tools/setup_system.sh --eval``).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from ..atomic import write_atomic

SR = 22050  # corpus audio rate [Hz], mono
PEAK = 0.5  # every render is scaled to this peak before noise and level [full scale]
FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
FREEPATS = Path("/etc/timidity/freepats.cfg")
NOISE_KINDS = ("white", "pink", "room")


@dataclass(frozen=True)
class Engine:
    """A MIDI synthesizer: ``fluidsynth`` with a soundfont, or ``timidity`` with a config."""

    program: str  # "fluidsynth" | "timidity"
    bank: Path  # soundfont (.sf2/.sf3) or TiMidity config (.cfg)

    @property
    def key(self) -> str:
        return f"{self.program}-{self.bank.stem}"

    def command(self, midi: Path, out_wav: Path, rate: int) -> list[str]:
        """The command line that renders ``midi`` to ``out_wav`` at ``rate`` [Hz], time 0 kept."""
        if self.program == "fluidsynth":
            # -R 0 -C 0: no built-in reverb or chorus (rooms come from sox); -g: gain
            return ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(rate),
                    "-F", str(out_wav), str(self.bank), str(midi)]  # fmt: skip
        if self.program == "timidity":
            return ["timidity", "-c", str(self.bank), "-Ow", "--preserve-silence", "-EFreverb=d", "-EFchorus=d",
                    "-s", str(rate), "-o", str(out_wav), str(midi)]  # fmt: skip
        raise ValueError(f"unknown engine {self.program!r}; valid: fluidsynth, timidity")


@dataclass(frozen=True)
class Condition:
    """How a take is rendered.

    Attributes
    ----------
    name : str
    engine : Engine
    sox : tuple[str, ...]
        sox effects applied to the mono render (empty: none); the output keeps the input's length.
    noise : str or None
        ``"white"``, ``"pink"`` or ``"room"`` (room tone: low rumble with mains hum), or None.
    snr_db : float [dB]
        Noise level below the take's RMS (after the effects).
    gain_db : float [dB]
        Level of the take relative to the reference (both scaled to :data:`PEAK` first).
    a4_hz : float [Hz]
        Tuning: the take's A4 (the reference is at 440 Hz).
    instrument : int in [0, 127] or None
        General MIDI program that every melodic channel plays (in the reference too:
        :func:`reference_for`); None: the MIDI's own (the corpus: piano).
    """

    name: str
    engine: Engine
    sox: tuple[str, ...] = ()
    noise: str | None = None
    snr_db: float = 30.0
    gain_db: float = 0.0
    a4_hz: float = 440.0
    description: str = ""
    instrument: int | None = None

    def __post_init__(self) -> None:
        if self.noise is not None and self.noise not in NOISE_KINDS:
            raise ValueError(f"unknown noise {self.noise!r}; valid: {', '.join(NOISE_KINDS)}")
        if self.instrument is not None and not 0 <= self.instrument <= 127:
            raise ValueError(f"instrument must be a General MIDI program 0-127, got {self.instrument!r}")

    @property
    def render_rate(self) -> int:
        """Rate the engine renders at [Hz]; the audio is declared :data:`SR`, so pitch x SR/rate."""
        return round(SR * 440.0 / self.a4_hz)

    @property
    def time_scale(self) -> float:
        """audio time = MIDI time x this (1 unless retuned; < 1 when tuned up)."""
        return self.render_rate / SR

    def to_dict(self) -> dict:
        out = {"name": self.name, "engine": self.engine.key, "sox": " ".join(self.sox), "noise": self.noise,
                "snr_db": self.snr_db if self.noise else None, "gain_db": self.gain_db, "a4_hz": self.a4_hz,
                "time_scale": self.time_scale, "description": self.description}  # fmt: skip
        # Only when set: the cache folders of the piano conditions keep their names.
        return out if self.instrument is None else {**out, "instrument": self.instrument}


FLUID = Engine("fluidsynth", FLUIDR3)
MUSE = Engine("fluidsynth", MUSESCORE)
TIM6 = Engine("fluidsynth", TIMGM6MB)
TIMIDITY = Engine("timidity", FREEPATS)

#: The reference of every pair: FluidSynth, FluidR3 GM, dry, A = 440 Hz.
REFERENCE = Condition("reference", FLUID, description="FluidSynth FluidR3 GM, dry")

# fmt: off
_LIST = [
    Condition("clean", FLUID, description="as the reference (control)"),
    Condition("soundfont", MUSE, description="FluidSynth with the MuseScore General soundfont"),
    Condition("engine", TIMIDITY, description="TiMidity++ with freepats"),
    Condition("room-small", TIM6, ("reverb", "30", "50", "20"), description="TimGM6mb, small room"),
    Condition("room-large", FLUID, ("reverb", "80", "50", "100"), description="large hall"),
    Condition("phone", MUSE, ("sinc", "300-3400"), description="MuseScore, telephone band 300-3400 Hz"),
    Condition("mic-tilt", FLUID, ("highpass", "150", "bass", "-6", "treble", "+6"),
              description="bright small microphone: high-pass 150 Hz, bass -6 dB, treble +6 dB"),
    Condition("white-30", FLUID, noise="white", snr_db=30.0, description="white noise 30 dB below"),
    Condition("pink-20", MUSE, ("reverb", "50", "50", "60"), noise="pink", snr_db=20.0,
              description="MuseScore, medium room, pink noise 20 dB below"),
    Condition("room-tone-10", FLUID, noise="room", snr_db=10.0, description="room tone 10 dB below"),
    Condition("level-20", FLUID, gain_db=-20.0, description="take 20 dB quieter than the reference"),
    Condition("a442", FLUID, a4_hz=442.0, description="tuned to A = 442 Hz (+7.9 cents)"),
    Condition("a446", TIM6, a4_hz=446.0, description="TimGM6mb tuned to A = 446 Hz (+23.5 cents)"),
    Condition("hardest", TIMIDITY, ("reverb", "80", "50", "100"), noise="pink", snr_db=10.0,
              description="TiMidity++ freepats, large hall (reverberance 80), pink noise 10 dB below"),
]
# Other instruments (General MIDI programs) play the piano pieces, reference and take alike;
# the take through the MuseScore soundfont in a small room, as "soundfont" plus "room-small".
_SMALL_ROOM = ("reverb", "30", "50", "20")
_INSTRUMENTS = [
    Condition("strings", MUSE, _SMALL_ROOM, instrument=48, description="string ensemble (slow attacks), small room"),
    Condition("violin", MUSE, _SMALL_ROOM, instrument=40, description="violin, small room"),
    Condition("flute", MUSE, _SMALL_ROOM, instrument=73, description="flute, small room"),
    Condition("organ", MUSE, _SMALL_ROOM, instrument=19, description="church organ (no decay), small room"),
    Condition("guitar", MUSE, _SMALL_ROOM, instrument=24, description="nylon guitar, small room"),
]
# fmt: on
CONDITIONS: dict[str, Condition] = {c.name: c for c in _LIST + _INSTRUMENTS}
#: The piano conditions: what runs by default.
PIANO = tuple(c.name for c in _LIST)
#: The other-instrument conditions (chosen by name).
INSTRUMENTS = tuple(c.name for c in _INSTRUMENTS)
#: The conditions of quick runs: one of each kind of change, and the hardest.
QUICK = ("clean", "engine", "room-large", "phone", "pink-20", "level-20", "a446", "hardest")


def missing_tools() -> list[str]:
    """Programs and banks the conditions need that are not installed."""
    out = [p for p in ("fluidsynth", "timidity", "sox") if shutil.which(p) is None]
    return out + [str(b) for b in (FLUIDR3, MUSESCORE, TIMGM6MB, FREEPATS) if not b.exists()]


def render_dry(midi: Path, engine: Engine, rate: int) -> np.ndarray:
    """Mono float64 render of ``midi`` at ``rate`` [Hz], sample 0 = MIDI time 0.

    Raises
    ------
    RuntimeError
        When the engine fails or writes nothing.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dry.wav"
        proc = subprocess.run(engine.command(midi, out, rate), capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{engine.program} failed on {midi} ({proc.returncode}): {proc.stderr[-2000:]}")
        audio, got = sf.read(out, dtype="float64", always_2d=True)
    if got != rate:
        raise RuntimeError(f"{engine.program} wrote {got} Hz, asked for {rate} Hz")
    return audio.mean(axis=1)


def apply_sox(x: np.ndarray, effects: tuple[str, ...], sr: int = SR) -> np.ndarray:
    """``x`` through ``sox`` effects, cut or zero-padded back to ``len(x)`` samples."""
    if not effects:
        return x
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(src, x.astype(np.float32), sr, subtype="FLOAT")
        cmd = ["sox", "-q", str(src), "-b", "32", "-e", "floating-point", str(dst), *effects]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
        y, _ = sf.read(dst, dtype="float64", always_2d=True)
    y = y.mean(axis=1)[: len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` [full scale]."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def make_noise(kind: str, n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """``n`` samples of unit-RMS noise: ``white``; ``pink`` (power 1/f); ``room``: room tone,
    power 1/f below 200 Hz falling as 1/f^3 above, with 50 Hz mains hum and its harmonics."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise {kind!r}; valid: {', '.join(NOISE_KINDS)}")
    x = rng.normal(size=n)
    if kind != "white":
        spectrum = np.fft.rfft(x)
        f = np.fft.rfftfreq(n, 1.0 / sr)
        f[0] = f[1] if n > 1 else 1.0
        shape = 1.0 / np.sqrt(f)
        if kind == "room":
            shape = shape / (1.0 + (f / 200.0) ** 2)
        spectrum[0] = 0.0
        x = np.fft.irfft(spectrum * shape, n)
        if kind == "room":
            t = np.arange(n) / sr
            x = x / max(rms(x), 1e-12)
            phase = rng.uniform(0, 2 * np.pi, 3)
            x = x + sum(0.3 / h * np.sin(2 * np.pi * 50.0 * h * t + phase[h - 1]) for h in (1, 2, 3))
    return x / max(rms(x), 1e-12)


def apply_condition(dry: np.ndarray, condition: Condition, seed: int = 0) -> np.ndarray:
    """A dry mono render [float64, :data:`SR`] under ``condition``'s effects, noise and level.

    Order: sox effects, scale to :data:`PEAK`, noise ``snr_db`` below the RMS of the result
    (seeded), then ``gain_db``. The length is that of ``dry``.
    """
    x = apply_sox(dry, condition.sox)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    x = x * (PEAK / peak) if peak > 0 else x
    if condition.noise is not None:
        rng = np.random.default_rng([seed, zlib.crc32(condition.name.encode())])
        x = x + make_noise(condition.noise, len(x), rng) * rms(x) * 10 ** (-condition.snr_db / 20)
    return x * 10 ** (condition.gain_db / 20)


def reference_for(condition: Condition) -> Condition:
    """How the reference of a pair is rendered under ``condition``: :data:`REFERENCE`, with
    the condition's instrument when it has one."""
    if condition.instrument is None:
        return REFERENCE
    return dataclasses.replace(REFERENCE, name=f"reference-{condition.instrument}", instrument=condition.instrument)


def with_instrument(midi: mido.MidiFile, program: int) -> mido.MidiFile:
    """``midi`` with every melodic channel playing General MIDI ``program`` from time 0: its
    program changes dropped, one per channel put first in each track (channel 10, drums,
    left alone). Event times are unchanged."""
    out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    for track in midi.tracks:
        channels = sorted({m.channel for m in track if hasattr(m, "channel") and m.channel != 9})
        events = mido.MidiTrack(mido.Message("program_change", channel=c, program=program, time=0) for c in channels)
        carry = 0  # a dropped event's delta time goes to the next one kept
        for m in track:
            if m.type == "program_change" and m.channel != 9:
                carry += m.time
                continue
            events.append(m.copy(time=m.time + carry))
            carry = 0
        out.tracks.append(events)
    return out


def render(midi: Path, condition: Condition, out: Path, seed: int = 0) -> Path:
    """Render ``midi`` under ``condition`` to ``out`` (FLAC, mono, :data:`SR`, 24 bit); cached:
    an existing ``out`` is kept. Written atomically (temporary file, then rename)."""
    if out.exists():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        played = midi
        if condition.instrument is not None:
            played = Path(tmp) / midi.name
            with_instrument(mido.MidiFile(midi), condition.instrument).save(played)
        dry = render_dry(played, condition.engine, condition.render_rate)
    y = apply_condition(dry, condition, seed)
    if np.max(np.abs(y)) >= 1.0:
        raise RuntimeError(f"{midi} under {condition.name} clips (peak {np.max(np.abs(y)):.2f})")
    out.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file of its own: two evaluations rendering the same take at once each
    # write theirs, and the second rename replaces the first's identical file.
    audio = y.astype(np.float32)
    write_atomic(out, lambda fh: sf.write(fh, audio, SR, subtype="PCM_24", format="FLAC"))
    return out
