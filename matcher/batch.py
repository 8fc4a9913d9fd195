"""Batch work on many recordings: preprocess a corpus, compare every pair, score takes.

The work lives in plain functions that take paths and return one row (a flat dict) per
item; :func:`run` only orchestrates them, on a dask.distributed cluster (a local one by
default: one single-threaded worker process per core) or in this process
(``scheduler="sync"``). Features are computed once per file, into the reference store,
and every pair loads them from there; the store must therefore be on a filesystem every
worker sees.

Each finished item also leaves ``items/<key>.json`` beside the results table; a run
that finds one skips the item (resumable). A failing item gives a row with ``status``
``error`` and its message, and is retried on the next run.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import InputFileError, MatcherError, ParameterError, StoreError

#: Environment that holds every worker to one thread (numba, BLAS, OpenMP, TensorFlow).
ONE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".opus")
RESULTS_NAME = "results.csv"
ITEMS_DIR = "items"

_STORE_COLUMNS = ["name", "duration", "frames", "beats", "tempo_bpm", "voiced_share", "pitch_backend"]
COLUMNS = {
    "preprocess": ["key", "file", "status", "error", *_STORE_COLUMNS],
    "compare": [
        "key", "a", "b", "status", "error", "a_duration", "b_duration", "method", "tempo_ratio", "beats",
        "median_abs_dev_ms", "max_abs_dev_ms", "passages", "pitch_median_cents", "pitch_mean_abs_cents",
    ],
    "score": [
        "key", "reference", "take", "status", "error", "take_duration", "beats", "within_tolerance",
        "mean_abs_error_ms", "median_abs_error_ms", "tempo_ratio", "trend", "tempo_change_pct", "ibi_spread_pct",
        "median_abs_steadiness_ms", "pitch_median_cents",
    ],
}  # fmt: skip


def one_thread() -> None:
    """Inside a Dask worker, hold the process to one thread per library (effective before
    they are imported; local workers get it from their environment already). Elsewhere,
    leave the caller's environment alone."""
    if "distributed" not in sys.modules:
        return
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return
    for key, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(key, value)


# -- inputs -------------------------------------------------------------------------------


def expand_inputs(specs: Iterable[str | os.PathLike]) -> list[Path]:
    """Audio files from folders (their audio files, recursively), globs and plain paths;
    sorted, without duplicates. Raises InputFileError when a spec names nothing."""
    found: dict[Path, None] = {}
    for spec in specs:
        text = str(spec)
        path = Path(text)
        if path.is_dir():
            hits = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.is_file():
            hits = [path]
        elif glob.has_magic(text):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        else:
            raise InputFileError(f"{text}: no such file or folder")
        if not hits:
            raise InputFileError(f"{text}: no audio files found")
        for p in hits:
            found.setdefault(p.resolve(), None)
    return sorted(found)


def item_key(*parts: str) -> str:
    """A file-system-safe key for an item: readable stems plus a short hash of the full paths."""
    digest = hashlib.sha1("\0".join(parts).encode()).hexdigest()[:10]
    stems = "__".join(Path(p).stem[:40] for p in parts)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stems)
    return f"{safe}.{digest}"


def store_name(path: str | os.PathLike) -> str:
    """The store name a batch gives a file: its stem plus a short hash of its full path,
    so same-named files in different folders stay apart."""
    from .reference import name_from_path

    digest = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:8]
    return f"{name_from_path(path)[:90]}.{digest}"


# -- work items: plain paths in, one row out ----------------------------------------------


