"""tools/soak.py: the session plan, its audio in blocks, and one simulated minute end to end
(about 3 s; no timing or memory assertions: the figures are the tool's to report)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # tools/ is not a package
import soak

SR = 16000
DURATIONS = [170.0, 185.0, 200.0, 160.0]


def test_plan_fills_the_session_with_segments_inside_the_renderings() -> None:
    segments = list(soak.plan(np.random.default_rng(3), DURATIONS, 7200.0))
    assert np.isclose(sum(s.length for s in segments), 7200.0)
    assert all(s.length > 0 and s.src >= 0 for s in segments)
    assert all(s.src + s.length <= DURATIONS[s.variant] + 1e-9 for s in segments if s.variant >= 0)
    events = {s.event for s in segments}
    assert {"restart", "back", "forward", "pause", "drop", "next", "end"} <= events
    for before, after in itertools.pairwise(segments):  # jumps move at least 10 s
        if after.event in ("back", "forward") and after.variant == before.variant:
            assert abs(after.src - (before.src + before.length)) >= 10.0


def test_take_blocks_are_the_plan_sample_for_sample() -> None:
    rng = np.random.default_rng(5)
    variants = [rng.uniform(-0.5, 0.5, round(d * SR)).astype(np.float32) for d in DURATIONS]
    segments = list(soak.plan(np.random.default_rng(2), DURATIONS, 300.0))  # seed 2: pauses in 300 s
    blocks = list(soak.take_blocks(segments, variants, SR, 1024))
    assert all(len(b) == 1024 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 1024
    audio = np.concatenate(blocks)
    assert len(audio) == 300 * SR
    first = segments[0]  # away from its fades, the first segment is its rendering's samples
    n = round(first.length * SR)
    np.testing.assert_array_equal(audio[1000 : n - 1000], variants[first.variant][1000 : n - 1000])
    silent = next(k for k, s in enumerate(segments) if s.variant < 0)
    start = round(sum(s.length for s in segments[:silent]) * SR)
    assert not np.any(audio[start + 100 : start + round(segments[silent].length * SR) - 100])


def test_one_simulated_minute_completes_without_errors(tmp_path: Path, capsys) -> None:
    out = tmp_path / "soak.json"
    status = soak.main(["--minutes", "1", "--piece-minutes", "0.5", "--json", str(out)])
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["errors"] == 0 and report["error_messages"] == []
    assert "PASS errors: 0" in text and ("PASS memory growth" in text or "FAIL memory growth" in text)
    assert status == (0 if "FAIL" not in text else 1)
    assert report["audio_s"] == 60.0
    assert report["positions"] == 1 + 60 * SR // 256  # one per hop, as FeatureStream.flush counts them
    mem = report["memory"]
    assert mem["baseline_mb"] > 0 and mem["peak_mb"] >= mem["baseline_mb"] and len(mem["samples"]) >= 2
    assert len(report["latency_slices"]) == 1 and report["latency_slices"][0]["blocks"] == report["latency"]["blocks"]
    assert report["latency"]["blocks"] == -(-60 * SR // 1024)
    assert report["speed_x_realtime"] > 0 and isinstance(report["relocks"], int)
