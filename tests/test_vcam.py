"""The virtual camera output through pyvirtualcam's backend registry (these machines have no v4l2loopback)."""
from __future__ import annotations

import threading
import time
from typing import ClassVar

import numpy as np
import pytest

pyvirtualcam = pytest.importorskip("pyvirtualcam")
camera_module = pytest.importorskip("pyvirtualcam.camera")

from engine.errors import SinkError
from stream.io.sinks.vcam import VcamSink, open_vcam
from stream.io.sources import SourceFrame
from stream.live.pipeline import LivePipeline
from stream.settings.encoder import EncoderSettings
from stream.settings.live import LiveSettings

W, H, FPS = 64, 48, 20


class RecordingCamera:
    """A pyvirtualcam backend (the documented interface) that records what it is sent."""

    instances: ClassVar[list[RecordingCamera]] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: object) -> None:
        if device not in (None, "/dev/video7"):
            raise RuntimeError(f"Device {device} does not exist.")
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.dev = device or "/dev/video7"
        self.frames: list[tuple[float, int]] = []  # (arrival time, marker value)
        self.closed = False
        RecordingCamera.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        image = frame.reshape(self.height, self.width, 3)
        self.frames.append((time.monotonic(), int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])))

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self.dev

    def native_fourcc(self) -> int | None:
        return None


@pytest.fixture
def test_backend():
    RecordingCamera.instances.clear()
    pyvirtualcam.register_backend("dreamstream-test", RecordingCamera)
    yield RecordingCamera
    del camera_module.BACKENDS["dreamstream-test"]


class NumberedFrames:
    """A file-like source (never drops): frame i carries i in its first pixel."""

    live = False
    name = "numbered"

    def __init__(self, n: int) -> None:
        self.n, self.i = n, 0

    def read(self) -> SourceFrame | None:
        if self.i >= self.n:
            return None
        image = np.zeros((H, W, 3), np.uint8)
        image[..., 0], image[..., 1] = self.i % 256, self.i // 256
        frame = SourceFrame(image, time.monotonic(), self.i / FPS, self.i)
        self.i += 1
        return frame

    def read_audio(self) -> list:
        return []

    def close(self) -> None:
        pass


@pytest.mark.slow  # three seconds of frames on the output clock
def test_vcam_gets_every_frame_in_order_at_the_stream_fps(test_backend):
    settings = EncoderSettings(width=W, height=H, fps=FPS, audio=False)
    sink = open_vcam("vcam", settings)  # v4l2loopback finds no device here; the registered backend takes it
    assert sink.name == "vcam (/dev/video7)"
    n = 3 * FPS
    pipeline = LivePipeline(NumberedFrames(n), [sink], lambda image: image, LiveSettings(width=W, height=H, fps=FPS))
    result = pipeline.run()
    sink.close()
    cam = test_backend.instances[-1]
    assert (cam.width, cam.height, cam.fps) == (W, H, FPS) and cam.closed
    markers = [m for _, m in cam.frames]
    # every frame, in order; under load the output clock may repeat one (it never stalls the stream)
    assert sorted(set(markers)) == list(range(n)) and markers == sorted(markers)
    assert len(markers) == result["output"] == n + result["repeated"]
    times = [t for t, _ in cam.frames]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.8 * FPS < rate < 1.25 * FPS  # the output clock paces the camera
    print(f"vcam: {len(times)} frames in order at {rate:.2f} fps (configured {FPS})")
    assert sink.stats.frames_written == len(markers) and sink.stats.frames_dropped == 0


def test_vcam_named_device_and_a_slow_camera_never_blocks(test_backend, monkeypatch):
    settings = EncoderSettings(width=W, height=H, fps=FPS, audio=False)
    gate = threading.Event()
    monkeypatch.setattr(RecordingCamera, "send", lambda self, frame: gate.wait(5))
    sink = VcamSink(settings, "/dev/video7", max_queue=4)
    image = np.zeros((H, W, 3), np.uint8)
    t0 = time.monotonic()
    for i in range(50):
        sink.write_video(image, i / FPS)
    assert time.monotonic() - t0 < 2.0  # would be 50 x 5 s if a write waited for the camera
    gate.set()
    sink.close()
    assert sink.stats.frames_dropped >= 45
    with pytest.raises(SinkError, match="takes uint8 RGB frames"):
        sink.write_video(np.zeros((H, W), np.uint8), 0.0)


def test_vcam_without_a_device_is_one_line_saying_how_to_get_one():
    settings = EncoderSettings(width=W, height=H, fps=FPS, audio=False)
    for spec in ("vcam", "vcam:/dev/video9"):
        with pytest.raises(SinkError) as e:
            open_vcam(spec, settings)
        text = str(e.value)
        assert "\n" not in text and "modprobe v4l2loopback" in text and "OBS" in text
    assert "no virtual camera at /dev/video9 (Device /dev/video9 does not exist.)" in text
    with pytest.raises(SinkError, match="names no device"):
        open_vcam("vcam:", settings)
