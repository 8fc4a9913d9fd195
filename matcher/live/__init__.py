"""Live input: follow a microphone (sounddevice / PortAudio) in real time.

Imported only when used: ``import matcher`` and ``matcher --help`` never load PortAudio.

* :mod:`.devices` — listing and choosing input devices;
* :mod:`.ring` — the ring buffer the audio callback copies into, and latency statistics;
* :mod:`.session` — :class:`LiveSession`: callback, worker thread, take file, result.
"""

from .devices import InputDevice, find_input_device, input_devices
from .ring import BlockRing, Chunk, DurationStats
from .session import RING_SECONDS, STALL_SECONDS, LiveResult, LiveSession

__all__ = [
    "RING_SECONDS",
    "STALL_SECONDS",
    "BlockRing",
    "Chunk",
    "DurationStats",
    "InputDevice",
    "LiveResult",
    "LiveSession",
    "find_input_device",
    "input_devices",
]
