"""Third-party start-up logs (TensorFlow, absl, CUDA) kept off stderr unless asked for.

TensorFlow writes its start-up lines (CUDA probing, oneDNN notices, absl's "log
messages before absl::InitializeLog()") from C++ straight to file descriptor 2, where no
Python setting reaches some of them. So while TensorFlow is imported and a model is
loaded and first run, fd 2 points at /dev/null and is restored afterwards; the C++ log
level is set to errors only and absl's Python logging to ERROR. ``matcher --verbose``
(or ``MATCHER_VERBOSE=1``, which batch workers inherit) leaves all of it alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

VERBOSE_ENV = "MATCHER_VERBOSE"


def set_verbose(verbose: bool) -> None:
    """Show (True) or hide (False) third-party logs, here and in processes started later."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:
        os.environ.pop(VERBOSE_ENV, None)


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip() not in ("", "0")


@contextlib.contextmanager
def third_party_quiet() -> Iterator[None]:
    """Silence stderr (fd 2, so C++ writers too) and Python's TensorFlow/absl loggers for
    the block, unless verbose; everything is restored afterwards, also on errors."""
    if is_verbose():
        yield
        return
    # Only effective before TensorFlow's first import; a level the user set is kept.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "h5py")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, logging.ERROR))
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no fd 2 to silence (a daemon): the log levels still apply
        saved = devnull = -1
    try:
        if devnull >= 0:
            os.dup2(devnull, 2)
        yield
    finally:
        if devnull >= 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
        _absl_errors_only()
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _absl_errors_only() -> None:
    """absl's own verbosity to ERROR (it logs later inference warnings through it)."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        with contextlib.suppress(Exception):
            absl_logging.set_verbosity(absl_logging.ERROR)


__all__ = ["VERBOSE_ENV", "is_verbose", "set_verbose", "third_party_quiet"]
