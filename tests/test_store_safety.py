"""The reference store under crashes and concurrent writers: every reference is either
fully present and loadable or absent, and the index always agrees with the files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from matcher.reference import ReferenceStore

# A writer that adds (and, in "mixed" mode, removes) small random references until it
# has done `count` operations (count 0: until killed).
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from matcher.beats import Beats
    from matcher.config import Config
    from matcher.errors import StoreError
    from matcher.features import Frames
    from matcher.reference import Reference, ReferenceStore

    root, mode, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = ReferenceStore(root)
    rng = np.random.default_rng(seed)
    cfg = Config()

    def reference(name, n):
        one = lambda: rng.random(n, dtype=np.float32)
        frames = Frames(one(), one(), one(), one(), rng.random((n, cfg.n_bands), dtype=np.float32),
                        rng.random((n, 12), dtype=np.float32))
        beats = Beats.from_numbers(np.arange(4.0), np.arange(4.0), 4, "test")
        return Reference(name, frames, beats, cfg, {"duration": n * cfg.frame_seconds, "sha256": f"{seed}-{n}"})

    print("ready", flush=True)  # imports done: from here it writes all the time
    done = 0
    while count == 0 or done < count:
        name = f"r{rng.integers(0, 6)}"
        if mode == "add" or rng.random() < 0.6:
            store.add(reference(name, int(rng.integers(200, 40000))), replace=True)
        else:
            try:
                store.remove(name)
            except StoreError:
                pass
        done += 1
    """
)


def _writer(root: Path, mode: str, seed: int, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), mode, str(seed), str(count)], stdout=subprocess.PIPE, text=True
    )


def _check_consistent(root: Path) -> int:
    """Every indexed reference loads (hash checked); returns how many there are."""
    store = ReferenceStore(root)
    index = store.index()
    for name in index:
        ref = store.load(name)
        assert len(ref.frames) == len(ref.frames.flux)
    return len(index)


def _check_no_leftovers(root: Path) -> None:
    named = {meta["file"] for meta in ReferenceStore(root).index().values()}
    on_disk = {p.name for p in root.iterdir() if p.suffix == ".npz" or p.name.startswith(".tmp-")}
    assert on_disk == named


@pytest.mark.slow
def test_sigkill_while_adding_never_leaves_a_half_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    root = tmp_path / "store"
    killed_mid_write = 0
    for k in range(100):
        proc = _writer(root, "mixed", k, 0)
        # Start-up (imports) takes a second or more on a loaded machine: kill only once
        # the writer says it is writing, at a random moment of its writes.
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.5)))
        proc.kill()
        proc.wait()
        proc.stdout.close()
        killed_mid_write += any(p.name.startswith(".tmp-") for p in root.iterdir()) if root.exists() else 0
        _check_consistent(root)
    # The next writer sweeps what the killed ones left.
    sweeper = _writer(root, "add", 999, 1)
    sweeper.communicate()  # reads its "ready" and closes the pipe
    assert sweeper.returncode == 0
    assert _check_consistent(root) >= 1
    _check_no_leftovers(root)
    assert killed_mid_write > 0, "no kill landed during a write: the test proved nothing"


def test_four_writers_at_once_keep_the_store_consistent(tmp_path: Path) -> None:
    root = tmp_path / "store"
    procs = [_writer(root, "mixed", seed, 15) for seed in range(4)]
    for p in procs:
        p.communicate(timeout=120)  # reads its "ready" and closes the pipe
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    _check_consistent(root)
    _check_no_leftovers(root)
