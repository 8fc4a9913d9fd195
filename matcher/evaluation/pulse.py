"""A file-fed microphone for machines without a sound card: a private PulseAudio server
with a pipe source, and a writer that feeds audio into it at real-time pace.

Used by tests/test_live.py and tools/bench_live.py; also by hand (tools/pulse_mic.py), to
try `matcher follow` without a microphone:

    .venv/bin/python tools/pulse_mic.py take.wav [--lead 2]
    # prints the environment to use, e.g. in another shell:
    PULSE_SERVER=unix:/tmp/matcher-pulse-xyz/native PULSE_SOURCE=filemic matcher follow REF --device pulse

What measurement showed (PulseAudio 16.1, Debian 12):

* The server runs as root or as a user, without D-Bus or a session: ``-n`` (no default
  script) and only the modules loaded here, its socket in a private folder, so it never
  meets a user's own server. Clients find it through ``PULSE_SERVER``.
* ``module-pipe-source`` creates its FIFO itself (an existing file makes it fail). It
  reads the FIFO only while someone records, so a writer blocks until the stream opens,
  and it has no clock: samples come out as fast as they are written. Pacing is the
  writer's job, and the follower's time must count samples. The writer here restarts its
  pace after a blocked write (instead of catching up in a burst) and shrinks the pipe to
  one page, so at most a few milliseconds are buffered ahead.
* Samples written before the recording stream is uncorked are partly lost: 1764 samples
  (40 ms at 44.1 kHz) every time, measured against the recorded take. Opening a PortAudio
  stream also makes a short-lived source output before the real one (``pactl subscribe``:
  new #0, remove #0, new #1); samples it takes are lost as well (seen once in a loaded
  test run). So the writer waits until ``pactl list source-outputs`` shows the same
  stream on its source with ``Corked: no`` for 0.3 s; from then on the recorded take
  equals the fed audio sample for sample.
* Unloading the module ends a blocked writer (EPIPE); a stream recording from it moves to
  another source after about 1.5 s. Killing the server ends the stream (PortAudio's
  finished callback).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

F_SETPIPE_SZ = 1031  # Linux fcntl command
DEBIAN_PACKAGES = "pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"


def unavailable() -> str | None:
    """Why a PulseAudio microphone cannot be made here (None: it can)."""
    missing = [b for b in ("pulseaudio", "pactl") if shutil.which(b) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian: apt-get install {DEBIAN_PACKAGES})"
    if not glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so") and not glob.glob(
        "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so"
    ):
        return f"the ALSA pulse plugin is not installed (Debian: apt-get install {DEBIAN_PACKAGES})"
    return None


class PulseServer:
    """A private PulseAudio server in ``folder`` (a fresh temporary folder by default).

    ``env`` holds what a client needs (``PULSE_SERVER``); :meth:`pipe_source` adds a
    file-fed microphone. Stop it with :meth:`stop` (or use it as a context manager).
    """

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        # unix socket paths are limited to ~100 characters: keep the folder short
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="matcher-pulse-", dir="/tmp"))
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.socket = self.folder / "native"
        self.env = {"PULSE_SERVER": f"unix:{self.socket}"}
        self.process: subprocess.Popen | None = None
        self._log = self.folder / "server.log"

    def __enter__(self) -> PulseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 15.0) -> PulseServer:
        state = self.folder / "state"
        state.mkdir(exist_ok=True)
        server_env = dict(
            os.environ,
            HOME=str(self.folder),
            XDG_RUNTIME_DIR=str(self.folder),
            XDG_CONFIG_HOME=str(state),
            PULSE_RUNTIME_PATH=str(self.folder),
            PULSE_STATE_PATH=str(state),
        )
        cmd = [
            "pulseaudio",
            "--daemonize=no",
            "-n",  # no default.pa: only the modules below (no D-Bus, udev, suspend-on-idle)
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--disable-shm=true",
            "--use-pid-file=false",
            "--log-target=stderr",
            "--log-level=error",  # as root it would warn that it is not meant to run as root
            "-L",
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            "-L",
            "module-null-sink sink_name=matcher_null",
        ]
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(cmd, env=server_env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.process.returncode}: {self._log.read_text()[-500:]}")
            if self.socket.exists() and self._try_pactl("info"):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pulseaudio did not answer within {timeout} s: {self._log.read_text()[-500:]}")

    def stop(self) -> None:
        """Terminate the server (the process this object started) and remove its folder."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        """Kill the server abruptly (a sound server or device that goes away)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def pactl(self, *args: str) -> str:
        env = dict(os.environ, **self.env)
        done = subprocess.run(["pactl", *args], env=env, capture_output=True, text=True, timeout=15)
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _try_pactl(self, *args: str) -> bool:
        try:
            self.pactl(*args)
            return True
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def pipe_source(self, name: str | None = None, rate: int = 44100, channels: int = 1) -> PipeSource:
        """Load a file-fed microphone; record from it with ``PULSE_SOURCE=<name>``."""
        name = name or f"filemic_{uuid.uuid4().hex[:8]}"
        fifo = self.folder / f"{name}.fifo"  # created by the module: it must not exist
        module = self.pactl(
            "load-module",
            "module-pipe-source",
            f"source_name={name}",
            f"file={fifo}",
            "format=float32le",
            f"rate={rate}",
            f"channels={channels}",
        )
        return PipeSource(self, name, fifo, int(module), rate, channels)


