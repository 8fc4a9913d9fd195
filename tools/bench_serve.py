"""`matcher serve` in a real browser: headless Debian Chromium whose fake microphone plays
the demo's generated take (``--use-file-for-fake-audio-capture``), the live page following
it, and what the page showed measured against the take's beat truth.

    .venv/bin/python tools/bench_serve.py [--seconds 30] [--screenshots docs/img]

Figures printed:

* bar right: share of the take's beats for which the bar the page showed (the last position
  it drew that had heard the audio up to the middle of the beat) is the beat's bar;
* delay: from a sample reaching the page (the AudioWorklet's block posted to the page's
  thread; Chromium's capture buffer before it is not seen) to the page drawing a position
  that depends on it (``requestAnimationFrame`` after the WebSocket message): median, p90;
* tap-to-seek (``--jump A B``: the take plays up to bar A and goes on from bar B, and the
  page's bar B is tapped then): the first position's distance from the bar's start, whether
  the positions go on forward from there, and the bar right share of the beats after it.

The take's time axis is matched to the fake capture file's by cross-correlating the audio
the server saved with the file (Chromium starts the file when the device opens).
tests/test_serve_browser.py runs the same code with assertions (``@pytest.mark.slow``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from matcher.evaluation.browser import (
    TAP_REACTION_S,
    Server,
    browser_available,
    chromium,
    figures,
    follow_in_browser,
    score_screenshots,
)
from matcher.reference import ReferenceStore
from matcher.serve.demo import make_demo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="wall time to listen")
    parser.add_argument(
        "--jump",
        type=int,
        nargs=2,
        metavar=("FROM", "TO"),
        default=None,
        help="the take jumps from bar FROM to bar TO, and the page is tapped at bar TO then",
    )
    parser.add_argument("--screenshots", type=Path, default=None, help="write the page's screenshots here")
    args = parser.parse_args()
    if not browser_available():
        print("needs selenium and Debian's chromium and chromium-driver (tools/setup_system.sh --test)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="matcher-bench-serve-"))
    try:
        store = work / "store"
        take = make_demo(work, ReferenceStore(store), n_bars=12, take_sr=48000, jump=args.jump)
        with Server(store) as base:
            driver = chromium(take.path, work / "profile")
            try:
                if args.screenshots is not None:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                tap = None if take.jump_s is None else (take.jump_s + TAP_REACTION_S, args.jump[1])
                log, _ = follow_in_browser(base, driver, args.seconds, tap, args.screenshots)
                result = figures(log, take, store)
                if args.screenshots is not None:
                    score_screenshots(base, driver, log["take"], args.screenshots)
                    print(f"screenshots in {args.screenshots}")
            finally:
                driver.quit()
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
