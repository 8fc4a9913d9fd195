"""Stored references (performances kept for following, scoring and comparing) and the
on-disk reference store.

Store layout (``--store DIR``, else ``$MATCHER_HOME``, else ``./references``)::

    index.json        {"format": 1, "references": {name: metadata}}
    <name>.npz        feature and beat arrays (loaded with allow_pickle=False)
    .lock             serialises index updates between processes

Every write goes to a temporary file in the store and is renamed over the target,
so a crash leaves either the old or the new state, never half a file. The feature
file's SHA-256 is kept in the index and checked on load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_atomic
from .audio import audio_info, file_blocks, file_sha256
from .beats import Beats, load_beats, track_beats
from .config import Config
from .errors import InputFileError, ParameterError, StoreError
from .features import Frames, PitchModel, extract
from .performance import Performance
from .spool import spooled, write_npz

STORE_ENV = "MATCHER_HOME"
INDEX_FORMAT = 1
_NAME = re.compile(r"^[\w][\w.+-]{0,99}$")
#: What the index may name as a feature file: a plain ``.npz`` name inside the store.
_FEATURE_FILE = re.compile(r"^[\w][\w.+-]*\.npz$")


def _is_feature_file(value: Any) -> bool:
    return isinstance(value, str) and _FEATURE_FILE.match(value) is not None


def _is_number(value: Any, minimum: float) -> bool:
    """A finite JSON number >= ``minimum`` (``true`` is not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and minimum <= value < float("inf")


#: A performance in the role of the reference a take is followed, scored or compared
#: against (the same type as a take: :class:`~matcher.performance.Performance`).
Reference = Performance


def default_store_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or "references")


def name_from_path(path: str | os.PathLike) -> str:
    """A store name from a file name: its stem with unusual characters replaced."""
    stem = re.sub(r"[^\w.+-]+", "_", Path(path).stem).strip("._") or "reference"
    return stem[:100]


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ParameterError(
            f"bad reference name {name!r}: use letters, digits, '_', '-', '.', '+' (up to 100, not starting with '.')"
        )
    return name


