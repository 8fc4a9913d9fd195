"""Live microphone following (matcher/live.py and `matcher follow` without --input).

Fast tests run the live path on fake streams and a fake ``sounddevice`` module: the ring
buffer, the statistics, device look-up, the CLI's messages, and that a live session
gives exactly the positions file following gives on the same audio.

The PulseAudio tests use a real audio path: a private PulseAudio server
(tools/pulse_mic.py) with a file-fed microphone (``module-pipe-source``), PortAudio's
ALSA ``pulse`` device, and ``matcher follow`` in a subprocess listening to it while a
take is fed at real-time pace. They skip, with the reason, where PulseAudio is not
installed — except under ``MATCHER_REQUIRE_PULSE=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher import Config, ReferenceStore, build_reference
from matcher.audio import file_blocks, read_audio
from matcher.cli import main
from matcher.errors import DeviceError
from matcher.evaluation import pulse as pulse_mic
from matcher.features import YinModel
from matcher.follow import follow_blocks
from matcher.live import BlockRing, DurationStats, LiveSession, find_input_device, input_devices
from matcher.synth import TempoMap, melody, render

SR_DEV = 44100  # the rate the fake and the PulseAudio microphones record at
CONFIG = Config(pitch_backend="yin")


# -- material ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A stored reference and a tempo-warped take with exact beat times."""

    store: Path
    name: str
    take_path: Path
    take: np.ndarray  # float32 at SR_DEV
    take_beats: np.ndarray  # [s] in the take
    ref_beats: np.ndarray  # [s] in the reference


def make_piece(folder: Path, n_bars: int, seed: int, bpm: float) -> Piece:
    """Reference at a steady ``bpm``; the take 15 % slow, rushing to 10 % fast, settling."""
    folder.mkdir(parents=True, exist_ok=True)
    notes = melody(n_bars, 4, seed=seed)
    n_beats = 4 * n_bars
    ref_map = TempoMap((0.0, n_beats), (bpm, bpm))
    take_map = TempoMap((0.0, n_beats / 2, n_beats), (0.85 * bpm, 1.1 * bpm, 0.95 * bpm))
    ref_path = folder / "reference.wav"
    sf.write(ref_path, render(notes, ref_map, CONFIG.sr), CONFIG.sr)
    take = render(notes, take_map, SR_DEV, timbre=1, noise_db=30.0, seed=seed + 1)
    take_path = folder / "take.wav"
    sf.write(take_path, take, SR_DEV, subtype="FLOAT")
    store = folder / "store"
    ReferenceStore(store).add(build_reference(ref_path, CONFIG, YinModel(CONFIG), "piece"))
    beats = np.arange(n_beats + 1.0)
    return Piece(store, "piece", take_path, take, take_map.seconds(beats), ref_map.seconds(beats))


@pytest.fixture(scope="module")
def short_piece(tmp_path_factory: pytest.TempPathFactory) -> Piece:
    return make_piece(tmp_path_factory.mktemp("short"), n_bars=3, seed=1, bpm=120.0)


def within(piece: Piece, t: np.ndarray, ref_t: np.ndarray) -> dict[int, float]:
    """Share [%] of beats within 50 / 100 ms: the answer at each take beat is ``ref_t``
    interpolated at that beat's take time (tools/eval_follow.py's metric)."""
    err_ms = np.abs(np.interp(piece.take_beats, t, ref_t) - piece.ref_beats) * 1000.0
    return {tol: float(np.mean(err_ms <= tol) * 100.0) for tol in (50, 100)}


def jsonl_rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# -- fake streams and a fake sounddevice -------------------------------------------------


class Flags:
    """Stand-in for sounddevice.CallbackFlags."""

    def __init__(self, overflow: bool = False) -> None:
        self.input_overflow = overflow

    def __bool__(self) -> bool:
        return self.input_overflow


