"""librosa's cached gufuncs are first imported under a lock shared by every process."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from matcher.features.librosa_loader import LOCK_NAME, load_librosa
from matcher.features.spectral import CACHE_ENV

# librosa is imported before the loader runs, so without the lock "loaded" would follow
# "start" at once.
CHILD = """
import librosa.core.pitch
from matcher.features.librosa_loader import load_librosa
print("start", flush=True)
load_librosa()
print("loaded", flush=True)
"""


def test_a_process_waits_for_the_lock_another_holds(tmp_path: Path) -> None:
    lock = open(tmp_path / LOCK_NAME, "a")  # noqa: SIM115 - released below
    fcntl.flock(lock, fcntl.LOCK_EX)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, CACHE_ENV: str(tmp_path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "start"
        time.sleep(1.0)
        assert child.poll() is None  # still waiting for the lock
    finally:
        lock.close()  # releases it
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert out.strip() == "loaded"


def test_it_returns_librosa_without_a_writable_cache_folder(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "below-a-file"))  # mkdir fails
    monkeypatch.setattr("matcher.features.librosa_loader._loaded", False)
    librosa = load_librosa()
    assert librosa.yin is not None


def test_the_matchmaker_baseline_imports_librosa_under_its_venvs_lock(tmp_path: Path) -> None:
    """tools/baselines/run_matchmaker.py runs in pymatchmaker's own venv, which cannot
    import matcher: it takes the same kind of lock, on a file in that venv, before
    librosa. A bare venv stands in for it here (it has no librosa, so once the lock is
    free the script stops at that import)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = Path(__file__).resolve().parents[1] / "tools" / "baselines" / "run_matchmaker.py"
    lock = open(venv / "numba-compile.lock", "a")  # noqa: SIM115 - released below
    fcntl.flock(lock, fcntl.LOCK_EX)
    child = subprocess.Popen([venv / "bin" / "python", script, "--help"], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        assert child.poll() is None  # waiting for the lock, not failing at the import yet
    finally:
        lock.close()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 1
    assert "No module named 'librosa'" in err
