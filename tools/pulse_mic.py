"""A file-fed microphone for machines without a sound card (matcher.evaluation.pulse): a private
PulseAudio server with a pipe source fed with an audio file at real-time pace.

    .venv/bin/python tools/pulse_mic.py take.wav [--lead 2]
    # prints the environment to use, e.g. in another shell:
    PULSE_SERVER=unix:/tmp/matcher-pulse-xyz/native PULSE_SOURCE=filemic matcher follow REF --device pulse
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from matcher.audio import read_audio
from matcher.evaluation.pulse import PulseServer, unavailable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", type=Path, help="audio file to play into the microphone")
    parser.add_argument("--lead", type=float, default=1.0, help="seconds of silence before the file")
    parser.add_argument("--rate", type=int, default=44100)
    args = parser.parse_args()
    why = unavailable()
    if why:
        print(f"pulse_mic: {why}", file=sys.stderr)
        return 2
    audio = read_audio(args.audio, args.rate)
    audio = np.concatenate([np.zeros(round(args.lead * args.rate), np.float32), audio])
    with PulseServer() as server:
        source = server.pipe_source("filemic", args.rate)
        env = " ".join(f"{k}={v}" for k, v in source.env.items())
        print(f"microphone ready; record with:\n  {env} matcher follow REF --device pulse", flush=True)
        print(f"feeding {len(audio) / args.rate:.1f} s of {args.audio} once someone records; Ctrl-C ends")
        feeder = source.feed(audio)
        try:
            while feeder.is_alive():
                feeder.join(0.5)
        except KeyboardInterrupt:
            pass
        source.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
