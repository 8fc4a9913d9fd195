"""`matcher serve` in-process (Starlette's TestClient): the JSON endpoints, the live
WebSocket against `follow_blocks` on the same audio, bad uploads and bad messages, two
sessions at once, takes and their scores, the access token."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from matcher.audio import file_blocks
from matcher.follow import follow_blocks
from matcher.reference import ReferenceStore
from matcher.serve import create_app
from matcher.serve.demo import DemoTake, make_demo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TAKE_SECONDS = 8.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTake, DemoTake]:
    """A store with the demo reference (8 bars) and two takes: 16 kHz and 48 kHz."""
    folder = tmp_path_factory.mktemp("serve")
    store = ReferenceStore(folder / "store")
    take48 = make_demo(folder, store, n_bars=8, take_sr=48000)
    take16 = make_demo(folder, store, n_bars=8, take_sr=16000)
    return folder / "store", take16, take48


@pytest.fixture
def store_copy(demo: tuple[Path, DemoTake, DemoTake], tmp_path: Path) -> Path:
    """A private copy of the demo store (tests that write do not disturb the others)."""
    import shutil

    target = tmp_path / "store"
    shutil.copytree(demo[0], target)
    return target


def _pcm(path: Path, seconds: float, fmt: str) -> tuple[np.ndarray, int]:
    dtype = "int16" if fmt == "s16" else "float32"
    audio, sr = sf.read(path, dtype=dtype)
    return audio[: int(seconds * sr)], sr


def _run_take(ws, audio: np.ndarray, sr: int, fmt: str, block: int) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    """Start, send ``audio`` in blocks, stop; the positions received and the closing event."""
    ws.send_text(json.dumps({"type": "start", "sample_rate": sr, "format": fmt}))
    assert ws.receive_json()["event"] == "ready"
    for i in range(0, len(audio), block):
        ws.send_bytes(audio[i : i + block].astype("<i2" if fmt == "s16" else "<f4").tobytes())
    ws.send_text(json.dumps({"type": "stop"}))
    return _collect(ws)


def _collect(ws) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    positions = []
    while True:
        text = ws.receive_text()
        if text.startswith('{"event"'):
            event = json.loads(text)
            if event["event"] in ("ended", "error"):
                return positions, event
            continue
        positions.extend(json.loads(line) for line in text.strip().split("\n"))


def _wait_idle(client: TestClient) -> None:
    """Until the server has no session left (it saves a take before it lets it go)."""
    for _ in range(400):
        if not client.app.state.matcher.registry.active:
            return
        time.sleep(0.025)


def _expected(store: Path, path: Path, seconds: float) -> list[dict]:
    """`matcher follow --input` on the same audio (cut to the same length)."""
    reference = ReferenceStore(store).load("demo")
    audio, sr = sf.read(path, dtype="float32")
    cut = audio[: int(seconds * sr)]
    tmp = path.with_name(f"cut_{path.name}")
    sf.write(tmp, cut, sr, subtype="PCM_16")
    track = follow_blocks(reference, (b for b, _ in file_blocks(tmp, reference.config.sr)))
    return [p.to_dict() for p in track.positions()]


def _same_positions(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    assert [p["frame"] for p in got] == [p["frame"] for p in want]
    assert [p["state"] for p in got] == [p["state"] for p in want]
    # The features of one audio cut into other blocks differ by float rounding (FFT and
    # matrix products over other batch shapes: about 4e-6 of the flux), which moved ref_t
    # by up to 2.1 ms at a take's last frames (measured): a fifth of a frame is allowed.
    for key in ("t", "ref_t", "bar", "tempo_ratio"):
        np.testing.assert_allclose([p[key] for p in got], [p[key] for p in want], atol=3.2e-3, err_msg=key)


# -- the live WebSocket ------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "fmt", "block"), [(16000, "f32", 256), (48000, "s16", 384), (48000, "f32", 1000)])
def test_websocket_positions_equal_follow_blocks_on_the_same_audio(demo, store_copy, rate, fmt, block) -> None:  # type: ignore[no-untyped-def]
    _, take16, take48 = demo
    take = take16 if rate == 16000 else take48
    audio, sr = _pcm(take.path, TAKE_SECONDS, fmt)
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/demo") as ws:
        got, ended = _run_take(ws, audio, sr, fmt, block)
    assert ended["event"] == "ended" and ended["take"]
    assert list(got[0]) == list(_expected(store_copy, take.path, TAKE_SECONDS)[0])  # the same keys, in order
    _same_positions(got, _expected(store_copy, take.path, TAKE_SECONDS))


def test_seek_to_a_bar_moves_the_follower_there(demo, store_copy) -> None:  # type: ignore[no-untyped-def]
    _, take16, _ = demo
    audio, sr = _pcm(take16.path, 6.0, "f32")
    detail = TestClient(create_app(store_copy)).get("/api/references/demo").json()
    bar6 = detail["beats"]["times"][detail["beats"]["bars"].index(6.0)]
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/demo") as ws:
        ws.send_text(json.dumps({"type": "start", "sample_rate": sr, "format": "f32"}))
        ws.receive_json()
        for i in range(0, len(audio), 512):
            ws.send_bytes(audio[i : i + 512].tobytes())
        ws.send_text(json.dumps({"type": "seek", "bar": 6}))
        ws.send_bytes(audio[:512].tobytes())
        ws.send_text(json.dumps({"type": "stop"}))
        messages = []
        while not (messages and messages[-1].startswith('{"event":"ended"')):
            messages.append(ws.receive_text())
    seeked = next(i for i, m in enumerate(messages) if m.startswith('{"event":"seeked"'))
    assert json.loads(messages[seeked])["ref_t"] == pytest.approx(bar6, abs=1e-3)
    first_after = json.loads(messages[seeked + 1].split("\n")[0])
    assert abs(first_after["ref_t"] - bar6) <= 0.2
    assert 6.0 <= first_after["bar"] < 6.25


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([b"\x00\x00\x00\x00"], "first message must be the JSON start"),
        (["not json"], "JSON"),
        (["[1, 2]"], "JSON objects"),
        (['{"type": "hello"}'], "first message must be"),
        (['{"type": "start", "sample_rate": 12, "format": "f32"}'], "sample_rate"),
        (['{"type": "start", "sample_rate": "48000", "format": "f32"}'], "sample_rate"),
        (['{"type": "start", "sample_rate": 48000, "format": "mp3"}'], "format"),
        (['{"type": "start", "sample_rate": 48000, "format": "f32"}', b"\x00\x00\x00"], "whole number"),
        (['{"type": "start", "sample_rate": 8000, "format": "f32"}', b"\x00" * 40000], "at most"),
        (['{"type": "start", "sample_rate": 48000, "format": "f32"}', np.full(8, np.nan, "<f4").tobytes()], "NaN"),
        (['{"type": "start", "sample_rate": 48000, "format": "f32"}', '{"type": "jump"}'], "unknown message"),
        (['{"type": "start", "sample_rate": 48000, "format": "f32"}', '{"type": "seek", "bar": 99}'], "outside"),
        (['{"type": "start", "sample_rate": 48000, "format": "f32"}', '{"type": "seek", "bar": "x"}'], "seek needs"),
    ],
)
def test_malformed_messages_end_the_session_with_one_message(store_copy, messages, says) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(store_copy)) as client:
        with client.websocket_connect("/api/follow/demo") as ws:
            for m in messages:
                ws.send_bytes(m) if isinstance(m, bytes) else ws.send_text(m)
            while True:
                event = ws.receive_json()
                if event["event"] == "error":
                    break
            assert says in event["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code in (1003, 1008)
        _wait_idle(client)
        assert client.app.state.matcher.registry.active == {}
        assert client.get("/api/references/demo").status_code == 200  # the server goes on
    assert not list(store_copy.rglob("*.flac"))  # nothing worth keeping was heard


def test_unknown_reference_over_the_websocket(store_copy) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(store_copy)) as client, client.websocket_connect("/api/follow/nothing") as ws:
        event = ws.receive_json()
        assert event["event"] == "error" and "nothing" in event["message"]


def test_a_client_vanishing_mid_take_ends_the_session_and_keeps_the_take(demo, store_copy) -> None:  # type: ignore[no-untyped-def]
    _, take16, _ = demo
    audio, sr = _pcm(take16.path, 3.0, "f32")
    index_before = (store_copy / "index.json").read_bytes()
    with TestClient(create_app(store_copy)) as client:
        with client.websocket_connect("/api/follow/demo") as ws:
            ws.send_text(json.dumps({"type": "start", "sample_rate": sr, "format": "f32"}))
            ws.receive_json()
            for i in range(0, len(audio), 512):
                ws.send_bytes(audio[i : i + 512].tobytes())
            last_t = 0.0
            while last_t < 2.9:  # the server has followed what was sent; then the client goes without a word
                last_t = json.loads(ws.receive_text().strip().split("\n")[-1])["t"]
        _wait_idle(client)
        assert client.app.state.matcher.registry.active == {}
        history = client.get("/api/references/demo/takes").json()
    assert len(history) == 1 and history[0]["ended_by"] == "client left"
    assert 2.85 <= history[0]["seconds"] <= 3.0  # at least what had been followed when it left
    kept = sf.info(store_copy / "takes" / "demo" / f"{history[0]['take']}.flac")
    assert kept.samplerate == 16000 and kept.duration == pytest.approx(history[0]["seconds"], abs=0.002)
    assert not list(store_copy.rglob("*.part.flac"))
    assert (store_copy / "index.json").read_bytes() == index_before


def test_two_sessions_do_not_disturb_each_other(demo, store_copy) -> None:  # type: ignore[no-untyped-def]
    _, take16, take48 = demo
    a, sr_a = _pcm(take16.path, 6.0, "f32")
    b, sr_b = _pcm(take48.path, 30.0, "s16")
    b_from = take48.beat_times[8]  # the second player starts at bar 3 and says so
    b = b[int(b_from * sr_b) : int((b_from + 4.5) * sr_b)]
    with (
        TestClient(create_app(store_copy)) as client,
        client.websocket_connect("/api/follow/demo") as wa,
        client.websocket_connect("/api/follow/demo") as wb,
    ):
        wa.send_text(json.dumps({"type": "start", "sample_rate": sr_a, "format": "f32"}))
        wb.send_text(json.dumps({"type": "start", "sample_rate": sr_b, "format": "s16"}))
        assert wa.receive_json()["take"] != wb.receive_json()["take"]
        wb.send_text(json.dumps({"type": "seek", "bar": 3}))
        na, nb = -(-len(a) // 256), -(-len(b) // 768)
        for k in range(max(na, nb)):  # interleaved, as two browsers would send
            if k < na:
                wa.send_bytes(a[k * 256 : (k + 1) * 256].tobytes())
            if k < nb:
                wb.send_bytes(b[k * 768 : (k + 1) * 768].tobytes())
        wa.send_text(json.dumps({"type": "stop"}))
        wb.send_text(json.dumps({"type": "stop"}))
        got_a, _ = _collect(wa)
        got_b, _ = _collect(wb)
    # A is followed exactly as if alone; B from bar 3 on, to where its audio ends.
    _same_positions(got_a, _expected(store_copy, take16.path, 6.0))
    truth_b = np.interp(b_from + 4.5, take48.beat_times, take48.ref_beat_times)
    assert abs(got_b[0]["ref_t"] - take48.ref_beat_times[8]) <= 0.2
    assert abs(got_b[-1]["ref_t"] - truth_b) <= 0.3, (got_b[-1], truth_b)


# -- references ----------------------------------------------------------------------------


def test_reference_list_and_detail(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    refs = client.get("/api/references").json()
    assert [r["name"] for r in refs] == ["demo"]
    assert "file" not in refs[0] and "sha256" not in refs[0] and "/" not in refs[0]["source"]
    detail = client.get("/api/references/demo").json()
    assert detail["beats_per_bar"] == 4
    assert detail["beats"]["bars"][:5] == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert len(detail["beats"]["times"]) == 33
    level = np.array(detail["overview"]["level"])
    assert len(level) == 1200 and level.min() >= 0 and level.max() <= 1 and level.max() > 0.5
    assert detail["overview"]["seconds_per_point"] * len(level) == pytest.approx(detail["duration"], abs=1e-3)
    assert client.get("/api/references/nothing").status_code == 404


def _wav_bytes(seconds: float = 3.0) -> bytes:
    from matcher.synth import TempoMap, melody, render

    audio = render(melody(2, 4, seed=5), TempoMap((0.0, 8.0), (120.0, 120.0)), 16000)[: int(seconds * 16000)]
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_upload_then_remove(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    beats = "".join(f"{0.5 * k:.3f}\n" for k in range(8)).encode()
    files = {"audio": ("my etude (take 2).wav", _wav_bytes(), "audio/wav"), "beats": ("b.txt", beats, "text/plain")}
    got = client.post("/api/references", files=files, data={"beats_per_bar": "2"})
    assert got.status_code == 201, got.text
    assert got.json()["name"] == "my_etude_take_2" and got.json()["beats_per_bar"] == 2
    assert client.get("/api/references/my_etude_take_2").json()["beats"]["bars"][:3] == [1.0, 1.5, 2.0]
    again = client.post("/api/references", files={"audio": ("x.wav", _wav_bytes(), "audio/wav")})
    assert again.status_code == 409 and "already stored" in again.json()["error"]
    assert client.delete("/api/references/my_etude_take_2").status_code == 200
    assert client.delete("/api/references/my_etude_take_2").status_code == 404
    assert [r["name"] for r in client.get("/api/references").json()] == ["demo"]


@pytest.mark.parametrize(
    ("filename", "content", "data", "status", "says"),
    [
        ("empty.wav", b"", {}, 400, "empty"),
        ("corrupt.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4, {}, 400, "audio"),
        ("notes.wav", b"these are my practice notes, not audio\n" * 50, {}, 400, "not a readable audio file"),
        ("../../escape.wav", None, {"name": "../../escape"}, 400, "bad reference name"),
        ("ok.wav", None, {"name": "/etc/passwd"}, 400, "bad reference name"),
        ("ok.wav", None, {"name": ".hidden"}, 400, "bad reference name"),
        ("ok.wav", None, {"beats_per_bar": "many"}, 400, "invalid literal"),
        ("ok.wav", None, {"beats_per_bar": "0"}, 400, "beats per bar"),
    ],
)
def test_bad_uploads_get_a_clear_4xx(store_copy, filename, content, data, status, says) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    before = sorted(p.name for p in store_copy.parent.rglob("*"))
    content = _wav_bytes() if content is None else content
    got = client.post("/api/references", files={"audio": (filename, content, "audio/wav")}, data=data)
    assert got.status_code == status, got.text
    assert says in got.json()["error"]
    assert "/tmp" not in got.json()["error"] and "matcher-upload" not in got.json()["error"]
    assert sorted(p.name for p in store_copy.parent.rglob("*")) == before


def test_path_tricks_in_the_file_name_stay_in_the_store(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    for trick in ("../../../escape.wav", "..\\..\\escape2.wav", "/abs/escape3.wav"):
        got = client.post("/api/references", files={"audio": (trick, _wav_bytes(2.0 + len(trick) / 10), "audio/wav")})
        assert got.status_code == 201, got.text
        assert "/" not in got.json()["name"] and "\\" not in got.json()["name"]
    outside = [p for p in store_copy.parent.parent.rglob("escape*") if store_copy not in p.parents]
    assert outside == []
    assert {r["name"] for r in client.get("/api/references").json()} == {"demo", "escape", "escape2", "escape3"}


def test_huge_and_malformed_uploads(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy, max_upload=10_000))
    got = client.post("/api/references", files={"audio": ("big.wav", _wav_bytes(), "audio/wav")})
    assert got.status_code == 413 and "limit is 10000 bytes" in got.json()["error"]
    got = client.post("/api/references", content=b"--x\r\ngarbage", headers={"content-type": "multipart/form-data"})
    assert got.status_code == 400
    got = client.post("/api/references", data={"name": "x"})
    assert got.status_code == 400 and "'audio' file" in got.json()["error"]


# -- takes, scores, comparisons ------------------------------------------------------------


def test_a_take_is_kept_scored_and_compared(demo, store_copy) -> None:  # type: ignore[no-untyped-def]
    _, take16, _ = demo
    audio, sr = _pcm(take16.path, 30.0, "f32")
    with TestClient(create_app(store_copy)) as client:
        with client.websocket_connect("/api/follow/demo") as ws:
            _, ended = _run_take(ws, audio, sr, "f32", 1024)
        take = ended["take"]
        assert ended["summary"]["follow"]["following_share"] > 0.9
        history = client.get("/api/references/demo/takes").json()
        assert [h["take"] for h in history] == [take]
        score = client.get(f"/api/references/demo/takes/{take}/score").json()
        assert len(score["beats"]) >= 30 and score["sentence"]
        # the demo take starts 15 % slow and ends 10 % fast: its tempo rose
        assert score["summary"]["trend"]["tempo_change_pct"] > 0
        png = client.get(f"/api/references/demo/takes/{take}/score.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        cmp = client.get(f"/api/references/demo/compare.png?a=reference&b={take}")
        assert cmp.status_code == 200 and cmp.content[:4] == b"\x89PNG"
        for bad in ("../../index", "20260101T000000Z-zzzzzz", "x" * 300):
            assert client.get(f"/api/references/demo/takes/{bad}/score").status_code in (400, 404)
        assert client.get("/api/references/demo/compare.png?a=reference&b=..%2Findex").status_code == 400


# -- pages and the token ---------------------------------------------------------------------


def test_pages_and_their_scripts_are_served(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    for page in ("/", "/live.html", "/takes.html"):
        html = client.get(page)
        assert html.status_code == 200 and "<script" in html.text
        for src in [part.split('"')[0] for part in html.text.split('src="')[1:]]:
            assert src.startswith("/") and client.get(src).status_code == 200, src  # no CDN
    assert "registerProcessor" in client.get("/worklet.js").text
    for trick in ("/..%2Fengine.py", "/%2e%2e/engine.py", "/../app.py", "/static/../engine.py"):
        assert client.get(trick).status_code == 404, trick  # the package's code is not served


def test_the_token_guards_pages_api_and_websocket(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy, token="s3cret"), base_url="https://testserver")
    assert client.get("/api/references").status_code == 403
    assert client.get("/api/references", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/api/references", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    first = client.get("/?token=s3cret")
    assert first.status_code == 200 and "matcher_token=s3cret" in first.headers["set-cookie"]
    assert client.get("/api/references").status_code == 200  # the cookie carries it now
    client.cookies.clear()
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/follow/demo") as ws:
        ws.receive_json()


def test_upload_progress_while_preprocessing(store_copy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    from matcher.serve import engine

    halfway, release = threading.Event(), threading.Event()

    def slow_add(store, audio_path, name, beats_path, beats_per_bar, pitch, replace, progress):  # type: ignore[no-untyped-def]
        progress(5, 10)
        halfway.set()
        release.wait(30)
        return {"name": name}

    monkeypatch.setattr(engine, "add_reference", slow_add)
    with TestClient(create_app(store_copy)) as client:
        answers: list = []
        files = {"audio": ("a.wav", _wav_bytes(), "audio/wav")}
        post = threading.Thread(
            target=lambda: answers.append(client.post("/api/references", files=files, data={"upload_id": "abcd1234"}))
        )
        post.start()
        assert halfway.wait(30)
        assert client.get("/api/uploads/abcd1234").json() == {"stage": "preprocessing", "done": 5, "total": 10}
        release.set()
        post.join(30)
        assert answers[0].status_code == 201
        assert client.get("/api/uploads/abcd1234").status_code == 404  # done: forgotten
        assert client.get("/api/uploads/nothing99").status_code == 404


def test_sessions_beyond_the_limit_are_refused_with_a_message(store_copy) -> None:  # type: ignore[no-untyped-def]
    with (
        TestClient(create_app(store_copy, max_sessions=1)) as client,
        client.websocket_connect("/api/follow/demo") as a,
    ):
        a.send_text(json.dumps({"type": "start", "sample_rate": 16000, "format": "f32"}))
        assert a.receive_json()["event"] == "ready"
        with client.websocket_connect("/api/follow/demo") as b:
            event = b.receive_json()
            assert event["event"] == "error" and "1 takes already" in event["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                b.receive_text()
            assert closed.value.code == 1013
        a.send_bytes(np.zeros(1600, "<f4").tobytes())  # the first session goes on
        a.send_text(json.dumps({"type": "stop"}))
        assert _collect(a)[1]["event"] == "ended"


def test_a_failure_inside_the_server_ends_the_session_with_one_message(demo, store_copy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from matcher.serve import engine

    push = engine.LiveFollow.push

    def failing_push(self, pcm):  # type: ignore[no-untyped-def]
        if self.seconds >= 1.5:
            raise RuntimeError("simulated bug")
        return push(self, pcm)

    monkeypatch.setattr(engine.LiveFollow, "push", failing_push)
    _, take16, _ = demo
    audio, sr = _pcm(take16.path, 3.0, "f32")
    with TestClient(create_app(store_copy)) as client:
        with client.websocket_connect("/api/follow/demo") as ws:
            ws.send_text(json.dumps({"type": "start", "sample_rate": sr, "format": "f32"}))
            ws.receive_json()
            for i in range(0, len(audio), 800):
                ws.send_bytes(audio[i : i + 800].tobytes())
            _, event = _collect(ws)
            assert event["event"] == "error" and "RuntimeError" in event["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1011
        _wait_idle(client)
        history = client.get("/api/references/demo/takes").json()
    assert len(history) == 1 and history[0]["ended_by"].startswith("server error")


def test_pages_of_other_sites_cannot_write_or_follow(store_copy) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(store_copy))
    evil = {"origin": "https://evil.example"}
    assert client.delete("/api/references/demo", headers=evil).status_code == 403
    got = client.post("/api/references", files={"audio": ("x.wav", _wav_bytes(), "audio/wav")}, headers=evil)
    assert got.status_code == 403 and "other sites" in got.json()["error"]
    assert client.get("/api/references", headers=evil).status_code == 200  # reading is harmless
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/follow/demo", headers=evil) as ws:
        ws.receive_json()
    same = {"origin": "http://testserver"}
    with client.websocket_connect("/api/follow/demo", headers=same) as ws:
        ws.send_text(json.dumps({"type": "stop"}))
        assert ws.receive_json()["event"] == "error"  # it got through to the session
    assert [r["name"] for r in client.get("/api/references").json()] == ["demo"]
