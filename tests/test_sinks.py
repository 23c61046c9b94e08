"""Outputs against real receivers on 127.0.0.1: RTMP (a PyAV listener), UDP, files.

The RTMP receiver runs in a subprocess: in one process, a publisher's connect
(``avio_open``, which PyAV runs holding the GIL) deadlocks with a PyAV listener
whose timeout callback needs the GIL.
"""
from __future__ import annotations

import logging
import socket
import threading
import time

import numpy as np
import pytest
from media import decoded_audio, video_times
from rtmp_receiver import KEY, free_port

from engine.errors import ConfigError, SinkError
from stream.io.backoff import BackoffPolicy
from stream.io.redact import redact_url
from stream.io.sinks.base import Sink, SinkStats
from stream.io.sinks.open import open_sink, twitch_url
from stream.io.sinks.reconnect import ReconnectingSink
from stream.io.sources import Scene
from stream.settings.encoder import EncoderSettings

FPS = 30
SETTINGS = EncoderSettings(width=320, height=180, fps=FPS, video_bitrate_kbps=600, audio_bitrate_kbps=96)
FAST_BACKOFF = BackoffPolicy(initial_s=0.05, max_s=0.2)

def tone(start: int, n: int, rate: int = 48000) -> np.ndarray:
    t = (start + np.arange(n)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    return np.stack([wave, wave]).astype(np.float32)


def write_av(sinks: list[Sink], scene: Scene, i: int) -> None:
    """Frame i of the scene and its 1/30 s of tone to each sink."""
    image = scene.render(i / FPS)
    start, end = round(i * 48000 / FPS), round((i + 1) * 48000 / FPS)
    samples = tone(start, end - start)
    for sink in sinks:
        sink.write_video(image, i / FPS)
        sink.write_audio(samples, start / 48000)


# --------------------------------------------------------------------------- RTMP


@pytest.mark.slow
def test_rtmp_stream_is_what_twitch_accepts(receivers):
    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    scene = Scene(320, 180)
    frames = 3 * FPS + 1  # 0 to 3 s: keyframes at 0 and 2 s
    with open_sink(f"rtmp://127.0.0.1:{port}/app/{KEY}", SETTINGS) as sink:
        assert KEY not in sink.name and KEY not in repr(sink)
        for i in range(frames):
            write_av([sink], scene, i)
            time.sleep(1 / 120)  # the queue holds about 2 s; do not overrun it
    assert sink.stats == SinkStats(frames_written=frames, frames_dropped=0, reconnects=0, connected=True)
    result = receiver.result()
    assert result["vcodec"] == "h264" and result["profile"] == "Main"
    assert (result["width"], result["height"]) == (320, 180)
    assert abs(result["frames"] - frames) <= 0.05 * frames
    pts = result["video_pts"]
    rate = (len(pts) - 1) / (pts[-1] - pts[0])
    assert abs(rate - FPS) <= 0.05 * FPS
    assert result["first_is_key"] is True
    assert result["keyframes"][0] == pytest.approx(0.0, abs=0.05)
    gaps = np.diff(result["keyframes"])
    assert len(gaps) >= 1 and np.allclose(gaps, 2.0, atol=0.1), result["keyframes"]
    kbps = result["video_bytes"] * 8 / 1000 / (frames / FPS)
    assert 0.8 * 600 < kbps < 1.2 * 600, kbps  # constant bitrate (filler keeps it up on a soft scene)
    assert result["acodec"] == "aac" and result["arate"] == 48000 and result["achannels"] == 2
    assert result["audio_samples"] / 48000 == pytest.approx(frames / FPS, abs=0.15)


@pytest.mark.slow
def test_reconnects_after_receiver_dies_and_file_is_unaffected(receivers, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    first = receivers(port)
    first.wait_listening()
    scene = Scene(320, 180)
    rtmp = open_sink(f"rtmp://127.0.0.1:{port}/app/{KEY}", SETTINGS, backoff=FAST_BACKOFF)
    assert isinstance(rtmp, ReconnectingSink)
    file = open_sink(str(tmp_path / "side.mkv"), SETTINGS)
    second = None
    durations = []
    i = reconnected_at = 0
    while True:
        begin = time.monotonic()
        rtmp.write_video(scene.render(i / FPS), i / FPS)
        durations.append(time.monotonic() - begin)
        write_av([file], scene, i)
        if i == 30:
            first.kill()  # the server goes away mid-stream
        if i == 50:
            second = receivers(port)  # ... and comes back on the same port
        if not reconnected_at and rtmp.stats.reconnects:
            reconnected_at = i
        i += 1
        if reconnected_at and i >= reconnected_at + 45:
            break
        assert i < 1500, "never reconnected"
        time.sleep(1 / 60)
    frames = i
    stats = rtmp.stats
    rtmp.close()
    file.close()
    # Writes only enqueue, also while the output reconnects (FFmpeg connects in the child process):
    # none waits for the network (a write that waited for a connection attempt takes seconds).
    assert max(durations) < 1.0, sorted(durations)[-5:]
    assert stats.reconnects == 1 and stats.connected
    assert stats.frames_dropped >= 10  # frames written while down are dropped
    result = second.result()
    assert result["vcodec"] == "h264" and result["profile"] == "Main"
    assert result["first_is_key"] is True  # a fresh stream: header and keyframe first
    assert result["video_pts"][0] == pytest.approx(0.0, abs=0.05)  # timestamps restart
    assert result["frames"] >= 40
    assert result["acodec"] == "aac" and result["audio_samples"] > 0  # silence filled in
    # The file written alongside has every frame and its sound.
    assert len(video_times(tmp_path / "side.mkv")) == frames
    start, rate, samples = decoded_audio(tmp_path / "side.mkv")
    assert samples.shape[1] / rate == pytest.approx(frames / FPS, abs=0.1)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed" in logged and "reconnected" in logged
    assert KEY not in logged and "rtmp://127.0.0.1:%d/app/****" % port in logged


@pytest.mark.slow
def test_refused_connection_is_a_clear_error_without_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    begin = time.monotonic()
    with pytest.raises(SinkError) as info:
        open_sink(f"rtmp://127.0.0.1:{port}/app/{KEY}", SETTINGS)
    assert time.monotonic() - begin < 30  # a child process starts and is refused; no hang
    message = str(info.value)
    assert KEY not in message and f"rtmp://127.0.0.1:{port}/app/****" in message
    assert "refused" in message.lower()
    assert info.value.__context__ is None  # no chained exception carrying the raw URL
    with pytest.raises(SinkError) as info:
        open_sink("twitch", SETTINGS, twitch_ingest=f"rtmp://127.0.0.1:{port}/app", stream_key=KEY)
    assert KEY not in str(info.value) and "twitch" in str(info.value) and "/app/****" in str(info.value)
    assert all(KEY not in record.getMessage() for record in caplog.records)


# --------------------------------------------------------------------------- reconnect logic (no network)


class FlakySink(Sink):
    """A sink that fails with BrokenPipeError after ``fail_after`` frames."""

    def __init__(self, fail_after: int | None) -> None:
        self.name, self.fail_after, self.frames, self.closed = "flaky", fail_after, [], False

    def write_video(self, image, pts_s):
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise BrokenPipeError(32, "Broken pipe")
        self.frames.append(pts_s)

    def close(self):
        self.closed = True


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_backoff_policy_doubles_to_the_maximum():
    policy = BackoffPolicy()
    assert [policy.delay(n) for n in range(0, 8)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    with pytest.raises(ConfigError):
        BackoffPolicy(initial_s=2.0, max_s=1.0)


def test_reconnecting_sink_follows_the_backoff_clock():
    now = [100.0]
    opened: list[FlakySink] = []
    refusals = [0]

    def opener() -> Sink:
        if len(opened) >= 1 and refusals[0] < 2:  # the first two reconnects are refused
            refusals[0] += 1
            raise SinkError("output flaky cannot open: ConnectionRefusedError: Connection refused")
        opened.append(FlakySink(fail_after=3 if not opened else None))
        return opened[-1]

    image = np.zeros((4, 4, 3), np.uint8)
    sink = ReconnectingSink(opener, "flaky", backoff=BackoffPolicy(1.0, 4.0), clock=lambda: now[0])
    try:
        for k in range(5):
            sink.write_video(image, k)  # frame 3 fails: down, next attempt at t + 1
        wait_for(lambda: not sink.connected)
        wait_for(lambda: sink.stats.frames_dropped >= 2)
        assert opened[0].frames == [0, 1, 2] and opened[0].closed
        checks = sink.clock_checks
        wait_for(lambda: sink.clock_checks >= checks + 3)  # the worker looked at the clock, several times
        assert refusals[0] == 0  # the fake clock has not moved: no attempt yet
        now[0] += 1.0
        wait_for(lambda: refusals[0] == 1)  # refused: next attempt 2 s later
        now[0] += 1.5
        checks = sink.clock_checks
        wait_for(lambda: sink.clock_checks >= checks + 3)
        assert refusals[0] == 1
        now[0] += 0.5
        wait_for(lambda: refusals[0] == 2)  # refused again: next attempt 4 s later (the maximum)
        now[0] += 4.0
        wait_for(lambda: sink.connected)
        for k in range(5, 8):
            sink.write_video(image, k)  # never raises, never blocks
        wait_for(lambda: len(opened[1].frames) == 3)
        assert opened[1].frames == [5, 6, 7]
        assert sink.stats.reconnects == 1
        # After a connection that lasted (>= max_s), the next wait is the shortest again.
        opened[1].fail_after = 3
        now[0] += 5.0
        sink.write_video(image, 8)
        wait_for(lambda: not sink.connected)
        now[0] += 0.9
        time.sleep(0.1)
        assert len(opened) == 2
        now[0] += 0.1
        wait_for(lambda: len(opened) == 3 and sink.connected)
    finally:
        sink.close()
    assert opened[1].closed and opened[2].closed
    with pytest.raises(SinkError):
        sink.write_video(image, 9)


# --------------------------------------------------------------------------- files, UDP, preview


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".flv"])
def test_file_sink_writes_every_frame_with_audio(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    scene = Scene(320, 180)
    with open_sink(str(path), SETTINGS) as sink:
        for i in range(24):
            write_av([sink], scene, i)
    times = video_times(path)
    assert len(times) == 24
    assert float(times[-1] - times[0]) == pytest.approx(23 / FPS, abs=1e-3)
    start, rate, samples = decoded_audio(path)
    assert rate == 48000 and samples.shape[0] == 2
    assert samples.shape[1] / rate == pytest.approx(24 / FPS, abs=0.05)
    assert np.sqrt(np.mean(samples[:, 4800:9600] ** 2)) > 0.1  # the tone, not silence


def test_file_is_playable_after_an_exception(tmp_path):
    path = tmp_path / "crash.mp4"
    scene = Scene(320, 180)
    with pytest.raises(RuntimeError):
        with open_sink(str(path), SETTINGS) as sink:
            for i in range(10):
                sink.write_video(scene.render(i / FPS), i / FPS)  # no audio written: silence
            raise RuntimeError("the pipeline broke")
    assert len(video_times(path)) == 10
    start, rate, samples = decoded_audio(path)
    assert samples.shape[1] > 0


def test_file_sink_bad_path_and_shape(tmp_path):
    with pytest.raises(SinkError, match="cannot open output"):
        open_sink(str(tmp_path / "missing-dir" / "out.mp4"), SETTINGS)
    with open_sink(str(tmp_path / "out.mkv"), SETTINGS) as sink:
        with pytest.raises(SinkError, match=r"\(180, 320, 3\)"):
            sink.write_video(np.zeros((100, 100, 3), np.uint8), 0.0)
        with pytest.raises(SinkError, match=r"\(2, N\)"):
            sink.write_audio(np.zeros(100, np.float32), 0.0)


def test_udp_sink_sends_mpegts_datagrams():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    port = receiver.getsockname()[1]
    got: list[bytes] = []

    def collect() -> None:
        try:
            while True:
                got.append(receiver.recv(65536))
        except (TimeoutError, OSError):
            pass

    thread = threading.Thread(target=collect)
    scene = Scene(320, 180)
    with open_sink(f"udp://127.0.0.1:{port}", SETTINGS) as sink:
        # Listen once the encoder process is up: its start can take longer than the receive timeout.
        thread.start()
        assert sink.name == f"udp://127.0.0.1:{port}"
        for i in range(15):
            write_av([sink], scene, i)
            time.sleep(0.005)
    thread.join()
    receiver.close()
    assert len(got) > 10
    assert all(len(d) % 188 == 0 and d[0] == 0x47 for d in got)
    assert max(len(d) for d in got) == 1316


def test_preview_without_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SinkError, match="no display"):
        open_sink("preview", SETTINGS)


def test_preview_with_a_dead_window_never_blocks(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")  # no X server there: the window process dies
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    sink = open_sink("preview", SETTINGS)
    try:
        image = np.zeros((180, 320, 3), np.uint8)
        begin = time.monotonic()
        for i in range(20):
            sink.write_video(image, i / FPS)
        assert time.monotonic() - begin < 5  # a write that waited for the dead window would hang
    finally:
        begin = time.monotonic()
        sink.close()
        assert time.monotonic() - begin < 5
    assert not sink.alive


# --------------------------------------------------------------------------- specs, settings, redaction


def test_unknown_outputs_list_the_allowed_forms(tmp_path):
    with pytest.raises(SinkError) as info:
        open_sink("twich", SETTINGS)
    assert "rtmp://" in str(info.value) and "udp://" in str(info.value) and "did you mean twitch" in str(info.value)
    with pytest.raises(SinkError, match="srt is not available"):
        open_sink("srt://127.0.0.1:9000", SETTINGS)
    with pytest.raises(SinkError, match="allowed outputs"):
        open_sink(str(tmp_path / "out.avi"), SETTINGS)
    with pytest.raises(SinkError, match="stream key"):
        open_sink("twitch", SETTINGS, twitch_ingest="rtmp://live.twitch.tv/app")
    with pytest.raises(SinkError, match="ingest"):
        open_sink("twitch", SETTINGS, stream_key=KEY)


def test_encoder_settings_validate():
    assert SETTINGS.keyframe_interval_frames == 60
    with pytest.raises(ConfigError, match="width"):
        EncoderSettings(width=321, height=180, fps=30)
    with pytest.raises(ConfigError, match="did you mean veryfast"):
        EncoderSettings(width=320, height=180, fps=30, preset="veryfas")
    with pytest.raises(ConfigError, match="audio_rate"):
        EncoderSettings(width=320, height=180, fps=30, audio_rate=22050)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtmp://live.twitch.tv/app/live_123_abc", "rtmp://live.twitch.tv/app/****"),
        ("rtmps://ingest.example.com:443/live2/key/more", "rtmps://ingest.example.com:443/live2/****"),
        ("rtmp://host/app", "rtmp://host/app"),
        ("rtmp://user:pw@host:1935/app/k", "rtmp://****@host:1935/app/****"),
        ("https://example.com/stream.m3u8?token=abc", "https://example.com/stream.m3u8?token=****"),
        ("udp://127.0.0.1:1234?pkt_size=1316", "udp://127.0.0.1:1234?pkt_size=1316"),
        ("/tmp/out.mp4", "/tmp/out.mp4"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_twitch_url_joins_ingest_and_key():
    assert twitch_url("rtmp://live.twitch.tv/app", "k1") == "rtmp://live.twitch.tv/app/k1"
    assert twitch_url("rtmp://live.twitch.tv/app/", "k1") == "rtmp://live.twitch.tv/app/k1"
    assert twitch_url("rtmp://x.contribute.live-video.net/app/{stream_key}", "k1") == (
        "rtmp://x.contribute.live-video.net/app/k1"
    )