class FakeStream:
    """Delivers ``audio`` [shape=(n, channels)] to the callback from a thread, in blocks of
    ``block`` samples; ``speed`` times real time (None: as fast as it goes); then calls
    ``finished_callback`` (a device that ends) unless ``stall`` (it just goes silent)."""

    def __init__(self, audio, samplerate, channels, callback, finished_callback, block=441, speed=None, **kw):
        self.audio = audio if audio.ndim == 2 else audio[:, None]
        assert self.audio.shape[1] == channels
        self.sr, self.callback, self.finished = samplerate, callback, finished_callback
        self.block, self.speed = block, speed
        self.overflow_every = kw.get("overflow_every", 0)
        self.stall = kw.get("stall", False)
        self.latency = 0.02
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()

    def close(self) -> None:
        self._halt.set()

    def _run(self) -> None:
        start = time.perf_counter()
        for k, i in enumerate(range(0, len(self.audio), self.block)):
            if self._halt.is_set():
                return
            x = self.audio[i : i + self.block]
            if self.speed:
                delay = start + (i + len(x)) / self.sr / self.speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            overflow = bool(self.overflow_every) and k % self.overflow_every == 0
            self.callback(x, len(x), None, Flags(overflow))
        if not self.stall:
            self.finished()


def factory(audio: np.ndarray, **options):
    return lambda **kw: FakeStream(audio, **kw, **options)


def run_session(session: LiveSession):
    session.start()
    while session.wait(0.05):
        pass
    return session.result()


class FakePortAudioError(Exception):
    pass


def fake_sounddevice(devices: list[tuple[str, int, float]], default: int = 0, stream=None) -> types.ModuleType:
    """A stand-in ``sounddevice`` module: ``devices`` as (name, input channels, rate);
    ``stream(**kwargs)`` makes the InputStream (default: refuses to open)."""
    sd = types.ModuleType("sounddevice")
    table = [
        {"index": i, "name": n, "max_input_channels": c, "default_samplerate": r, "hostapi": 0}
        for i, (n, c, r) in enumerate(devices)
    ]
    sd.PortAudioError = FakePortAudioError

    def query_devices(device=None, kind=None):
        if kind == "input":
            if default < 0 or not table:
                raise FakePortAudioError("Error querying device -1")
            return table[default]
        return list(table)

    def input_stream(**kwargs):
        if stream is None:
            raise FakePortAudioError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")
        kwargs.pop("device"), kwargs.pop("dtype")
        return stream(**kwargs)

    sd.query_devices = query_devices
    sd.query_hostapis = lambda: ({"name": "ALSA"},)
    sd.InputStream = input_stream
    return sd