def _error_row(base: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    message = str(exc) if isinstance(exc, MatcherError) else f"{type(exc).__name__}: {exc}"
    return {**base, "status": "error", "error": " ".join(message.split())}


def _write_item(out_dir: str, key: str, row: dict[str, Any], detail: dict[str, Any]) -> None:
    from .atomic import write_atomic

    folder = Path(out_dir) / ITEMS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"row": row, **detail}, indent=1, allow_nan=False, default=_jsonable)
    write_atomic(folder / f"{key}.json", (text + "\n").encode())


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _finite(x: Any, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def preprocess_file(path: str, store_root: str, out_dir: str, pitch: str = "yin") -> dict[str, Any]:
    """Preprocess one audio file into the store (under :func:`store_name`); the row holds
    the reference's summary. Already stored (same name and audio): not recomputed."""
    one_thread()
    base = {"key": item_key(path), "file": str(path), "status": "ok", "error": ""}
    try:
        from .audio import file_sha256
        from .config import Config
        from .features import resolve_backend
        from .reference import ReferenceStore, build_reference
        from .resolve import load_stored

        store = ReferenceStore(store_root)
        name = store_name(path)
        meta = store.index().get(name)
        ref = None
        if meta is not None and meta.get("sha256") == file_sha256(path):
            # Stored before: reused when made with this version's configuration, else rebuilt.
            with contextlib.suppress(StoreError):
                ref = load_stored(store, name)
        if ref is None:
            model = resolve_backend(pitch, None, Config(), quiet=True)
            with store.spooling():  # flux and chroma on disk until the feature file is written
                ref = build_reference(path, Config(pitch_backend=model.name), model, name)
            store.add(ref, replace=True)
        s = ref.summary()
        row = {**base, **{k: s.get(k) for k in _STORE_COLUMNS}, "name": name, "duration": _finite(ref.duration)}
        _write_item(out_dir, base["key"], row, {"reference": {k: v for k, v in s.items() if k != "config"}})
        return row
    except Exception as exc:
        return _error_row(base, exc)


def compare_pair(a_name: str, b_name: str, store_root: str, out_dir: str, a_file: str, b_file: str) -> dict[str, Any]:
    """Compare two stored performances (B against A); the row holds the summary figures,
    the item JSON the whole comparison (as ``matcher compare --json``)."""
    one_thread()
    base = {"key": item_key(a_file, b_file), "a": a_file, "b": b_file, "status": "ok", "error": ""}
    try:
        import numpy as np

        from .compare import compare
        from .reference import ReferenceStore
        from .resolve import load_stored

        store = ReferenceStore(store_root)
        a, b = load_stored(store, a_name), load_stored(store, b_name)  # refused when made otherwise
        result = compare(a, b)
        devs = np.abs([d.dev_ms for d in result.beats])
        pitch = result.pitch or {}
        row = {
            **base,
            "a_duration": _finite(result.a_duration),
            "b_duration": _finite(result.b_duration),
            "method": result.alignment.method,
            "tempo_ratio": _finite(result.tempo_ratio, 5),
            "beats": len(result.beats),
            "median_abs_dev_ms": _finite(np.median(devs), 1) if len(devs) else None,
            "max_abs_dev_ms": _finite(np.max(devs), 1) if len(devs) else None,
            "passages": len(result.passages),
            "pitch_median_cents": _finite(pitch.get("median_cents"), 1),
            "pitch_mean_abs_cents": _finite(pitch.get("mean_abs_cents"), 1),
        }
        _write_item(out_dir, base["key"], row, {"comparison": result.to_dict()})
        return row
    except Exception as exc:
        return _error_row(base, exc)


def score_file(
    ref_name: str, take: str, store_root: str, out_dir: str, tolerance_ms: float = 50.0, ref_label: str | None = None
) -> dict[str, Any]:
    """Score one take (an audio file) against a stored reference; the row holds the
    summary figures, the item JSON the whole score (as ``matcher score --json``)."""
    one_thread()
    label = ref_label or ref_name
    base = {"key": item_key(label, take), "reference": label, "take": str(take), "status": "ok", "error": ""}
    try:
        from .reference import ReferenceStore
        from .resolve import load_stored
        from .scoring import load_take, score_take

        reference = load_stored(ReferenceStore(store_root), ref_name)  # refused when made otherwise
        result = score_take(reference, load_take(take, reference), tolerance_ms)
        s = result.summary
        row = {
            **base,
            "take_duration": _finite(result.comparison.b_duration),
            "beats": s["beats"],
            "within_tolerance": s["within_tolerance"],
            "mean_abs_error_ms": s["mean_abs_error_ms"],
            "median_abs_error_ms": s["median_abs_error_ms"],
            "tempo_ratio": s["tempo_ratio"],
            "trend": s["trend"]["label"],
            "tempo_change_pct": s["trend"]["tempo_change_pct"],
            "ibi_spread_pct": s["steadiness"]["ibi_spread_pct"],
            "median_abs_steadiness_ms": s["steadiness"]["median_abs_steadiness_ms"],
            "pitch_median_cents": (s["pitch"] or {}).get("median_cents"),
        }
        _write_item(out_dir, base["key"], row, {"score": result.to_dict()})
        return row
    except Exception as exc:
        return _error_row(base, exc)


# -- orchestration --------------------------------------------------------------------------


def done_row(out_dir: str | os.PathLike, key: str) -> dict[str, Any] | None:
    """The row of an item finished by an earlier run, or None."""
    path = Path(out_dir) / ITEMS_DIR / f"{key}.json"
    try:
        row = json.loads(path.read_text())["row"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return row if isinstance(row, dict) and row.get("status") == "ok" else None


class Runner:
    """Runs work items: on dask.distributed (``scheduler`` an address, or None for a local
    cluster of ``workers`` single-threaded processes), or here (``scheduler="sync"``).
    Use as a context manager; ``map(func, argument_tuples, progress)`` returns the rows in
    the order of the arguments."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, processes: bool = True) -> None:
        self.scheduler, self.workers, self.processes = scheduler, workers, processes
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> Runner:
        if self.scheduler == "sync":
            return self
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ParameterError("batch work needs dask.distributed: pip install 'dask[distributed]'") from exc
        if self.scheduler is None:
            n = self.workers or os.cpu_count() or 1
            self.cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=self.processes,
                dashboard_address=":0",
                silence_logs=40,
                **({"env": dict(ONE_THREAD_ENV)} if self.processes else {}),
            )
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ParameterError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def map(
        self,
        func: Callable[..., dict[str, Any]],
        items: Sequence[tuple[Any, ...]],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any] | None] = [None] * len(items)
        if progress:
            progress(0, len(items))
        if self.client is None:
            for i, args in enumerate(items):
                rows[i] = func(*args)
                if progress:
                    progress(i + 1, len(items))
            return rows  # type: ignore[return-value]
        from distributed import as_completed

        futures = [
            self.client.submit(func, *args, pure=False, key=f"{func.__name__}-{i}") for i, args in enumerate(items)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        for done, future in enumerate(as_completed(futures), 1):
            try:
                rows[index[future.key]] = future.result()
            except Exception as exc:  # a worker died: the item is reported, the batch goes on
                rows[index[future.key]] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            if progress:
                progress(done, len(items))
        return rows  # type: ignore[return-value]


def _run_items(
    runner: Runner,
    func: Callable[..., dict[str, Any]],
    keyed: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
    out_dir: str,
    progress: Callable[[int, int], None] | None,
    resume: bool,
) -> list[dict[str, Any]]:
    """Rows for (key, args, base row) items: earlier results where resumable, the rest run."""
    rows: list[dict[str, Any] | None] = [done_row(out_dir, key) if resume else None for key, _, _ in keyed]
    todo = [i for i, r in enumerate(rows) if r is None]
    fresh = runner.map(func, [keyed[i][1] for i in todo], progress)
    for i, row in zip(todo, fresh, strict=True):
        base = keyed[i][2]
        rows[i] = {**base, **row} if row.get("key") is None else row
    return rows  # type: ignore[return-value]


def write_table(rows: list[dict[str, Any]], columns: list[str], path: str | os.PathLike) -> None:
    """The results table as CSV (one row per item), written atomically."""
    from .atomic import write_atomic

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    write_atomic(path, buf.getvalue().encode())


def read_table(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _prepare(
    runner: Runner, files: list[Path], store_root: str, out_dir: str, pitch: str, progress: Any, resume: bool
) -> list[dict[str, Any]]:
    keyed = [
        (item_key(str(p)), (str(p), store_root, out_dir, pitch), {"key": item_key(str(p)), "file": str(p)})
        for p in files
    ]
    return _run_items(runner, preprocess_file, keyed, out_dir, progress, resume)


def _out_dir(out_dir: str | os.PathLike) -> str:
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise InputFileError(f"{path}: not a folder")
    (path / ITEMS_DIR).mkdir(parents=True, exist_ok=True)
    return str(path.resolve())


def batch_preprocess(
    inputs: Sequence[str | os.PathLike],
    store_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    runner: Runner,
    pitch: str = "yin",
    progress: Callable[[int, int], None] | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Fill the store with every input file; writes ``results.csv`` in ``out_dir``."""
    files = expand_inputs(inputs)
    out = _out_dir(out_dir)
    rows = _prepare(runner, files, str(Path(store_root).resolve()), out, pitch, progress, resume)
    write_table(rows, COLUMNS["preprocess"], Path(out) / RESULTS_NAME)
    return rows


def batch_compare(
    inputs: Sequence[str | os.PathLike],
    store_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    runner: Runner,
    against: str | os.PathLike | None = None,
    pitch: str = "yin",
    progress: Callable[[int, int], None] | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Every unordered pair of the inputs (A the earlier in sorted order), or each input
    against ``against``; features once per file (into the store), then the pairs. A file
    that fails gives one error row (``b`` empty) instead of its pairs."""
    files = expand_inputs(inputs)
    ref = expand_inputs([against])[0] if against is not None else None
    out, root = _out_dir(out_dir), str(Path(store_root).resolve())
    if ref is not None:
        pairs = [(ref, f) for f in files if f != ref]
    else:
        pairs = [(a, b) for i, a in enumerate(files) for b in files[i + 1 :]]
    keys = {item_key(str(a), str(b)): (a, b) for a, b in pairs}
    pending = [k for k in keys if not (resume and done_row(out, k))]
    needed = sorted({p for k in pending for p in keys[k]})
    prep = _prepare(runner, needed, root, out_dir=out, pitch=pitch, progress=progress, resume=False) if needed else []
    failed = {Path(r["file"]): r["error"] for r in prep if r.get("status") != "ok"}
    # A file that cannot be preprocessed is one error row; its pairs are left out.
    rows_by_key: dict[str, dict[str, Any]] = {
        item_key(str(p)): {"key": item_key(str(p)), "a": str(p), "b": "", "status": "error", "error": error}
        for p, error in failed.items()
    }
    keyed = []
    for key, (a, b) in keys.items():
        if key in pending and (a in failed or b in failed):
            continue
        base = {"key": key, "a": str(a), "b": str(b)}
        keyed.append((key, (store_name(a), store_name(b), root, out, str(a), str(b)), base))
    for (key, _, _), row in zip(keyed, _run_items(runner, compare_pair, keyed, out, progress, resume), strict=True):
        rows_by_key[key] = row
    rows = [rows_by_key[k] for k in [*(item_key(str(p)) for p in failed), *keys] if k in rows_by_key]
    write_table(rows, COLUMNS["compare"], Path(out) / RESULTS_NAME)
    return rows


def batch_score(
    reference: str,
    takes: Sequence[str | os.PathLike],
    store_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    runner: Runner,
    tolerance_ms: float = 50.0,
    pitch: str = "yin",
    progress: Callable[[int, int], None] | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Score every take against ``reference`` (a stored name or an audio file, which is
    preprocessed into the store first)."""
    from .reference import ReferenceStore

    if not (tolerance_ms > 0 and math.isfinite(tolerance_ms)):
        raise ParameterError(f"--tolerance must be a positive number of milliseconds, got {tolerance_ms}")
    files = expand_inputs(takes)
    out, root = _out_dir(out_dir), str(Path(store_root).resolve())
    if reference in ReferenceStore(root).index():
        ref_name, label = reference, reference
    else:
        ref_path = expand_inputs([reference])[0]
        row = preprocess_file(str(ref_path), root, out, pitch)
        if row["status"] != "ok":
            raise InputFileError(f"reference {reference}: {row['error']}")
        ref_name, label = row["name"], str(ref_path)
    keyed = [
        (
            item_key(label, str(t)),
            (ref_name, str(t), root, out, tolerance_ms, label),
            {"key": item_key(label, str(t)), "reference": label, "take": str(t)},
        )
        for t in files
    ]
    rows = _run_items(runner, score_file, keyed, out, progress, resume)
    write_table(rows, COLUMNS["score"], Path(out) / RESULTS_NAME)
    return rows


__all__ = [
    "COLUMNS",
    "ONE_THREAD_ENV",
    "Runner",
    "batch_compare",
    "batch_preprocess",
    "batch_score",
    "compare_pair",
    "expand_inputs",
    "item_key",
    "one_thread",
    "preprocess_file",
    "read_table",
    "score_file",
    "store_name",
    "write_table",
]
