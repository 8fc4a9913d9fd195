"""Audio input devices (sounddevice / PortAudio, imported only when a device is asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import DeviceError


@dataclass(frozen=True)
class InputDevice:
    """One PortAudio input device.

    index : int                PortAudio device index
    name : str
    channels : int > 0         maximum input channels
    samplerate : float [Hz]    the device's default (native) rate
    hostapi : str              e.g. "ALSA"
    default : bool             the default input device
    """

    index: int
    name: str
    channels: int
    samplerate: float
    hostapi: str
    default: bool

    def __repr__(self) -> str:
        return f"InputDevice({self.index}, {self.name!r}, {self.channels} ch, {self.samplerate:.0f} Hz)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "channels": self.channels,
            "samplerate": self.samplerate,
            "hostapi": self.hostapi,
            "default": self.default,
        }


def sounddevice_module() -> Any:
    """The sounddevice module, or a DeviceError naming what is missing."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # sounddevice raises OSError when libportaudio is absent
        raise DeviceError(
            f"no audio input: PortAudio is not available ({exc}); "
            "install libportaudio2 (Debian/Ubuntu) or portaudio (macOS: brew install portaudio)"
        ) from exc
    return sounddevice


def input_devices() -> list[InputDevice]:
    """All devices PortAudio can record from, in PortAudio's order."""
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception as exc:  # PortAudioError: PortAudio failed to initialise
        raise DeviceError(f"cannot list audio devices: {exc}") from exc
    try:
        default_index = int(sd.query_devices(kind="input")["index"])
    except Exception:  # no default input device
        default_index = -1
    out = []
    for d in devices:
        if int(d["max_input_channels"]) > 0:
            out.append(
                InputDevice(
                    index=int(d["index"]),
                    name=str(d["name"]),
                    channels=int(d["max_input_channels"]),
                    samplerate=float(d["default_samplerate"]),
                    hostapi=str(apis[d["hostapi"]]["name"]),
                    default=int(d["index"]) == default_index,
                )
            )
    return out


def _listing(devices: list[InputDevice]) -> str:
    return ", ".join(f"{d.index} {d.name!r}" for d in devices)


def find_input_device(spec: str | int | None = None) -> InputDevice:
    """The input device ``spec`` names: None for the default, an index, or a name.

    A name matches exactly (case-insensitive) or, failing that, as a substring of one
    device's name. Raises :class:`DeviceError` listing the input devices otherwise.
    """
    devices = input_devices()
    if not devices:
        raise DeviceError(
            "no audio input device found (no microphone, or no sound server running); "
            "`matcher devices` lists what PortAudio sees"
        )
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return next((d for d in devices if d.default), devices[0])
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for d in devices:
            if d.index == index:
                return d
        raise DeviceError(f"no input device with index {index}; input devices: {_listing(devices)}")
    exact = [d for d in devices if d.name.lower() == text.lower()]
    if exact:
        return exact[0]
    partial = [d for d in devices if text.lower() in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        raise DeviceError(f"device name {text!r} is ambiguous: it matches {_listing(partial)}; give the index")
    raise DeviceError(f"no input device named {text!r}; input devices: {_listing(devices)}")
