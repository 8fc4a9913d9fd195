"""`matcher serve` driven in a real browser (tools/bench_serve.py, tests/test_serve_browser.py):
headless Debian Chromium whose fake microphone plays a take file
(``--use-file-for-fake-audio-capture``), the live page following it, and what the page
showed measured against the take's beat truth.

* bar right: share of the take's beats for which the bar the page showed (the last position
  it drew that had heard the audio up to the middle of the beat) is the beat's bar;
* delay: from a sample reaching the page (the AudioWorklet's block posted to the page's
  thread) to the page drawing a position that depends on it: median, p90 [ms];
* tap-to-seek: the first position's distance from the tapped bar's start, whether the
  positions go on forward from there, and the bar right share of the beats after it.

The take's time axis is matched to the fake capture file's by cross-correlating the audio
the server saved with the file (Chromium starts the file when the device opens).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import read_audio
from ..serve import create_app
from ..serve.demo import DemoTake

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SIZES = {"1280x800": (1280, 800), "768x1024": (768, 1024)}
#: How long after the take's jump [s] the page is tapped (a player's hand, roughly).
TAP_REACTION_S = 0.1


def browser_available() -> bool:
    """Are selenium, Debian's chromium and chromedriver here?"""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


class Server:
    """uvicorn serving the app in a thread, on a free loopback port."""

    def __init__(self, store: Path) -> None:
        import uvicorn

        self.app = create_app(store)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", ws_max_size=1 << 20)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                break
            time.sleep(0.025)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def chromium(fake_audio: Path, profile: Path, size: tuple[int, int] = SIZES["1280x800"]) -> Any:
    """Headless Chromium with a fake microphone playing ``fake_audio``; no downloads."""
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never fetch
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}",
        "--autoplay-policy=no-user-gesture-required",
        f"--window-size={size[0]},{size[1]}",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    set_viewport(driver, size)
    return driver


def set_viewport(driver: Any, size: tuple[int, int]) -> None:
    """Make the page's viewport exactly ``size`` (the window's frame is not counted)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
    )


def page_log(driver: Any) -> dict[str, Any]:
    """The live page's ``window.matcherLog``: positions, audio blocks, seeks, ``ended``."""
    return driver.execute_script("return window.matcherLog")


def bar_start(detail: dict[str, Any], bar: int) -> float:
    """Reference time [s] where ``bar`` starts, from a reference's detail (``/api/references/NAME``)."""
    beats = detail["beats"]
    return float(np.interp(float(bar), beats["bars"], beats["times"]))


def tap_bar(driver: Any, bar: int, ref_duration: float, bar_t: float) -> None:
    """Click the waveform a little after the start of ``bar`` (as a finger would)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "waveform")
    width = canvas.rect["width"]
    x = (bar_t + 0.3) / ref_duration * width - width / 2  # offsets are from the element's centre
    ActionChains(driver).move_to_element_with_offset(canvas, int(x), 0).click().perform()


def follow_in_browser(
    base: str,
    driver: Any,
    seconds: float,
    tap: tuple[float, int] | None = None,
    screenshots: Path | None = None,
) -> tuple[dict[str, Any], list[tuple[float, str, str]]]:
    """Open the live page, listen for ``seconds`` of wall time, optionally tap bar ``tap[1]``
    after ``tap[0]`` s; the page's log and the (time, bar, beat) the page showed, sampled."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/live.html?ref=demo")
    detail = driver.execute_script("return fetch('/api/references/demo').then(r => r.json())")
    driver.find_element(By.ID, "listen").click()
    shown: list[tuple[float, str, str]] = []
    start = time.monotonic()
    tapped = False
    shot = False
    while time.monotonic() - start < seconds:
        elapsed = time.monotonic() - start
        shown.append((elapsed, driver.find_element(By.ID, "bar").text, driver.find_element(By.ID, "beat").text))
        if tap is not None and not tapped and elapsed >= tap[0]:
            tap_bar(driver, tap[1], detail["duration"], bar_start(detail, tap[1]))
            tapped = True
        if screenshots is not None and not shot and elapsed >= 0.45 * seconds:
            for label, size in SIZES.items():
                set_viewport(driver, size)
                time.sleep(0.3)
                driver.save_screenshot(str(screenshots / f"serve_live_{label}.png"))
            set_viewport(driver, SIZES["1280x800"])
            shot = True
        time.sleep(0.1)
    driver.find_element(By.ID, "stop").click()
    for _ in range(200):
        log = page_log(driver)
        if log["ended"]:
            break
        time.sleep(0.05)
    log["detail"] = detail
    return log, shown


