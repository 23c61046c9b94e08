"""Network outputs in a child process: a server that never answers, or a stuck encoder, stops nothing else; the
child starts with no secret in its environment."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rtmp_receiver import KEY, free_port

from engine.errors import SinkError
from stream.io.sinks.child import ChildSink
from stream.settings.encoder import EncoderSettings

SETTINGS = EncoderSettings(width=320, height=180, fps=30, video_bitrate_kbps=600, audio_bitrate_kbps=96)


class Ticker:
    """A thread that ticks every 20 ms; ``longest_gap`` shows whether anything froze the process."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.times.append(time.monotonic())
            time.sleep(0.02)

    def longest_gap(self) -> float:
        self.stop.set()
        self.thread.join()
        return max(b - a for a, b in zip(self.times, self.times[1:]))


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never says a word (a stuck ingest)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in accepted:
        conn.close()


@pytest.mark.slow
def test_a_server_that_never_answers_is_an_error_and_freezes_nothing(silent_server):
    ticker = Ticker()
    begin = time.monotonic()
    with pytest.raises(SinkError) as info:
        ChildSink(f"rtmp://127.0.0.1:{silent_server}/app/{KEY}", SETTINGS, format="flv",
                  name=f"rtmp://127.0.0.1:{silent_server}/app/****", secrets=[KEY], open_timeout_s=1.5)
    waited = time.monotonic() - begin
    assert "no answer within 1.5 s" in str(info.value) and KEY not in str(info.value)
    assert 1.4 < waited < 5
    assert ticker.longest_gap() < 1.0  # in-process, FFmpeg's connect held the GIL for the whole 1.5 s


@pytest.mark.slow
def test_a_stuck_encoder_process_is_noticed_and_killed(receivers):
    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    sink = ChildSink(receiver.url, SETTINGS, format="flv", name=f"rtmp://127.0.0.1:{port}/app/****",
                     secrets=[KEY], stall_s=1.0)
    image = np.zeros((180, 320, 3), np.uint8)
    for i in range(10):
        sink.write_video(image, i / 30)
    os.kill(sink._proc.pid, signal.SIGSTOP)  # stuck, as in a blocked network write
    begin = time.monotonic()
    with pytest.raises(SinkError, match="stalled"):
        for i in range(10, 200):
            sink.write_video(image, i / 30)
    assert time.monotonic() - begin < 5
    assert sink._proc.poll() is not None  # killed, not left behind
    sink.close()


def test_refused_connection_names_the_reason_from_the_child():
    port = free_port()
    with pytest.raises(SinkError) as info:
        ChildSink(f"rtmp://127.0.0.1:{port}/app/{KEY}", SETTINGS, format="flv",
                  name=f"rtmp://127.0.0.1:{port}/app/****", secrets=[KEY])
    message = str(info.value)
    assert "refused" in message.lower() and KEY not in message and f"127.0.0.1:{port}/app/****" in message


def test_sink_children_start_with_a_scrubbed_environment(receivers, monkeypatch):
    """No secret reaches a sink child's /proc/PID/environ (the stream key was there)."""
    monkeypatch.setenv("TWITCH_STREAM_KEY", KEY)
    monkeypatch.setenv("MY_NOTES", f"key is {KEY}!")
    monkeypatch.setenv("TWITCH_BOT_TOKEN", "oauth-abc123")
    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    sink = ChildSink(receiver.url, EncoderSettings(width=320, height=180, fps=30), format="flv",
                     name=f"rtmp://127.0.0.1:{port}/app/****", secrets=[KEY])
    try:
        environ = Path(f"/proc/{sink._proc.pid}/environ").read_bytes()
    finally:
        sink.close()
    assert KEY.encode() not in environ and b"oauth-abc123" not in environ
    names = {item.split(b"=", 1)[0] for item in environ.split(b"\0") if item}
    assert b"PATH" in names and not names & {b"TWITCH_STREAM_KEY", b"MY_NOTES", b"TWITCH_BOT_TOKEN"}


def test_child_env_keeps_what_python_needs():
    from stream.io.child_env import child_env

    env = child_env(["s3cret"], {"PATH": "/bin", "LC_ALL": "C", "HOME": "/home/s3cret", "AWS_SECRET": "x",
                                 "PYTHONPATH": "/src"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "PYTHONPATH": "/src"}