DEVICES = [("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 48000.0), ("HDMI 0 (hw:0,3)", 0, 48000.0)]
DEVICES += [("pulse", 32, 44100.0), ("default", 32, 44100.0)]


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def one_error_line(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("matcher: "), f"not one error line: {err!r}"
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


# -- fast: pieces of the live path -------------------------------------------------------


def test_importing_matcher_loads_no_audio_device_library() -> None:
    code = "import sys, matcher, matcher.cli, matcher.live; sys.exit('sounddevice' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_ring_keeps_order_across_wrap_around(rng: np.random.Generator) -> None:
    ring = BlockRing(capacity=1000, channels=2)
    fed, got = [], []
    for _ in range(200):
        block = rng.standard_normal((int(rng.integers(1, 300)), 2)).astype(np.float32)
        assert ring.put(block, time.perf_counter())
        fed.append(block)
        if rng.random() < 0.7 or ring.written - ring.read > 600:
            chunk = ring.get()
            got.append(chunk.samples)
    while (chunk := ring.get()) is not None:
        got.append(chunk.samples)
    assert np.array_equal(np.concatenate(got), np.concatenate(fed))
    assert ring.dropped_blocks == 0


def test_ring_drops_what_does_not_fit_and_owes_zeros_in_its_place() -> None:
    ring = BlockRing(capacity=100, channels=1)
    a, b, c = (np.full((n, 1), v, np.float32) for n, v in ((60, 1.0), (60, 2.0), (30, 3.0)))
    assert ring.put(a, 1.0) and not ring.put(b, 2.0) and ring.put(c, 3.0)
    chunk = ring.get()
    expected = np.concatenate([a, np.zeros((60, 1), np.float32), c])
    assert np.array_equal(chunk.samples, expected)  # the count of samples stays true
    assert (chunk.first_arrival, chunk.last_arrival, chunk.blocks) == (1.0, 3.0, 2)
    assert (ring.dropped_blocks, ring.dropped_samples) == (1, 60)
    assert ring.put(np.zeros((100, 1), np.float32), 4.0)  # all space is free again


def test_audio_callback_allocates_nothing_that_stays(short_piece: Piece) -> None:
    ref = ReferenceStore(short_piece.store).load("piece")
    session = LiveSession(ref, samplerate=SR_DEV, stream_factory=factory(short_piece.take), ring_seconds=1.0)
    block = np.zeros((441, 1), np.float32)
    flags = Flags(True)
    for _ in range(10):  # first calls may create lazily cached objects
        session._callback(block, 441, None, flags)
        session.ring.get()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(2000):
            session._callback(block, 441, None, flags)
            session.ring.read, session.ring.read_blocks = session.ring.written, session.ring.blocks
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if "matcher/live/" in str(s.traceback))
    assert grown < 1024, f"the callback kept {grown} bytes over 2000 blocks"
    assert session.overflows == 2010


def test_duration_stats_match_numpy_percentiles(rng: np.random.Generator) -> None:
    stats = DurationStats()
    values = rng.gamma(2.0, 0.001, 5000)
    for v in values:
        stats.add(float(v))
    s = stats.summary()
    assert s["n"] == 5000
    assert s["median_ms"] == pytest.approx(np.median(values) * 1000, abs=0.02)
    assert s["p99_ms"] == pytest.approx(np.percentile(values, 99) * 1000, abs=0.02)
    assert s["max_ms"] == pytest.approx(values.max() * 1000, abs=1e-3)  # kept to the microsecond


def test_live_session_gives_exactly_the_positions_of_file_following(short_piece: Piece, tmp_path: Path) -> None:
    ref = ReferenceStore(short_piece.store).load("piece")
    file_track = follow_blocks(ref, (b for b, _ in file_blocks(short_piece.take_path, CONFIG.sr)))
    take = short_piece.take
    saved = tmp_path / "take.flac"
    seen: list[int] = []
    session = LiveSession(
        ref,
        samplerate=SR_DEV,
        duration=len(take) / SR_DEV,
        on_track=lambda track: seen.append(len(track)),
        save_take=saved,
        stream_factory=factory(take, speed=8.0),
    )
    result = run_session(session)
    assert result.reason == "duration", result.message
    assert (result.overflows, result.dropped_blocks, result.samples) == (0, 0, len(take))
    assert sum(seen) == len(result.track) == len(file_track)
    assert np.array_equal(result.track.t, file_track.t)  # t counts samples, as for files
    assert np.allclose(result.track.ref_t, file_track.ref_t, atol=1e-9)
    assert result.latency["n"] > 0 and result.latency["median_ms"] < 50
    recorded, sr = sf.read(saved, dtype="float32")
    assert sr == SR_DEV and len(recorded) == len(take)
    assert np.max(np.abs(recorded - take)) < 1e-6  # 24-bit FLAC


def test_live_session_stops_at_duration_and_averages_channels(short_piece: Piece, tmp_path: Path) -> None:
    ref = ReferenceStore(short_piece.store).load("piece")
    stereo = np.stack([short_piece.take, 0.5 * short_piece.take], axis=1)
    saved = tmp_path / "stereo.flac"
    session = LiveSession(
        ref, channels=2, samplerate=SR_DEV, duration=2.0, save_take=saved, stream_factory=factory(stereo, speed=8.0)
    )
    result = run_session(session)
    assert result.reason == "duration" and result.samples == 2 * SR_DEV
    assert result.track.t[-1] == pytest.approx(2.0, abs=CONFIG.hop / CONFIG.sr + 0.04)
    assert sf.info(str(saved)).channels == 2 and sf.info(str(saved)).frames == 2 * SR_DEV


def test_overflows_and_dropped_blocks_are_counted_and_following_goes_on(short_piece: Piece) -> None:
    ref = ReferenceStore(short_piece.store).load("piece")
    take = short_piece.take

    def slow(track) -> None:  # a worker that falls behind: the small ring must drop blocks
        time.sleep(0.003)

    session = LiveSession(
        ref, samplerate=SR_DEV, on_track=slow, ring_seconds=0.05, stream_factory=factory(take, overflow_every=10)
    )
    result = run_session(session)
    n_blocks = -(-len(take) // 441)
    assert result.overflows == -(-n_blocks // 10)
    assert result.dropped_blocks > 0 and result.dropped_samples > 0
    assert result.samples == len(take)  # zeros stood in for the dropped blocks
    n_model = round(len(take) * CONFIG.sr / SR_DEV)
    assert abs(len(result.track) - (1 + n_model // CONFIG.hop)) <= 1
    assert result.reason == "device"  # the fake stream ended by itself


def test_a_stream_that_goes_silent_stops_the_session(short_piece: Piece) -> None:
    ref = ReferenceStore(short_piece.store).load("piece")
    one_second = short_piece.take[:SR_DEV]
    session = LiveSession(
        ref, samplerate=SR_DEV, stall_seconds=0.3, stream_factory=factory(one_second, speed=4.0, stall=True)
    )
    result = run_session(session)
    assert result.reason == "device" and "no audio" in result.message
    assert result.samples == SR_DEV and len(result.track) > 0


# -- fast: devices -----------------------------------------------------------------------


def test_find_input_device_by_default_index_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=3))
    assert [d.name for d in input_devices()] == ["HDA Intel PCH: ALC3246 Analog (hw:0,0)", "pulse", "default"]
    assert find_input_device(None).name == "default" and find_input_device(None).default
    assert find_input_device("2").name == "pulse"
    assert find_input_device("PULSE").index == 2
    assert find_input_device("alc3246").index == 0
    for spec, words in (
        ("7", ["no input device with index 7", "2 'pulse'"]),
        ("1", ["index 1"]),  # HDMI output only
        ("usb mic", ["no input device named 'usb mic'", "0 'HDA Intel"]),
        ("a", ["ambiguous", "give the index"]),
    ):
        with pytest.raises(DeviceError) as info:
            find_input_device(spec)
        for word in words:
            assert word in str(info.value)


def test_no_portaudio_or_no_device_is_a_clear_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails, as without libportaudio
    with pytest.raises(DeviceError, match=r"PortAudio is not available.*libportaudio2"):
        input_devices()
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice([("HDMI 0", 0, 48000.0)], default=-1))
    with pytest.raises(DeviceError, match="no audio input device found"):
        find_input_device(None)


def test_cli_devices_lists_inputs_and_marks_the_default(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2))
    rc, out, err = run_cli(capsys, "devices")
    assert rc == 0, err
    lines = [line for line in out.splitlines() if "pulse" in line or "ALC3246" in line or "default" in line]
    assert any("*" in line and "pulse" in line and "44100 Hz" in line for line in lines), out
    assert "HDMI" not in out
    rc, out, _ = run_cli(capsys, "devices", "--json")
    listed = json.loads(out)
    assert [d["index"] for d in listed] == [0, 2, 3] and [d["default"] for d in listed] == [False, True, False]
    assert listed[0]["channels"] == 2 and listed[0]["samplerate"] == 48000.0


@pytest.mark.parametrize(
    ("sd", "args", "words"),
    [
        (None, [], ["PortAudio is not available"]),
        ("none", [], ["no audio input device found"]),
        ("some", ["--device", "usb"], ["no input device named 'usb'"]),
        ("some", ["--device", "pulse", "--save-take", "t.flac"], ["cannot open input 'pulse'", "Device unavailable"]),
        ("some", ["--save-take", "take.wav"], ["--save-take writes FLAC", "take.wav"]),
        ("some", ["--channels", "0"], ["--channels must be at least 1"]),
        ("some", ["--duration", "-1"], ["--duration must be a positive"]),
        ("some", ["--realtime"], ["--realtime paces a file"]),
        ("some", ["--jsonl", "no/such/folder/x.jsonl"], ["cannot write --jsonl", "No such file"]),
        ("some", ["--input", "take.wav", "--device", "pulse", "--stats"], ["--device, --stats", "drop --input"]),
    ],
)
def test_cli_live_problems_are_one_line_and_exit_2(capsys, monkeypatch, short_piece: Piece, sd, args, words) -> None:
    fakes = {None: None, "none": fake_sounddevice([], default=-1), "some": fake_sounddevice(DEVICES, default=2)}
    monkeypatch.setitem(sys.modules, "sounddevice", fakes[sd])
    monkeypatch.chdir(short_piece.store.parent)
    rc, _, err = run_cli(capsys, "follow", "piece", "--store", short_piece.store, "-q", *args)
    one_error_line(rc, err, *words)
    assert not (short_piece.store.parent / "t.flac").exists()  # no empty take left behind


def test_issue_summary_of_a_take_shorter_than_its_smoothing_window(short_piece: Piece) -> None:
    """summarize() smooths the tempo over 2 s; a shorter take made np.convolve's 'same'
    output longer than the track (a broadcast error at the end of a 1 s live session)."""
    from matcher.follow import summarize

    ref = ReferenceStore(short_piece.store).load("piece")
    one_second = read_audio(short_piece.take_path, CONFIG.sr)[: CONFIG.sr]
    short = follow_blocks(ref, [one_second])
    assert 0 < len(short) < 2 * CONFIG.frame_rate
    assert summarize(short, ref)["frames"] == len(short)


def test_cli_devices_without_any_input_is_one_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice([("HDMI 0", 0, 48000.0)], default=-1))
    rc, _, err = run_cli(capsys, "devices")
    one_error_line(rc, err, "no audio input device found")


def test_cli_follow_microphone_writes_the_same_json_lines_as_file_following(
    capsys, monkeypatch: pytest.MonkeyPatch, short_piece: Piece, tmp_path: Path
) -> None:
    take = short_piece.take
    stream = lambda **kw: FakeStream(take, speed=8.0, **kw)  # noqa: E731
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2, stream=stream))
    saved = tmp_path / "take.flac"
    rc, out, err = run_cli(
        capsys, "follow", "piece", "--store", short_piece.store, "--jsonl", "-", "--stats",
        "--duration", len(take) / SR_DEV, "--save-take", saved,
    )  # fmt: skip
    assert rc == 0, err
    live = jsonl_rows(out)
    rc, out, err2 = run_cli(
        capsys, "follow", "piece", "--store", short_piece.store, "-i", short_piece.take_path, "--jsonl", "-"
    )
    assert rc == 0, err2
    from_file = jsonl_rows(out)
    assert len(live) == len(from_file) and live[0].keys() == from_file[0].keys()
    for key in ("t", "ref_t", "beat", "bar", "tempo_ratio", "confidence"):  # equal up to the 4 decimals kept
        assert np.allclose([r[key] for r in live], [r[key] for r in from_file], atol=2e-4, equal_nan=True), key
    assert [r["state"] for r in live] == [r["state"] for r in from_file]
    assert "latency, block arrival to position: median" in err and "overflows 0, dropped blocks 0" in err
    assert "take saved" in err and sf.info(str(saved)).frames == len(take)


