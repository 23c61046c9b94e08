"""The ``vcam`` output: the dream as a virtual camera (pyvirtualcam) that OBS, Zoom or Discord can pick.

On Linux it writes to a v4l2loopback device (``vcam`` takes the first one, ``vcam:/dev/video7``
that one); on Windows and macOS it feeds OBS's virtual camera.  Frames go to the camera from
a worker thread in the order written; ``write_video`` never blocks (when the camera falls
behind by more than ``max_queue`` frames the oldest are dropped and counted).  The camera
runs at the stream's fps: the pipeline's output clock already writes one frame per tick.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from engine.errors import SinkError
from stream.io.newest_frame import NewestFrameThread
from stream.io.sinks.base import Sink, SinkStats, check_image
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)

HOW_TO_GET_ONE = ("on Linux: sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
                  "exclusive_caps=1 card_label=DreamStream; on Windows or macOS: install OBS Studio and "
                  "start its virtual camera once")


def parse_vcam(spec: str) -> str | None:
    """``"vcam"`` -> ``None`` (any device); ``"vcam:/dev/video7"`` -> ``"/dev/video7"``."""
    if spec == "vcam":
        return None
    device = spec.removeprefix("vcam:").strip()
    if not device or any(ord(ch) < 32 for ch in device):
        raise SinkError(f"output {spec[:60]!r} names no device; allowed: vcam or vcam:/dev/videoN")
    return device


class VcamSink(Sink):
    """A virtual camera of the settings' size and fps; ``backend`` forces a pyvirtualcam backend."""

    def __init__(self, settings: EncoderSettings, device: str | None = None, *, backend: str | None = None,
                 max_queue: int = 8) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise SinkError("output vcam needs pyvirtualcam: pip install 'dreamstream[vcam]'") from None
        try:
            self._camera: Any = pyvirtualcam.Camera(settings.width, settings.height, settings.fps,
                                                    fmt=pyvirtualcam.PixelFormat.RGB, device=device,
                                                    backend=backend, print_fps=False)
        except (RuntimeError, ValueError, KeyError, OSError) as e:
            raise SinkError(f"output vcam: no virtual camera {('at ' + device) if device else 'found'} "
                            f"({_one_line(e)}); {HOW_TO_GET_ONE}") from None
        self.device = str(self._camera.device)
        super().__init__(f"vcam ({self.device})", settings)
        self.error: str | None = None
        self._feed = NewestFrameThread(self._send, name="sink vcam", keep=max_queue)
        log.info("virtual camera %s (%s backend) at %dx%d %d fps", self.device, self._camera.backend,
                 settings.width, settings.height, settings.fps)

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._feed.consumed, self._feed.dropped, 0, self.error is None)

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
        self._feed.put(image)

    def _send(self, image: np.ndarray) -> bool:
        """Send one frame to the camera; False once it has failed (this output stops)."""
        try:
            self._camera.send(image)
        except Exception as e:  # noqa: BLE001 - a camera that fails stops this output only
            self.error = _one_line(e)
            log.warning("virtual camera %s failed, output stopped: %s", self.device, self.error)
            return False
        return True

    def _finish(self) -> None:
        self._feed.close(5.0)
        try:
            self._camera.close()
        except Exception as e:  # noqa: BLE001 - closing a gone device is not an error worth raising
            log.info("virtual camera %s close: %s", self.device, _one_line(e))


def open_vcam(spec: str, settings: EncoderSettings) -> VcamSink:
    """The sink for ``vcam`` or ``vcam:DEVICE``."""
    return VcamSink(settings, parse_vcam(spec))


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return re.sub(r"'[\w-]+' backend: ", "", text)[:200] or type(e).__name__
