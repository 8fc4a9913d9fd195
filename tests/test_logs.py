"""Third-party start-up logs off stderr unless verbose (matcher/logs.py); the real SPICE
case is tests/test_spice.py::test_tensorflow_start_up_logs_stay_off_stderr_unless_verbose."""

from __future__ import annotations

import os

import pytest

from matcher.logs import VERBOSE_ENV, is_verbose, set_verbose, third_party_quiet


def test_fd2_is_silenced_inside_and_restored_after(capfd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    os.write(2, b"before\n")
    with third_party_quiet():
        os.write(2, b"C++ start-up noise\n")  # what TensorFlow's C++ logging does
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"


def test_restored_when_the_block_raises(capfd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with pytest.raises(RuntimeError), third_party_quiet():
        raise RuntimeError("model failed")
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_verbose_leaves_stderr_alone(capfd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    set_verbose(True)
    try:
        assert is_verbose()
        with third_party_quiet():
            os.write(2, b"C++ start-up noise\n")
    finally:
        set_verbose(False)
    assert not is_verbose()
    assert capfd.readouterr().err == "C++ start-up noise\n"
