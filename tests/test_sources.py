"""Inputs: the generated scene, files (never dropping, looping), cameras, URLs on 127.0.0.1."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from media import clip_frame, truncate, write_clip
from rtmp_receiver import free_port, listening

from engine.errors import SourceError
from stream.io.sources import FakeCamera, SourceFrame, TestSource, open_source

SERVER = r"""
import sys
from fractions import Fraction
import av
import numpy as np
url, frames, level = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with av.open(url, "w", format="mpegts") as out:
    video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "tune": "zerolatency", "g": "15"})
    video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
    audio = out.add_stream("aac", rate=48000, layout="stereo")
    for i in range(frames):
        picture = av.VideoFrame.from_ndarray(np.full((96, 160, 3), level, np.uint8), format="rgb24")
        picture.pts, picture.time_base = i, Fraction(1, 30)
        out.mux(video.encode(picture))
        sound = av.AudioFrame.from_ndarray(np.zeros((2, 1600), np.float32), format="fltp", layout="stereo")
        sound.sample_rate, sound.pts, sound.time_base = 48000, i * 1600, Fraction(1, 48000)
        out.mux(audio.encode(sound))
    out.mux(video.encode(None))
    out.mux(audio.encode(None))
"""


def test_testsrc_moves_has_audio_and_is_paced():
    with open_source("testsrc", width=160, height=96, fps=30) as source:
        assert source.live and source.has_audio and (source.width, source.height, source.fps) == (160, 96, 30)
        begin = time.monotonic()
        frames = [source.read() for _ in range(4)]
        elapsed = time.monotonic() - begin
        chunks = source.read_audio()
    assert all(isinstance(f, SourceFrame) for f in frames)
    assert all(f.image.shape == (96, 160, 3) and f.image.dtype == np.uint8 for f in frames)
    assert elapsed >= 3 / 30 - 0.01  # real-time paced
    assert np.diff([f.pts_s for f in frames]) == pytest.approx([1 / 30] * 3, abs=1e-6)  # a fast reader misses none
    assert all(np.diff([f.time_s for f in frames]) > 0)
    change = np.abs(frames[0].image.astype(int) - frames[3].image.astype(int)).mean()
    assert change > 0.2  # the scene moves
    samples = np.concatenate([c.samples for c in chunks], axis=1)
    assert samples.dtype == np.float32 and samples.shape == (2, round(4 / 30 * 48000))
    assert chunks[0].pts_s == 0.0 and chunks[1].pts_s == pytest.approx(1 / 30)
    assert 0.05 < np.sqrt(np.mean(samples**2)) < 0.5  # a tone, not silence


def test_testsrc_keeps_aspect_and_default_size():
    with open_source("testsrc", width=320, fps=25) as source:
        assert (source.width, source.height) == (320, 180)
        assert source.read().image.shape == (180, 320, 3)
    assert TestSource().width == 640 and TestSource().height == 360


def test_fake_camera_interface():
    camera = FakeCamera(64, 48, fps=30, frames=3)
    with camera:
        assert camera.live and not camera.has_audio
        frames = [camera.read() for _ in range(4)]
    assert frames[3] is None and [f.index for f in frames[:3]] == [0, 1, 2]
    assert camera.closed and camera.read_audio() == []
    broken = FakeCamera(64, 48, fail_after=1)
    broken.read()
    with pytest.raises(SourceError, match="unplugged"):
        broken.read()


def test_file_source_delivers_every_frame_in_order(tmp_path):
    path = write_clip(tmp_path / "clip.mp4", 64, 48, frames=16, fps=24)
    with open_source(str(path), fps=30) as source:
        assert not source.live and source.has_audio
        assert (source.width, source.height, source.fps) == (64, 48, 24)
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
        chunks = source.read_audio()
    assert len(frames) == 16
    for i, frame in enumerate(frames):  # the right frame each time (x264 at crf 18 is close)
        assert np.abs(frame.image.astype(int) - clip_frame(i, 64, 48)).mean() < 6
    assert np.diff([f.pts_s for f in frames]) == pytest.approx([1 / 24] * 15, abs=1e-3)
    samples = np.concatenate([c.samples for c in chunks], axis=1)
    assert samples.shape[0] == 2 and abs(samples.shape[1] - 16 / 24 * 48000) <= 2048
    assert chunks[0].pts_s == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_file_source_reads_as_the_video_command_does(tmp_path, suffix):
    """One reader: a live file input gives the frames ``video`` gets, also from a damaged file."""
    from stream.io.video import VideoReader

    cut = truncate(write_clip(tmp_path / f"clip{suffix}", 64, 48, frames=48, fps=24), 0.5)
    with VideoReader(cut) as reader:
        expected = [frame.image for frame in reader]
    assert 0 < len(expected) < 48
    with open_source(str(cut), fps=30) as source:
        assert isinstance(source._reader, VideoReader)
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame.image)
    assert len(frames) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected))


def test_file_source_loops_and_resizes(tmp_path):
    path = write_clip(tmp_path / "clip.mkv", 64, 48, frames=16, fps=24)
    with open_source(str(path), width=32, height=24, fps=30, loop=True) as source:
        frames = [source.read() for _ in range(40)]
        chunks = source.read_audio()
    assert all(f is not None and f.image.shape == (24, 32, 3) for f in frames)
    assert np.diff([f.pts_s for f in frames]) == pytest.approx([1 / 24] * 39, abs=1e-3)  # also across loops
    assert np.array_equal(frames[3].image, frames[19].image) and np.array_equal(frames[5].image, frames[37].image)
    starts = [c.pts_s for c in chunks]
    assert starts == sorted(starts) and starts[-1] > 1.0  # the sound loops with the picture


def test_missing_camera_names_the_device():
    for spec in ("webcam:7", "/dev/video7"):
        with pytest.raises(SourceError) as info:
            open_source(spec, width=320, height=180, fps=30)
        assert "/dev/video7" in str(info.value) and "no camera found" in str(info.value)


def test_bad_url_fails_fast_without_the_key():
    port = free_port()
    begin = time.monotonic()
    with pytest.raises(SourceError) as info:
        open_source(f"rtmp://127.0.0.1:{port}/app/secretKEY123", fps=30)
    assert time.monotonic() - begin < 3
    assert "secretKEY123" not in str(info.value) and f"rtmp://127.0.0.1:{port}/app/****" in str(info.value)
    assert info.value.__context__ is None


def test_unknown_specs_list_the_allowed_forms(tmp_path):
    with pytest.raises(SourceError) as info:
        open_source("bogus", fps=30)
    message = str(info.value)
    assert all(form in message for form in ("webcam:N", "/dev/videoN", "rtmp://", "testsrc"))
    with pytest.raises(SourceError, match="did you mean testsrc"):
        open_source("testsrcc", fps=30)
    with pytest.raises(SourceError, match="srt is not available"):
        open_source("srt://127.0.0.1:9000", fps=30)
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "missing.mp4"), fps=30)
    with pytest.raises(SourceError, match="fps"):
        open_source("testsrc", fps=0)


def test_url_source_reads_a_live_stream_and_reconnects():
    """A TCP MPEG-TS server (PyAV, listen mode) serves dark frames, exits, and a second one
    serves bright frames on the same port: the source reconnects and time keeps increasing."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    servers = [subprocess.Popen([sys.executable, "-c", SERVER, url + "?listen=1", "30", "40"])]
    frames: list[SourceFrame] = []
    try:
        deadline = time.monotonic() + 20
        while not listening(port):
            assert time.monotonic() < deadline and servers[0].poll() is None
            time.sleep(0.02)
        source = open_source(url, width=80, height=48, fps=30, open_timeout_s=5, read_timeout_s=2)
        assert source.live and (source.width, source.height) == (80, 48)
        # The first server accepted its one client and closed its listening socket.
        servers.append(subprocess.Popen([sys.executable, "-c", SERVER, url + "?listen=1", "30", "200"]))

        def read_all() -> None:
            while (frame := source.read()) is not None:
                frames.append(frame)

        reader = threading.Thread(target=read_all)
        reader.start()
        deadline = time.monotonic() + 20
        while sum(f.image.mean() > 120 for f in frames) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        source.close()
        reader.join(5)
        assert not reader.is_alive()
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
            server.wait()
    dark = [f for f in frames if f.image.mean() < 120]
    bright = [f for f in frames if f.image.mean() > 120]
    assert len(dark) >= 25 and len(bright) >= 20
    assert frames.index(bright[0]) == len(dark)  # all of the first stream, then the second
    assert source.reconnects == 1
    pts = [f.pts_s for f in frames]
    assert all(np.diff(pts) > 0)
    assert np.median(np.diff(pts)) == pytest.approx(1 / 30, abs=1e-3)
    assert all(f.image.shape == (48, 80, 3) for f in frames)
