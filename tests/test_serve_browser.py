"""`matcher serve` in a real browser (slow): headless Debian Chromium, its fake microphone
playing the demo's generated take; the bar the live page shows against the take's beat
truth, tap-a-bar, and screenshots of the live and score pages (the figures themselves —
delay, bar right % — are printed by tools/bench_serve.py, not asserted on time); the
browser driving and the measurement are matcher.evaluation.browser.

Screenshots go to $MATCHER_SCREENSHOTS (default: a temporary folder), printed at the end.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from matcher.evaluation import browser as bs
from matcher.reference import ReferenceStore
from matcher.serve.demo import DemoTake, make_demo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not bs.browser_available(), reason="needs selenium, chromium and chromium-driver"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTake]:
    folder = tmp_path_factory.mktemp("browser")
    store = folder / "store"
    return store, make_demo(folder, ReferenceStore(store), n_bars=12, take_sr=48000)


def test_the_page_shows_the_bar_being_played_and_its_score(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, take = demo
    shots = Path(os.environ.get("MATCHER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with bs.Server(store) as base:
        driver = bs.chromium(take.path, tmp_path / "profile")
        try:
            log, shown = bs.follow_in_browser(base, driver, 32.0, screenshots=shots)
            result = bs.figures(log, take, store)
            bs.score_screenshots(base, driver, log["take"], shots)
        finally:
            driver.quit()
    print(f"\nbrowser figures: {result}\nscreenshots in {shots}")
    assert result["beats_judged"] >= 44
    assert result["bar_right_pct"] >= 95.0
    # What the page's readout showed over time moved through the bars, in order.
    bars = [int(b) for _, b, _ in shown if b.isdigit()]
    assert bars and bars[-1] >= 8 and all(b2 >= b1 for b1, b2 in itertools.pairwise(bars))
    for name in ("serve_live_1280x800", "serve_live_768x1024", "serve_score_1280x800", "serve_score_768x1024"):
        assert (shots / f"{name}.png").stat().st_size > 10_000


def test_tapping_a_bar_moves_the_follower_there(tmp_path: Path) -> None:
    """The player stops at bar 5 and goes on from bar 9, tapping bar 9 on the page."""
    store = tmp_path / "store"
    take = make_demo(tmp_path, ReferenceStore(store), n_bars=12, take_sr=48000, jump=(5, 9))
    assert take.jump_s is not None
    with bs.Server(store) as base:
        driver = bs.chromium(take.path, tmp_path / "profile")
        try:
            log, _ = bs.follow_in_browser(base, driver, take.jump_s + 8.0, tap=(take.jump_s + bs.TAP_REACTION_S, 9))
        finally:
            driver.quit()
    result = bs.figures(log, take, store)
    print(f"\ntap figures: {result}")
    assert result["seek_bar_start_s"] == pytest.approx(bs.bar_start(log["detail"], 9), abs=1e-3)
    assert abs(result["seek_first_error_ms"]) <= 200
    assert result["seek_then_forward"]
    assert result["bar_right_after_seek_pct"] >= 90.0
