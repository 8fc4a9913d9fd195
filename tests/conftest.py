"""Shared fixtures: a seeded RNG, the YIN configuration (no TensorFlow needed), a
throw-away reference store, and the shared evaluation data (skipped when absent).

``tests/synth.py`` makes the test signals; import it as ``import synth``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from matcher import Config, YinModel

#: Evaluation data beside the checkout (../shared/data); override with $MATCHER_TEST_DATA.
SHARED_DATA = Path(os.environ.get("MATCHER_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

SEED = 20240611


def pytest_configure(config: pytest.Config) -> None:
    # audioread (librosa's fallback decoder) imports modules Python 3.13 drops; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:audioread.*")
    # matcher's caches (filterbanks) in a folder of this run, not the user's home
    # (subprocesses inherit it); kept for the whole session, like any user's cache, and
    # removed at its end (every run used to leave one in the temporary folder).
    if not os.environ.get("MATCHER_CACHE_DIR"):
        import tempfile

        os.environ["MATCHER_CACHE_DIR"] = config.stash[_RUN_CACHE] = tempfile.mkdtemp(prefix="matcher-test-cache-")


#: The cache folder this run made, if it made one.
_RUN_CACHE = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    run_cache = config.stash.get(_RUN_CACHE, "")
    if run_cache:
        import shutil

        shutil.rmtree(run_cache, ignore_errors=True)


# -- general -------------------------------------------------------------------------


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator per test: the same numbers on every run."""
    return np.random.default_rng(SEED)


# -- features ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def yin_config() -> Config:
    return Config(pitch_backend="yin")


@pytest.fixture(scope="session")
def yin_model(yin_config: Config) -> YinModel:
    return YinModel(yin_config)


# -- store ---------------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A store folder that does not exist yet (the store creates it)."""
    return tmp_path / "store"


# -- shared evaluation data ----------------------------------------------------------


@pytest.fixture
def shared_file():
    """``shared_file("dir/name")``: a file of the shared evaluation data; skips the test
    when it is absent."""

    def get(relative: str) -> Path:
        path = SHARED_DATA / relative
        if not path.is_file():
            pytest.skip(f"evaluation data not available: {path}")
        return path

    return get
