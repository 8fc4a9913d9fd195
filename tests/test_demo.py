"""`tools/demo.py` end to end, as `make demo` runs it (about 4 s: not marked slow)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "tools" / "demo.py"


def test_demo_runs(tmp_path: Path) -> None:
    out, store = tmp_path / "out", tmp_path / "out" / "store"
    env = {k: v for k, v in os.environ.items() if k not in ("MATCHER_HOME", "MATCHER_SPICE_MODEL")}
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--out", str(out), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    png = out / "demo_follow.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    match = re.search(r"beats within 50/100/200 ms: (\d+) % / (\d+) % / (\d+) %; median error \d+ ms", proc.stdout)
    assert match, proc.stdout
    shares = [int(g) for g in match.groups()]
    assert shares == sorted(shares) and shares[2] <= 100
    assert "mean tempo deviation" in proc.stdout
    # The reference went into the store the demo was given, not ./references.
    assert (store / "index.json").is_file()
    assert not (tmp_path / "references").exists()
