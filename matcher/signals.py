"""SIGTERM turned into ``SystemExit``, so a process stopped by `kill` or a service manager
leaves through its ``with`` and ``finally`` blocks as on Ctrl-C: running subprocesses
killed, temporary folders removed, files closed. By default SIGTERM ends the process on
the spot and leaves all of that behind.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The exit status a shell reports for a process SIGTERM ended (128 + the signal).
TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_exits(code: int = TERMINATED) -> Iterator[None]:
    """For the block, SIGTERM raises ``SystemExit(code)``; the handler before it comes back
    after. Only the main thread can set signal handlers: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(code)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_on_sigterm() -> None:
    """From now on SIGTERM raises ``SystemExit(TERMINATED)`` in this process: a worker
    process's initializer (it must be a module-level function to reach a spawned worker)."""
    signal.signal(signal.SIGTERM, _leave_terminated)


def _leave_terminated(signum: int, frame: object) -> None:
    raise SystemExit(TERMINATED)