def build_reference(
    audio_path: str | os.PathLike,
    config: Config,
    pitch_model: PitchModel,
    name: str | None = None,
    beats_path: str | os.PathLike | None = None,
    beats_per_bar: int = 4,
    progress: Callable[[int, int], None] | None = None,
    track: bool = True,
) -> Reference:
    """Preprocess an audio file into a :class:`Reference`.

    Beats come from ``beats_path``, else librosa's tracker when ``track``, else none.
    ``progress(done, total)`` is called with model-rate samples processed so far.
    Silent audio is refused: there would be nothing to follow.
    """
    info = audio_info(audio_path)
    total = int(info.duration * config.sr)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    # A few frames more than the resampled length gives: the arrays are allocated once.
    expected = 1 + math.ceil(info.frames * config.sr / info.sr) // config.hop + 4
    blocks = (block for block, _ in file_blocks(audio_path, config.sr))
    frames = extract(blocks, config, pitch_model, step, expected_frames=expected)
    if len(frames) == 0 or float(np.max(frames.db)) < config.gate_db:
        raise InputFileError(f"{info.path}: audio is silent (below {config.gate_db:g} dBFS throughout)")
    if beats_path is not None:
        beats = load_beats(beats_path, beats_per_bar)
    elif track:
        beats = track_beats(frames.onset, config.sr, config.hop, beats_per_bar)
    else:
        beats = Beats.from_numbers(np.zeros(0), np.zeros(0), beats_per_bar, "none")
    meta = {
        "name": check_name(name or name_from_path(audio_path)),
        "source": str(Path(audio_path).resolve()),
        "sha256": file_sha256(audio_path),
        "duration": done / config.sr,
        "source_rate": info.sr,
        "source_channels": info.channels,
        "config": config.to_dict(),
        "feature_version": config.version,
        "pitch_backend": pitch_model.name,
        "pitch_model": pitch_model.handle,
        "beats_source": beats.source,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Reference(meta["name"], frames, beats, config, meta)


class ReferenceStore:
    """References on disk, safe against crashes and concurrent writers."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_path()

    def __repr__(self) -> str:
        return f"ReferenceStore({str(self.root)!r})"

    # -- reading -------------------------------------------------------------------

    def index(self) -> dict[str, dict[str, Any]]:
        """Metadata of every stored reference, by name."""
        path = self.root / "index.json"
        if not path.exists():
            self._check_folder()
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            refs = data["references"]
            if not isinstance(refs, dict):
                raise TypeError("references is not an object")
            bad = next((name for name, meta in refs.items() if not isinstance(meta, dict)), None)
            if bad is not None:
                raise TypeError(f"the entry for {bad!r} is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{path}: store index is unreadable ({exc}); fix or remove it") from exc
        return refs

    def names(self) -> list[str]:
        return sorted(self.index())

    def find_by_hash(self, sha256: str) -> list[str]:
        return sorted(name for name, meta in self.index().items() if meta.get("sha256") == sha256)

    def meta(self, name: str) -> dict[str, Any]:
        index = self.index()
        if name not in index:
            known = ", ".join(sorted(index)) or "none stored"
            raise StoreError(f"no reference named {name!r} in {self.root} (have: {known})")
        return index[name]

    def load(self, name: str, expect: Config | None = None) -> Reference:
        """Load a reference; refuse it when its feature file is corrupt or when it was
        built with a configuration or feature version other than ``expect``."""
        meta = self.meta(name)
        path = self._feature_file(name, meta)
        self._check_entry(name, meta)
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise StoreError(f"reference {name!r}: feature file {path} is missing ({exc})") from exc
        if digest != meta.get("file_sha256"):
            raise StoreError(f"reference {name!r}: feature file {path} is corrupt (hash mismatch); add it again")
        try:
            config = Config.from_dict(meta["config"])
        except (ParameterError, KeyError, TypeError) as exc:
            raise StoreError(f"reference {name!r}: stored configuration is unusable ({exc}); add it again") from exc
        if expect is not None:
            why = expect.incompatibility(config)
            if why:
                raise StoreError(
                    f"reference {name!r} was built with another configuration ({why}); "
                    f"rebuild it: matcher reference add {meta.get('source', 'AUDIO')} --name {name} --force"
                )
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            frames = Frames.from_arrays(arrays)
            beats = Beats.from_arrays(arrays, meta.get("beats_per_bar", 4), str(meta.get("beats_source", "")))
            score = None
            if "score_info" in arrays:  # references built from a score (older files have none)
                from .notation.info import ScoreInfo

                score = ScoreInfo.from_dict(json.loads(str(arrays["score_info"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"reference {name!r}: feature file {path} is unreadable ({exc})") from exc
        return Reference(name, frames, beats, config, meta, score)

    def _feature_file(self, name: str, meta: dict[str, Any]) -> Path:
        """The feature file an index entry names; a hand-edited entry naming anything but
        a plain file in the store is refused (so load and remove never reach outside it)."""
        if not _is_feature_file(meta.get("file")):
            raise StoreError(
                f"reference {name!r}: {self.root / 'index.json'} names no feature file in the store "
                f"(file: {meta.get('file')!r}); fix the entry or add the reference again"
            )
        return self.root / meta["file"]

    def _check_entry(self, name: str, meta: dict[str, Any]) -> None:
        """Refuse index fields a hand edit made unusable (they would fail later, far from here)."""
        per_bar = meta.get("beats_per_bar", 4)
        usable = {
            "duration": _is_number(meta.get("duration", 0.0), 0.0),
            "beats_per_bar": type(per_bar) is int and per_bar >= 1,
        }
        for key, ok in usable.items():
            if not ok:
                raise StoreError(
                    f"reference {name!r}: {self.root / 'index.json'} has an unusable {key} ({meta[key]!r}); "
                    "fix the entry or add the reference again"
                )

    # -- writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def spooling(self) -> Iterator[None]:
        """Files preprocessed within the block keep their flux and chroma in unnamed
        temporary files in the store's folder, not in memory (:func:`matcher.spool.spooled`):
        for a reference about to be added, so a long file's features are never held whole."""
        self._check_folder()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot write the reference store at {self.root}: {exc.strerror or exc}") from exc
        with spooled(self.root):
            yield

    def _check_folder(self) -> None:
        """Refuse a store path that is, or lies inside, a regular file."""
        blocker = next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise StoreError(f"cannot use the reference store at {self.root}: {blocker} is a file, not a folder")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._check_folder()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / ".lock", "a+")  # noqa: SIM115 - held for the with-block
        except OSError as exc:
            raise StoreError(f"cannot write the reference store at {self.root}: {exc.strerror or exc}") from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write_atomic(self, target: Path, write: Callable[[Any], None]) -> None:
        # ".tmp-": what _sweep removes after a crash
        write_atomic(target, write, error=StoreError, prefix=".tmp-")

    def _sweep(self, index: dict[str, dict[str, Any]]) -> None:
        """Delete what an interrupted writer left: temporary files and feature files the
        index does not name. Only called under the lock, so no write is in flight."""
        named = {meta.get("file") for meta in index.values()}
        for path in self.root.iterdir():
            if path.name.startswith(".tmp-") or (path.suffix == ".npz" and path.name not in named):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _write_index(self, refs: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps({"format": INDEX_FORMAT, "references": refs}, indent=1, sort_keys=True).encode()
        self._write_atomic(self.root / "index.json", lambda f: f.write(payload))

    def add(self, reference: Reference, replace: bool = False) -> dict[str, Any]:
        """Store a reference (atomically); an existing name needs ``replace=True``."""
        name = check_name(reference.name)
        arrays = {**reference.frames.arrays(), **reference.beats.arrays()}
        if reference.score is not None:
            arrays["score_info"] = np.array(json.dumps(reference.score.to_dict()))
        with self._locked():
            index = self.index()
            self._sweep(index)
            if name in index and not replace:
                raise StoreError(f"a reference named {name!r} exists already; pass --force to replace it")
            # A fresh file name per version: the index switches atomically from the old to the new file.
            fname = f"{name}.{hashlib.sha1(os.urandom(8)).hexdigest()[:8]}.npz"
            self._write_atomic(self.root / fname, lambda f: write_npz(f, arrays))
            meta = {**reference.meta, "name": name, "file": fname, "file_sha256": file_sha256(self.root / fname)}
            # The configuration stored is the reference's own, whatever its metadata says.
            meta.update(config=reference.config.to_dict(), feature_version=reference.config.version)
            meta["beats_per_bar"] = reference.beats.beats_per_bar
            old = index.get(name, {}).get("file")
            index[name] = meta
            try:
                self._write_index(index)
            except BaseException:
                with contextlib.suppress(OSError):
                    (self.root / fname).unlink()  # not in the index: would never be cleaned up
                raise
            if _is_feature_file(old) and old != fname:
                with contextlib.suppress(OSError):
                    (self.root / old).unlink()
        return meta

    def remove(self, name: str) -> None:
        with self._locked():
            index = self.index()
            if name not in index:
                raise StoreError(f"no reference named {name!r} in {self.root}")
            meta = index.pop(name)
            self._write_index(index)
            if _is_feature_file(meta.get("file")):  # never a file outside the store
                with contextlib.suppress(OSError):
                    (self.root / meta["file"]).unlink()
