"""The newest output frame, kept for the panel preview and encoded as JPEG on demand."""
from __future__ import annotations

import threading

import cv2
import numpy as np

PREVIEW_MAX_WIDTH = 640


class PreviewTap:
    """``offer`` (the pipeline's ``on_frame``) keeps a reference to the newest output frame, after
    the overlay (the pipeline does not modify frames once sent, so no copy).

    ``jpeg()`` encodes it at most once per new frame, scaled to at most
    :data:`PREVIEW_MAX_WIDTH` wide; ``None`` before the first frame.
    """

    def __init__(self, *, quality: int = 80) -> None:
        self.quality = quality
        self._lock = threading.Lock()
        self._image: np.ndarray | None = None
        self.frames = 0
        self._encoded: tuple[int, bytes] | None = None

    def offer(self, image: np.ndarray) -> None:
        with self._lock:
            self._image = image
            self.frames += 1

    def jpeg(self) -> bytes | None:
        with self._lock:
            image, n, cached = self._image, self.frames, self._encoded
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
