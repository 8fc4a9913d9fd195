"""Takes recorded through the live page, kept per reference beside the store.

Layout (inside the reference store's folder)::

    takes/<reference>/<take id>.part.flac    the take's audio while it is recorded
    takes/<reference>/<take id>.flac         the take's audio at the model rate (16-bit)
    takes/<reference>/<take id>.json         date, length, summary of the follow, score summary
    takes/<reference>/<take id>.score.json   the practice score (as `matcher score --json`)
    takes/<reference>/<take id>.score.png    its picture

Take ids are made here (UTC date and time plus a random suffix) and checked against a
strict pattern whenever they come back from a client, so no request reaches outside.
Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

_TAKE_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
_REF_NAME = re.compile(r"^[\w][\w.+-]{0,99}$")


class TakeError(ValueError):
    """A take id or reference name that cannot name a take."""


def new_take_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class TakeStore:
    """Takes of each reference under ``root/takes``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "takes"

    def folder(self, reference: str) -> Path:
        if not _REF_NAME.match(reference):
            raise TakeError(f"bad reference name {reference!r}")
        return self.root / reference

    def path(self, reference: str, take_id: str, suffix: str) -> Path:
        if not _TAKE_ID.match(take_id):
            raise TakeError(f"bad take id {take_id!r}")
        return self.folder(reference) / f"{take_id}{suffix}"

    def _write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def save_json(self, reference: str, take_id: str, suffix: str, data: dict[str, Any]) -> None:
        self._write(self.path(reference, take_id, suffix), json.dumps(data, indent=1, allow_nan=False).encode())

    def save_bytes(self, reference: str, take_id: str, suffix: str, data: bytes) -> None:
        self._write(self.path(reference, take_id, suffix), data)

    def read_json(self, reference: str, take_id: str, suffix: str) -> dict[str, Any] | None:
        path = self.path(reference, take_id, suffix)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def history(self, reference: str) -> list[dict[str, Any]]:
        """Every take of ``reference`` with its metadata, newest first."""
        folder = self.folder(reference)
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json"), reverse=True):
            take_id = path.name[: -len(".json")]
            if _TAKE_ID.match(take_id):
                meta = self.read_json(reference, take_id, ".json")
                if meta is not None:
                    out.append(meta)
        return out

    def remove_reference(self, reference: str) -> None:
        """Forget every take of a removed reference."""
        shutil.rmtree(self.folder(reference), ignore_errors=True)