def test_cli_follow_stats_json_is_one_object_a_benchmark_can_read(
    capsys, monkeypatch: pytest.MonkeyPatch, short_piece: Piece
) -> None:
    """`follow --stats --json`: one JSON object on stdout, with exactly the names
    tools read; from a file the stats are null."""
    take = short_piece.take
    stream = lambda **kw: FakeStream(take, speed=8.0, **kw)  # noqa: E731
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2, stream=stream))
    rc, out, err = run_cli(
        capsys, "follow", "piece", "--store", short_piece.store, "--stats", "--json", "--duration", len(take) / SR_DEV
    )
    assert rc == 0, err
    assert len(out.strip().splitlines()) == 1
    data = json.loads(out)
    assert set(data) == {"summary", "stats"}
    stats = data["stats"]
    assert set(stats) == {"latency_ms", "processing_ms", "overflows", "dropped_blocks", "blocks"}
    for key in ("latency_ms", "processing_ms"):
        assert set(stats[key]) == {"median", "p99", "max"}
        assert 0 <= stats[key]["median"] <= stats[key]["p99"] <= stats[key]["max"]
    assert stats["overflows"] == 0 and stats["dropped_blocks"] == 0 and stats["blocks"] > 0
    assert data["summary"]["frames"] > 0 and "mean_tempo_dev_pct" in data["summary"]
    rc, out, err = run_cli(
        capsys, "follow", "piece", "--store", short_piece.store, "-i", short_piece.take_path, "--json"
    )
    assert rc == 0, err
    data = json.loads(out)
    assert data["stats"] is None and data["summary"]["frames"] == len(jsonl_rows_of_file(capsys, short_piece))


