"""`matcher serve` with the server's own microphone chosen on the page: the devices are
listed, a take heard through the server's input device (a stand-in sounddevice that
plays a file) gives the positions the same audio gives as a file, it is saved like a
browser's take, and a missing device is one clear message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient
from test_live import DEVICES, FakeStream, fake_sounddevice
from test_serve_api import _collect, _expected, _same_positions

from matcher.reference import ReferenceStore
from matcher.serve import create_app
from matcher.serve.demo import DemoTake, make_demo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECONDS = 6.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTake]:
    """A store with the demo reference (8 bars), and its take at 48 kHz."""
    folder = tmp_path_factory.mktemp("server_mic")
    take = make_demo(folder, ReferenceStore(folder / "store"), n_bars=8, take_sr=48000)
    return folder / "store", take


@pytest.fixture
def store_copy(served: tuple[Path, DemoTake], tmp_path: Path) -> Path:
    """A private copy of the store (a take is written into it)."""
    import shutil

    return Path(shutil.copytree(served[0], tmp_path / "store"))


def test_devices_are_listed_default_first(monkeypatch: pytest.MonkeyPatch, store_copy: Path) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2))
    devices = TestClient(create_app(store_copy)).get("/api/devices").json()
    assert devices[0]["name"] == "pulse" and devices[0]["default"]
    assert {d["name"] for d in devices} == {"HDA Intel PCH: ALC3246 Analog (hw:0,0)", "pulse", "default"}


def test_a_take_through_the_servers_microphone_follows_like_the_file(
    monkeypatch: pytest.MonkeyPatch, served: tuple[Path, DemoTake], store_copy: Path
) -> None:
    audio, sr = sf.read(served[1].path, dtype="float32")
    audio = audio[: int(SECONDS * sr)]
    rates = {name: rate for name, _, rate in DEVICES}

    devices: list[FakeStream] = []

    def stream(**kw):  # the device plays the take at 4x real time, in 441-sample blocks
        assert kw["samplerate"] == round(rates["pulse"]) and kw["channels"] == 1
        devices.append(FakeStream(played, speed=4.0, **kw))
        return devices[-1]

    # The stand-in device records at its own rate (44.1 kHz): the take resampled to it.
    import soxr

    played = soxr.resample(audio, sr, round(rates["pulse"])).astype(np.float32)
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2, stream=stream))
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/demo") as ws:
        ws.send_text(json.dumps({"type": "start", "source": "server", "device": "pulse"}))
        ready = ws.receive_json()
        assert ready["event"] == "ready" and ready["device"] == "pulse" and ready["sample_rate"] == 44100
        devices[0]._thread.join(timeout=30)  # the device has played the whole take
        ws.send_text(json.dumps({"type": "stop"}))
        got, ended = _collect(ws)
    assert ended["event"] == "ended" and ended["take"]
    recorded = store_copy / "takes" / "demo"
    assert any(recorded.glob(f"{ended['take']}*.flac"))
    # The same audio as a file at the device's rate gives the same positions.
    as_file = store_copy.parent / "played.wav"
    sf.write(as_file, played, 44100, subtype="FLOAT")
    _same_positions(got, _expected(store_copy, as_file, len(played) / 44100))


def test_a_missing_server_device_is_one_message(monkeypatch: pytest.MonkeyPatch, store_copy: Path) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2))
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/demo") as ws:
        ws.send_text(json.dumps({"type": "start", "source": "server", "device": "no such microphone"}))
        event = ws.receive_json()
    assert event["event"] == "error" and "no such microphone" in event["message"]


def test_audio_sent_to_a_server_microphone_take_is_refused(monkeypatch: pytest.MonkeyPatch, store_copy: Path) -> None:
    silent = np.zeros((44100 * 30, 1), np.float32)
    stream = lambda **kw: FakeStream(silent, speed=1.0, **kw)  # noqa: E731
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2, stream=stream))
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/demo") as ws:
        ws.send_text(json.dumps({"type": "start", "source": "server"}))
        assert ws.receive_json()["event"] == "ready"
        ws.send_bytes(np.zeros(256, "<f4").tobytes())
        event = ws.receive_json()
    assert event["event"] == "error" and "server's microphone" in event["message"]
