"""One crash-safe file writer for everything matcher writes (store, JSON, CSV, PNG).

The data goes to a temporary file in the target's folder, is flushed and fsync'ed, and
is renamed over the target: a crash leaves the old file or the new one, never half of
either (the rename alone does not promise that the new file's bytes reached the disk).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import InputFileError, MatcherError


def write_atomic(
    path: str | os.PathLike,
    data: bytes | Callable[[IO[bytes]], object],
    error: type[MatcherError] = InputFileError,
    prefix: str | None = None,
) -> None:
    """Write ``data`` (bytes, or a function that writes into the open binary file) to
    ``path`` atomically.

    Parameters
    ----------
    path : str or PathLike
        The target; its folder must exist.
    data : bytes or callable
    error : MatcherError subclass
        Raised (one line: the target and the OS's reason) when the folder is missing or
        the disk refuses the write.
    prefix : str, optional
        Name prefix of the temporary file (default ``.<target name>.``); the store uses
        ``.tmp-`` so it can sweep what an interrupted writer left.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise error(f"cannot write {target}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix or f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise error(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # disk full, permissions: one line from the CLI, not a traceback
            raise error(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


__all__ = ["write_atomic"]