def jsonl_rows_of_file(capsys, piece: Piece) -> list[dict]:
    rc, out, err = run_cli(capsys, "follow", "piece", "--store", piece.store, "-i", piece.take_path, "--jsonl", "-")
    assert rc == 0, err
    return jsonl_rows(out)


def test_cli_device_that_goes_away_keeps_the_take_and_says_so(
    capsys, monkeypatch: pytest.MonkeyPatch, short_piece: Piece, tmp_path: Path
) -> None:
    one_second = short_piece.take[:SR_DEV]
    stream = lambda **kw: FakeStream(one_second, speed=4.0, **kw)  # noqa: E731  (then it finishes)
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES, default=2, stream=stream))
    saved = tmp_path / "take.flac"
    rc, out, err = run_cli(capsys, "follow", "piece", "--store", short_piece.store, "--save-take", saved)
    assert rc == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("matcher: input 'pulse' stopped delivering audio") and "take is kept in" in last
    assert "followed 1.0 s of take" in out  # the session summary
    assert sf.info(str(saved)).frames == SR_DEV


# -- PulseAudio: a real audio path -------------------------------------------------------


@pytest.fixture(scope="module")
def pulse_server():
    """A private PulseAudio server for this module's tests (started and stopped here)."""
    why = pulse_mic.unavailable()
    if why:
        if os.environ.get("MATCHER_REQUIRE_PULSE") == "1":
            pytest.fail(f"PulseAudio is required here (MATCHER_REQUIRE_PULSE=1) but {why}")
        pytest.skip(f"no PulseAudio microphone: {why}")
    with pulse_mic.PulseServer() as server:
        yield server