class PipeSource:
    """A loaded ``module-pipe-source``: its name, FIFO and format."""

    def __init__(self, server: PulseServer, name: str, fifo: Path, module: int, rate: int, channels: int) -> None:
        self.server, self.name, self.fifo, self.module = server, name, fifo, module
        self.rate, self.channels = rate, channels

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client that records from this source as its default."""
        return {**self.server.env, "PULSE_SOURCE": self.name}

    def unload(self) -> None:
        """Remove the source (ends a writer blocked on its FIFO)."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.server.pactl("unload-module", str(self.module))

    def recorder(self) -> int | None:
        """The newest stream recording from this source and not corked (its index), if any."""
        index = self.server.pactl("list", "short", "sources")
        ours = [line.split("\t")[0] for line in index.splitlines() if line.split("\t")[1:2] == [self.name]]
        found = None
        for block in self.server.pactl("list", "source-outputs").split("Source Output #")[1:]:
            fields = dict(line.strip().split(": ", 1) for line in block.splitlines() if ": " in line)
            if ours and fields.get("Source") == ours[0] and fields.get("Corked") == "no":
                found = int(block.split("\n", 1)[0])
        return found

    def feed(
        self, audio: np.ndarray, chunk_s: float = 0.01, wait_for_recorder: bool = True, steady_s: float = 0.3
    ) -> Feeder:
        """Start writing ``audio`` [float32, (n,) or (n, channels)] at real-time pace.

        With ``wait_for_recorder`` nothing is written before one recording stream has
        stayed open and uncorked for ``steady_s``, so every sample reaches it.
        """
        seen: dict[str, Any] = {"id": None, "since": 0.0}

        def ready() -> bool:
            rid, now = self.recorder(), time.monotonic()
            if rid != seen["id"]:
                seen["id"], seen["since"] = rid, now
            return rid is not None and now - seen["since"] >= steady_s

        feeder = Feeder(self.fifo, audio, self.rate, chunk_s, ready if wait_for_recorder else None)
        feeder.start()
        return feeder


class Feeder(threading.Thread):
    """Writes samples into a FIFO at real-time pace (see the module notes)."""

    def __init__(
        self,
        fifo: Path,
        audio: np.ndarray,
        rate: int,
        chunk_s: float = 0.01,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(name="pulse-mic-feeder", daemon=True)
        self.ready = ready
        self.fifo, self.rate = fifo, rate
        self.data = np.ascontiguousarray(audio, dtype="<f4")
        self.chunk = max(1, round(chunk_s * rate))
        self.fed = 0  # samples written
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            while self.ready is not None and not self.ready():
                if self._halt.wait(0.01):
                    return
            fd = os.open(self.fifo, os.O_WRONLY)
        except OSError as exc:
            self.error = exc
            return
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
            due = time.monotonic()
            for i in range(0, len(self.data), self.chunk):
                if self._halt.is_set():
                    break
                piece = self.data[i : i + self.chunk]
                view = memoryview(piece.tobytes())
                while view:
                    view = view[os.write(fd, view) :]
                self.fed += len(piece)
                due += len(piece) / self.rate
                now = time.monotonic()
                if now > due + 0.05:  # the write blocked: nobody was recording yet; restart the pace
                    due = now
                elif due > now:
                    time.sleep(due - now)
        except OSError as exc:  # EPIPE: the source was unloaded or the server ended
            self.error = exc
        finally:
            os.close(fd)
