"""`python -m matcher.serve` (the `matcher serve` command): it prints the address it serves,
and beyond loopback it requires a token and speaks HTTPS with a certificate made at start."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("cryptography")

from matcher.serve.security import is_loopback, self_signed_certificate


def _start(args: list[str], store: Path, env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "matcher.serve", "--port", "0", "--store", str(store), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server listens (or exits)
    if not line:
        proc.wait(timeout=10)
        pytest.fail(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
    assert line.startswith("matcher serve: open "), line
    return proc, line.split("open ", 1)[1].strip()


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def _get(url: str) -> tuple[int, bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_loopback_serves_plain_http_without_token(tmp_path: Path) -> None:
    proc, address = _start([], tmp_path / "store")
    try:
        assert address.startswith("http://localhost:") and address.endswith("/")
        status, body = _get(address.replace("localhost", "127.0.0.1") + "api/references")
        assert status == 200 and body == b"[]"
    finally:
        _stop(proc)


def test_beyond_loopback_a_token_and_https_are_required(tmp_path: Path) -> None:
    proc, address = _start(["--host", "0.0.0.0"], tmp_path / "store")
    try:
        assert address.startswith("https://0.0.0.0:") and "/?token=" in address
        base, token = address.split("/?token=")
        base = base.replace("0.0.0.0", "127.0.0.1")
        assert _get(f"{base}/api/references")[0] == 403
        assert _get(f"{base}/api/references?token=wrong")[0] == 403
        assert _get(f"{base}/api/references?token={token}") == (200, b"[]")
    finally:
        _stop(proc)


def test_a_stop_by_sigterm_leaves_no_temporary_files(tmp_path: Path) -> None:
    """A service manager stops with SIGTERM: the server shuts down and its temporary folder
    (here with the self-signed certificate's private key) goes with it."""
    temp = tmp_path / "temp"
    temp.mkdir()
    proc, _ = _start(["--host", "0.0.0.0"], tmp_path / "store", {"TMPDIR": str(temp)})
    assert list(temp.glob("matcher-serve-*"))  # made while serving
    _stop(proc)
    assert proc.returncode == 0
    assert not list(temp.glob("matcher-serve-*"))


def test_cert_and_key_go_together(tmp_path: Path) -> None:
    cert, _ = self_signed_certificate(tmp_path, "192.168.1.5")
    done = subprocess.run(
        [sys.executable, "-m", "matcher.serve", "--cert", str(cert)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--cert and --key go together" in done.stderr


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
