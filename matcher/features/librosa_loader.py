"""librosa, imported so that processes starting together cannot break numba's on-disk cache.

librosa's YIN reaches numba gufuncs (``librosa.util.utils._localmin`` and others) that
are compiled when their module is imported and cached on disk (``cache=True``). Two
processes compiling them at once, as a fresh install's ``matcher batch`` workers do,
can write a wrapper and a kernel that do not belong together (numba issue #10128):
every later call of YIN in that installation then segfaults until the cache is
deleted (measured here: two processes on a cold cache crashed in 2 runs of 9). So the
first import in each process happens under an exclusive lock on a file in matcher's
cache folder: the first process compiles and writes, the others wait and then load.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
from collections.abc import Iterator
from types import ModuleType

#: The librosa modules matcher reaches that define cached gufuncs (importing the last
#: imports the others).
GUFUNC_MODULES = ("librosa.util.utils", "librosa.core.audio", "librosa.core.pitch")
LOCK_NAME = "numba-compile.lock"

_loaded = False


def load_librosa() -> ModuleType:
    """The ``librosa`` module, its cached gufuncs compiled or loaded under the lock the
    first time in this process. Where the lock file cannot be made (a read-only home)
    it imports without one."""
    global _loaded
    if not _loaded:
        with _compile_lock():
            for name in GUFUNC_MODULES:
                importlib.import_module(name)
        _loaded = True
    import librosa

    return librosa


@contextlib.contextmanager
def _compile_lock() -> Iterator[None]:
    """An exclusive ``flock`` on matcher's cache folder / :data:`LOCK_NAME` for the block
    (as the reference store's ``_locked``); none when the file cannot be made."""
    from .spectral import cache_dir

    path = cache_dir() / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path, "a")  # noqa: SIM115 - held for the with-block
    except OSError:
        yield
        return
    with lock:  # closing releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