def take_offset(saved: np.ndarray, fake: np.ndarray, sr: int) -> float:
    """Where in the fake capture file [s] the saved take's first sample was: ``saved[n] ==
    fake[n + offset * sr]`` (cross-correlation of the first 20 s, by FFT)."""
    a = saved[: 20 * sr].astype(np.float64)
    b = fake[: 25 * sr].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lag = int(np.argmax(corr[: len(b)]))
    return lag / sr


def figures(log: dict[str, Any], take: DemoTake, store: Path) -> dict[str, Any]:
    """Bar right share, delays, seek figures from the page's log and the saved take."""
    saved_path = store / "takes" / "demo" / f"{log['take']}.flac"
    sr = 16000
    offset = take_offset(read_audio(saved_path, sr), read_audio(take.path, sr), sr)
    pos = log["positions"]
    t = np.array([p["t"] for p in pos])
    bar = np.array([np.nan if p["bar"] is None else p["bar"] for p in pos])
    # Beats whose middle the take covered (file time -> take time).
    beat_take_t = take.beat_times - offset
    mids = (beat_take_t[:-1] + beat_take_t[1:]) / 2
    judged = [k for k in range(len(mids)) if t[0] <= mids[k] <= t[-1]]
    right = []
    wrong = []  # (beat, take time of its middle, bar shown, bar played) for the printout
    for k in judged:
        i = int(np.searchsorted(t, mids[k], side="right")) - 1
        right.append(np.floor(bar[i] + 1e-6) == take.bar_of_beat(k))
        if not right[-1]:
            wrong.append((k, round(float(mids[k]), 2), float(bar[i]), take.bar_of_beat(k)))
    # Delay: sample arrival at the page (blocks log: [end sample, ms]) to the drawing.
    blocks = np.array(log["blocks"], dtype=float)
    rate = float(log["sampleRate"])
    drawn = np.array([np.nan if p["drawnAt"] is None else p["drawnAt"] for p in pos])
    arrival = np.interp(t * rate, blocks[:, 0], blocks[:, 1], left=np.nan, right=np.nan)
    delay = drawn - arrival
    delay = delay[np.isfinite(delay)]
    out: dict[str, Any] = {
        "take_offset_s": round(offset, 3),
        "beats_judged": len(judged),
        "bar_right_pct": round(100.0 * float(np.mean(right)), 1) if right else None,
        "delay_median_ms": round(float(np.median(delay)), 1) if len(delay) else None,
        "delay_p90_ms": round(float(np.percentile(delay, 90)), 1) if len(delay) else None,
        "positions": len(pos),
        "wrong_beats": wrong,
    }
    if log["seeks"]:
        seek = log["seeks"][0]
        after = [p for p in pos if p["receivedAt"] > seek["at"]]
        if after:
            first = after[0]
            # Beats from the first position that had the seek (a loaded machine delivers
            # the tap late; the take went on meanwhile).
            ok_after = [ok for k, ok in zip(judged, right, strict=True) if mids[k] > first["t"]]
            if ok_after:
                out["bar_right_after_seek_pct"] = round(100.0 * float(np.mean(ok_after)), 1)
            out["seek_bar_start_s"] = seek["ref_t"]
            out["seek_first_error_ms"] = round(1000.0 * (first["ref_t"] - seek["ref_t"]), 1)
            ahead = [p["ref_t"] for p in after if p["t"] <= first["t"] + 0.5]
            out["seek_then_forward"] = bool(np.all(np.diff(ahead) >= -1e-6) and ahead[-1] > ahead[0])
    return out


def score_screenshots(base: str, driver: Any, take_id: str, folder: Path) -> None:
    """The take's score page at both sizes."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/takes.html?ref=demo&take={take_id}")
    for _ in range(600):  # scoring runs once, then the picture loads
        done = driver.execute_script(
            "const i = document.querySelector('#score img.plot'); return !!(i && i.complete && i.naturalWidth)"
        )
        if done:
            break
        time.sleep(0.1)
    for label, size in SIZES.items():
        set_viewport(driver, size)
        time.sleep(0.3)
        driver.save_screenshot(str(folder / f"serve_score_{label}.png"))
    driver.find_element(By.ID, "title")  # the page is there
