"""The preview window, drawn by a child process (cv2.imshow hangs once av is imported)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import numpy as np

from engine.errors import SinkError
from stream.io.child_env import child_env
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
    through a pipe via a one-slot mailbox: ``write_video`` never blocks, a slow
    window skips frames. Closing the window (or q/Esc) stops the preview only.
    """

    def __init__(self, settings: EncoderSettings, *, title: str = "DreamStream") -> None:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise SinkError("output preview needs a display: no display ($DISPLAY and $WAYLAND_DISPLAY are unset)")
        self.name = "preview"
        self.settings = settings
        self._frames = 0
        self._dropped = 0
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = None
        self._closed = False
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _PREVIEW_CHILD, str(settings.width), str(settings.height), title],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(),
            )
        except OSError as exc:
            raise SinkError(f"output preview cannot start its window process: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="sink preview", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False once the window process has gone (window closed or no GUI)."""
        return self._proc.poll() is None

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
        with self._cond:
            if self._latest is not None:
                self._dropped += 1
            self._latest = image
            self._cond.notify()

    def _run(self) -> None:
        assert self._proc.stdin is not None
        while True:
            with self._cond:
                while self._latest is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                image, self._latest = self._latest, None
            try:
                self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
                self._proc.stdin.flush()
                self._frames += 1
            except (BrokenPipeError, ValueError, OSError):
                log.info("preview window closed")
                return

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._thread.join(2.0)
        if self._thread.is_alive():  # stuck writing to a hung window: end it to unblock the pipe
            self._proc.kill()
            self._thread.join(2.0)
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
        return SinkStats(self._frames, self._dropped, 0, self.alive)
