"""A sink that keeps the newest output frame and encodes it as JPEG on demand (the panel preview)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from stream.io.sinks.base import Sink, SinkStats
from stream.settings.encoder import EncoderSettings

PREVIEW_MAX_WIDTH = 640


class PreviewTap(Sink):
    """Holds a reference to the newest frame (sinks may not modify frames, so no copy).

    ``jpeg()`` encodes it at most once per new frame, scaled to at most
    :data:`PREVIEW_MAX_WIDTH` wide; ``None`` before the first frame.
    """

    def __init__(self, settings: EncoderSettings, *, quality: int = 80) -> None:
        self.name = "panel preview"
        self.settings = settings
        self.quality = quality
        self._lock = threading.Lock()
        self._image: np.ndarray | None = None
        self._frames = 0
        self._encoded: tuple[int, bytes] | None = None

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        with self._lock:
            self._image = image
            self._frames += 1

    def close(self) -> None:
        pass

    @property
    def stats(self) -> SinkStats:
        return SinkStats(frames_written=self._frames)

    def jpeg(self) -> bytes | None:
        with self._lock:
            image, n, cached = self._image, self._frames, self._encoded
        if image is None:
            return None
        if cached is not None and cached[0] == n:
            return cached[1]
        h, w = image.shape[:2]
        if w > PREVIEW_MAX_WIDTH:
            image = cv2.resize(image, (PREVIEW_MAX_WIDTH, round(h * PREVIEW_MAX_WIDTH / w)),
                               interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        data = buf.tobytes()
        with self._lock:
            self._encoded = (n, data)
        return data