@pytest.fixture
def file_mic(pulse_server: pulse_mic.PulseServer):
    """A file-fed microphone with its own source name; unloaded afterwards (which also ends
    a writer still blocked on its FIFO)."""
    source = pulse_server.pipe_source(rate=SR_DEV)
    yield source
    source.unload()


def matcher_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "matcher", *(str(a) for a in args)]


def start_matcher(env: dict[str, str], *args: object, **popen) -> subprocess.Popen:
    # SIGINT must reach Python as KeyboardInterrupt even where CI ignores it for background jobs
    return subprocess.Popen(
        matcher_cmd(*args),
        env=dict(os.environ, **env),
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def wait_for_positions(path: Path, seconds: float, proc: subprocess.Popen, timeout: float = 90.0) -> float:
    """Wait until the JSON lines at ``path`` reach take time ``seconds``; the last t."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"matcher ended early: {proc.communicate()}"
        rows = jsonl_rows(path.read_text()) if path.exists() else []
        if rows and rows[-1]["t"] >= seconds:
            return rows[-1]["t"]
        time.sleep(0.1)
    raise AssertionError(f"no position past {seconds} s within {timeout} s")


def test_devices_lists_the_pulse_device(pulse_server: pulse_mic.PulseServer) -> None:
    done = subprocess.run(
        matcher_cmd("devices", "--json"), env=dict(os.environ, **pulse_server.env), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "pulse" in [d["name"] for d in json.loads(done.stdout)]


@pytest.fixture(scope="module")
def long_piece(tmp_path_factory: pytest.TempPathFactory) -> Piece:
    """64 beats (33 s): enough that one beat is 1.5 points of the share within a tolerance."""
    return make_piece(tmp_path_factory.mktemp("long"), n_bars=16, seed=5, bpm=120.0)


@pytest.mark.slow
def test_live_through_pulseaudio_is_as_accurate_as_file_following(
    file_mic: pulse_mic.PipeSource, long_piece: Piece, tmp_path: Path
) -> None:
    lead, tail = 1.0, 2.0  # seconds of silence fed before and after the take
    take = long_piece.take
    fed = np.concatenate([np.zeros(round(lead * SR_DEV), np.float32), take, np.zeros(round(tail * SR_DEV), np.float32)])
    duration = lead + len(take) / SR_DEV + 0.5
    saved = tmp_path / "live.flac"
    feeder = file_mic.feed(fed)
    done = subprocess.run(
        matcher_cmd(
            "follow", "piece", "--store", long_piece.store, "--device", "pulse", "--jsonl", "-",
            "--duration", duration, "--stats", "--save-take", saved,
        ),
        env=dict(os.environ, **file_mic.env), capture_output=True, text=True, timeout=duration + 120,
    )  # fmt: skip
    feeder.stop()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "overflows 0, dropped blocks 0" in done.stderr, done.stderr

    # Every fed sample reached the follower, in order, from the stream's first sample on:
    recorded, sr = sf.read(saved, dtype="float32")
    n = round(duration * SR_DEV)
    assert sr == SR_DEV and len(recorded) == n
    wrong = np.abs(recorded - fed[:n]) > 1e-6
    sound = (int(np.argmax(np.abs(recorded) > 1e-6)), int(np.argmax(np.abs(fed) > 1e-6)))
    assert not wrong.any(), f"{wrong.sum()} samples differ from {np.argmax(wrong)} on; sound starts at {sound}"

    rows = jsonl_rows(done.stdout)
    assert set(rows[0]) == {"t", "ref_t", "beat", "bar", "tempo_ratio", "tempo_dev_pct", "confidence", "state", "frame"}
    t = np.array([r["t"] for r in rows])
    ref_t = np.array([r["ref_t"] for r in rows])
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(duration, abs=0.05)  # t counts samples from the stream's start

    # The live path adds nothing: following the recorded take as a file gives the same positions.
    ref = ReferenceStore(long_piece.store).load("piece")
    again = follow_blocks(ref, (b for b, _ in file_blocks(saved, CONFIG.sr)))
    assert len(again) == len(rows)
    assert np.max(np.abs(again.ref_t - ref_t)) < 1e-3  # JSON keeps 4 decimals

    # Accuracy on the take: live (t less the lead silence) against file following of the take.
    file_track = follow_blocks(ref, (b for b, _ in file_blocks(long_piece.take_path, CONFIG.sr)))
    live_share = within(long_piece, t - lead, ref_t)
    file_share = within(long_piece, file_track.t, file_track.ref_t)
    print(f"\nbeats within 50/100 ms: live {live_share}, file {file_share}")
    for tol in (50, 100):
        assert abs(live_share[tol] - file_share[tol]) <= 5.0, (tol, live_share, file_share)


@pytest.mark.slow
def test_ctrl_c_ends_cleanly_with_the_summary_and_the_take(
    file_mic: pulse_mic.PipeSource, short_piece: Piece, tmp_path: Path
) -> None:
    """The default microphone (no --device), stopped with Ctrl-C after a few seconds."""
    fed = np.concatenate([short_piece.take, np.zeros(30 * SR_DEV, np.float32)])
    feeder = file_mic.feed(fed)
    jsonl, saved = tmp_path / "positions.jsonl", tmp_path / "take.flac"
    proc = start_matcher(
        file_mic.env, "follow", "piece", "--store", short_piece.store, "--jsonl", jsonl, "--save-take", saved,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_positions(jsonl, 3.0, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        feeder.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "take saved" in err
    assert "followed" in out and "of take" in out  # the session summary
    rows = jsonl_rows(jsonl.read_text())
    frames = sf.info(str(saved)).frames
    assert frames / SR_DEV >= 3.0
    assert rows[-1]["t"] == pytest.approx(frames / SR_DEV, abs=0.06)  # the take holds what was followed


@pytest.mark.slow
def test_sound_server_gone_mid_session_stops_cleanly_and_keeps_the_take(short_piece: Piece, tmp_path: Path) -> None:
    if pulse_mic.unavailable():
        pytest.skip(f"no PulseAudio microphone: {pulse_mic.unavailable()}")
    server = pulse_mic.PulseServer().start()  # its own server: this test kills it
    try:
        source = server.pipe_source(rate=SR_DEV)
        feeder = source.feed(np.concatenate([short_piece.take, np.zeros(30 * SR_DEV, np.float32)]))
        jsonl, saved = tmp_path / "positions.jsonl", tmp_path / "take.flac"
        proc = start_matcher(
            source.env, "follow", "piece", "--store", short_piece.store, "--device", "pulse", "--jsonl", jsonl,
            "--save-take", saved, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for_positions(jsonl, 2.0, proc)
            server.kill()
            out, err = proc.communicate(timeout=30)
        finally:
            feeder.stop()
            if proc.poll() is None:
                proc.kill()
    finally:
        server.stop()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("matcher: input 'pulse' stopped delivering audio"), err
    assert "the take is kept in" in last
    assert "followed" in out  # the summary of what was followed
    assert sf.info(str(saved)).frames / SR_DEV >= 2.0
