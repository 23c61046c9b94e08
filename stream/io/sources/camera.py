"""A V4L2 camera as an input (``webcam:N``, ``/dev/videoN``)."""
from __future__ import annotations

import os

import av

from engine.errors import SourceError
from stream.io.redact import scrubbed_reason
from stream.io.sources.base import SourceFrame
from stream.io.sources.decoding import AvSource, Timeline
from stream.io.video.reader import VideoReader

_V4L2_FORMAT = "video4linux2,v4l2"


class WebcamSource(AvSource):
    """A V4L2 camera read with PyAV (timestamps from the driver). No audio."""

    live = True

    def __init__(self, device: str, *, width: int | None, height: int | None, fps: float,
                 spec: str | None = None) -> None:
        super().__init__()
        self.device = device
        self.name = device
        label = f"{device} ({spec})" if spec and spec != device else device
        if _V4L2_FORMAT not in av.formats_available:
            raise SourceError(f"camera {label}: this FFmpeg build has no v4l2 input")
        if not os.path.exists(device):
            raise SourceError(f"no camera found at {label}: the device does not exist")
        if not os.access(device, os.R_OK | os.W_OK):
            raise SourceError(f"camera {label}: permission denied (is the user in the 'video' group?)")
        options = {"framerate": f"{fps:g}"}
        if width and height:
            options["video_size"] = f"{width}x{height}"
        try:
            container = av.open(device, format="v4l2", options=options, timeout=(5.0, 5.0))
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(f"camera {label} cannot be opened: {scrubbed_reason(exc, ())}") from None
        try:
            reader = self._start(VideoReader.of_container(container, device, width=width, height=height,
                                                          fallback_fps=fps))
        except BaseException:
            container.close()
            raise
        self.width, self.height = reader.width, reader.height
        self.fps = float(fps)
        self._timeline = Timeline(self.fps)
        self._index = 0

    def read(self) -> SourceFrame | None:
        if self._reader is None:
            return None
        got = self._next_video()
        if got is None and self._reader.truncated:
            raise SourceError(f"camera {self.device} stopped: it stopped delivering frames")
        return None if got is None else self._frame(*got)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
