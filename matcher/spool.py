"""Feature arrays too large to hold while a long file is preprocessed for the store.

``reference add`` of a 3-hour file makes 675,000 frames; their flux (84 bands) and chroma
take 260 MB as float32. Inside :func:`spooled`, :class:`~matcher.features.stream.FrameSink`
appends those 2-D arrays to unnamed temporary files in a folder (the store's own: never a
RAM-backed /tmp) instead of memory, and hands them back mapped read-only; the store's
:func:`write_npz` copies them into the feature file a slice at a time, dropping the pages
it has read from the process's memory. The temporary files have no name (``O_TMPFILE``,
or unlinked at once where that is unsupported): a crash leaves nothing behind, and the
feature file itself is still written to a temporary name and renamed
(:func:`matcher.atomic.write_atomic`).
"""

from __future__ import annotations

import contextlib
import contextvars
import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

_FOLDER: contextvars.ContextVar[Path | None] = contextvars.ContextVar("matcher_spool_folder", default=None)

#: Bytes copied per slice when a mapped array is written out (numpy's own buffer size).
CHUNK_BYTES = 16 * 2**20


@contextlib.contextmanager
def spooled(folder: str | os.PathLike) -> Iterator[None]:
    """Within the block, files preprocessed keep their 2-D feature arrays in unnamed
    temporary files in ``folder`` (created if missing) rather than in memory."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    token = _FOLDER.set(path)
    try:
        yield
    finally:
        _FOLDER.reset(token)


def spool_folder() -> Path | None:
    """The folder set by the innermost :func:`spooled`, else None (arrays stay in memory)."""
    return _FOLDER.get()


class SpoolFile:
    """Rows of one 2-D array appended to an unnamed temporary file; :meth:`array` maps them.

    Parameters
    ----------
    folder : Path
    width : int >= 0
        Columns per row.
    dtype : numpy dtype
    """

    def __init__(self, folder: Path, width: int, dtype: np.dtype) -> None:
        self.width = width
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed by array()

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.size:
            self._file.write(memoryview(rows.reshape(-1)).cast("B"))
        self.rows += len(rows)

    def array(self, rows: int | None = None) -> np.ndarray:
        """The first ``rows`` rows (default all), mapped read-only; the file is closed
        (the mapping keeps the data until the array is gone)."""
        rows = self.rows if rows is None else min(rows, self.rows)
        nbytes = rows * self.width * self.dtype.itemsize
        self._file.flush()
        try:
            if nbytes == 0:
                return np.zeros((rows, self.width), self.dtype)
            mapped = mmap.mmap(self._file.fileno(), nbytes, access=mmap.ACCESS_READ)
            out = np.frombuffer(mapped, self.dtype, count=rows * self.width).reshape(rows, self.width)
            return out
        finally:
            self._file.close()


def _mapping(a: np.ndarray) -> mmap.mmap | None:
    """The mmap an array's memory belongs to, if any (through views and memoryviews)."""
    base: object = a
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return None


def write_npz(f: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """``np.savez(f, **arrays)``, the same archive (entries, headers, bytes), written so
    that mapped arrays (:class:`SpoolFile`) never become resident as a whole: they go out
    a slice at a time, and the pages read are released after each slice."""
    import zipfile

    from numpy.lib import format as npy

    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zipf:
        for key, value in arrays.items():
            val = np.asanyarray(value)
            mapped = _mapping(val)
            with zipf.open(key + ".npy", "w", force_zip64=True) as fid:  # force_zip64: as np.savez does
                if mapped is None or not val.flags.c_contiguous or val.dtype.hasobject:
                    npy.write_array(fid, val, allow_pickle=False)
                    continue
                npy.write_array_header_1_0(fid, npy.header_data_from_array_1_0(val))
                flat = val.reshape(-1)
                step = max(CHUNK_BYTES // max(val.itemsize, 1), 1)
                for start in range(0, len(flat), step):
                    fid.write(memoryview(flat[start : start + step]).cast("B"))
                    mapped.madvise(mmap.MADV_DONTNEED)  # a shared read-only mapping: the pages stay in the page cache


__all__ = ["CHUNK_BYTES", "SpoolFile", "spool_folder", "spooled", "write_npz"]
