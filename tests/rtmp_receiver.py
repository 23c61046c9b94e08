"""A real RTMP receiver for tests: a PyAV listener on 127.0.0.1 in a subprocess.

In one process, the publisher's connect (``avio_open``, which PyAV runs holding the GIL)
deadlocks with a PyAV listener whose timeout callback needs the GIL, hence the subprocess.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

KEY = "live_4242_SECRETstreamKEY"

RECEIVER = r"""
import json, sys
import av
url, out = sys.argv[1], sys.argv[2]
result = {"frames": 0, "video_pts": [], "keyframes": [], "first_is_key": None, "audio_samples": 0, "video_bytes": 0}
try:
    with av.open(url, format="flv", options={"listen": "1"}, timeout=(30, 5)) as c:
        v = c.streams.video[0]
        result.update(vcodec=v.codec_context.name, profile=v.codec_context.profile,
                      width=v.codec_context.width, height=v.codec_context.height)
        a = c.streams.audio[0] if c.streams.audio else None
        if a is not None:
            result.update(acodec=a.codec_context.name, arate=a.codec_context.sample_rate,
                          achannels=a.codec_context.channels)
        try:
            for packet in c.demux():
                if packet.stream.type == "video" and packet.pts is not None:
                    t = float(packet.pts * packet.time_base)
                    if result["first_is_key"] is None:
                        result["first_is_key"] = bool(packet.is_keyframe)
                    result["video_pts"].append(t)
                    result["video_bytes"] += packet.size
                    if packet.is_keyframe:
                        result["keyframes"].append(t)
                for frame in packet.decode():
                    if packet.stream.type == "video":
                        result["frames"] += 1
                    else:
                        result["audio_samples"] += frame.samples
        except (av.FFmpegError, OSError) as exc:
            # The publisher hung up: FFmpeg reports EIO, EOF, or EPIPE/ECONNRESET when the
            # listener was sending an acknowledgement at that moment.
            result["end"] = type(exc).__name__
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"
with open(out, "w") as f:
    json.dump(result, f)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """True when something listens on TCP ``port`` (without connecting: the receiver takes one client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                return True
    return False


class Receiver:
    """A PyAV RTMP listener in a subprocess; ``result()`` is what it decoded."""

    def __init__(self, port: int, out: Path) -> None:
        self.port, self.out = port, out
        self.url = f"rtmp://127.0.0.1:{port}/app/{KEY}"
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, self.url, str(out)])

    def wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not listening(self.port):
            assert self.proc.poll() is None, "receiver exited before listening"
            assert time.monotonic() < deadline, "receiver did not start listening"
            time.sleep(0.02)

    def result(self, timeout: float = 20.0) -> dict:
        self.proc.wait(timeout)
        result = json.loads(self.out.read_text())
        assert "error" not in result, f"{result['error']} (after {result['frames']} frames)"
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def receivers(tmp_path):
    started: list[Receiver] = []

    def start(port: int) -> Receiver:
        receiver = Receiver(port, tmp_path / f"receiver{len(started)}.json")
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.kill()
