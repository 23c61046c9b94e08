"""The preview window, drawn by a child process (cv2.imshow hangs once av is imported)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np

from engine.errors import SinkError
from stream.io.child_env import child_env
from stream.io.newest_frame import NewestFrameThread
from stream.io.sinks.base import Sink, SinkStats, check_image
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)


_PREVIEW_CHILD = r"""
import sys
import numpy as np
import cv2
width, height, title = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
size = width * height * 3
stdin = sys.stdin.buffer
cv2.namedWindow(title, cv2.WINDOW_NORMAL)
while True:
    data = stdin.read(size)
    if len(data) < size:
        break
    image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
    cv2.imshow(title, image[:, :, ::-1])
    key = cv2.waitKey(1) & 0xFF
    if key in (27, ord("q")) or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
        break
cv2.destroyAllWindows()
"""


class PreviewSink(Sink):
    """A window showing the output, drawn by a child process that imports only OpenCV.

    (``cv2.imshow`` hangs once ``av`` is imported in the same process.) Frames go
    through a pipe from a :class:`NewestFrameThread` holding one frame: ``write_video``
    never blocks, a slow window skips frames. Closing the window (or q/Esc) stops the preview only.
    """

    def __init__(self, settings: EncoderSettings, *, title: str = "DreamStream") -> None:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise SinkError("output preview needs a display: no display ($DISPLAY and $WAYLAND_DISPLAY are unset)")
        super().__init__("preview", settings)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _PREVIEW_CHILD, str(settings.width), str(settings.height), title],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(),
            )
        except OSError as exc:
            raise SinkError(f"output preview cannot start its window process: {exc}") from None
        self._window = NewestFrameThread(self._show, name="sink preview")

    @property
    def alive(self) -> bool:
        """False once the window process has gone (window closed or no GUI)."""
        return self._proc.poll() is None

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
        self._window.put(image)

    def _show(self, image: np.ndarray) -> bool:
        """Send one frame to the window process; False once it has gone."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            log.info("preview window closed")
            return False
        return True

    def _finish(self) -> None:
        if not self._window.close(2.0):  # stuck writing to a hung window: end it to unblock the pipe
            self._proc.kill()
            self._window.close(2.0)
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._window.consumed, self._window.dropped, 0, self.alive)
