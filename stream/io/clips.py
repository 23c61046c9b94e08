"""Generated video clips: a slow pan and zoom across a picture (a photo, or drifting clouds), with sound.

Used by the video benchmark (a clip with known, smooth motion) and by the demo (a pan over its photo).
"""
from __future__ import annotations

import os
from fractions import Fraction

import cv2
import numpy as np

from engine.errors import ConfigError, SinkError
from engine.synth import clouds
from stream.io.video.info import VideoSpec
from stream.io.video.writer import VideoWriter
from stream.settings.encoder import AUDIO_RATE
from stream.settings.names import CONTAINERS


def pan_frame(
    image: np.ndarray, t: float, width: int, height: int, zoom: float = 1.25, travel: float = 0.6
) -> np.ndarray:
    """The view at time ``t`` in ``[0, 1]`` of a pan from left to right across ``image`` while zooming in.

    ``image`` uint8 RGB ``(h, w, 3)``; returns uint8 RGB ``(height, width, 3)``. The view is the
    largest ``width:height`` window that fits, shrunk by a zoom going from 1 to ``zoom``; its centre
    moves across ``travel`` of the room left for it, and a little down. Sub-pixel smooth (bicubic).
    """
    h, w = image.shape[:2]
    aspect = width / height
    win_w = min(w, h * aspect) / 1.15 / zoom ** t  # a margin to pan across even at t = 0
    win_h = win_w / aspect
    cx = w / 2 + travel * (w - win_w) * (t - 0.5)
    cy = h / 2 + 0.25 * travel * (h - win_h) * (t - 0.5)
    scale = width / win_w
    # out(x, y) = image(x0 + x / scale, y0 + y / scale), pixel centres aligned
    x0 = cx - win_w / 2 + 0.5 / scale - 0.5
    y0 = cy - win_h / 2 + 0.5 / scale - 0.5
    m = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], np.float64)
    flags = cv2.INTER_CUBIC if scale >= 1 else cv2.INTER_AREA
    return cv2.warpAffine(image, m, (width, height), flags=flags, borderMode=cv2.BORDER_REFLECT)


def sky(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A wide cloudy sky, uint8 RGB, for a clip of ``width`` x ``height`` to pan across."""
    return clouds(round(height * 1.3), round(width * 1.3), seed=seed, width_scale=1.8)


def _sound(start: int, n: int) -> np.ndarray:
    """A quiet stereo tone with a little noise, float32 ``(2, n)`` from sample ``start``."""
    t = (start + np.arange(n)) / AUDIO_RATE
    rng = np.random.default_rng(start)
    left = 0.1 * np.sin(2 * np.pi * 220.0 * t) + 0.01 * rng.standard_normal(n)
    right = 0.1 * np.sin(2 * np.pi * 330.0 * t) + 0.01 * rng.standard_normal(n)
    return np.stack([left, right]).astype(np.float32)


def write_pan_clip(
    path: str | os.PathLike[str],
    image: np.ndarray | None,
    frames: int = 48,
    width: int = 640,
    height: int = 360,
    fps: int | Fraction = 24,
    zoom: float = 1.25,
    audio: bool = True,
    crf: int = 16,
    seed: int = 0,
) -> str:
    """Write a clip panning and zooming across ``image`` (uint8 RGB; None = drifting clouds).

    Written by the one file writer (:class:`~stream.io.video.writer.VideoWriter`): H.264 yuv420p
    (libx264), time base 1/fps, in the container the extension names; with ``audio`` a quiet AAC
    sine-and-noise track as long as the video. Returns the path.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in CONTAINERS or suffix == ".webm":
        raise SinkError(f"{path}: unsupported clip extension {suffix or '(none)'!r}; use .mp4, .mkv, .mov or .ts")
    if frames < 1 or width < 16 or height < 16 or width % 2 or height % 2:
        raise ConfigError(f"clip {frames} frames of {width}x{height}: need >= 1 frame and even sizes >= 16")
    if image is None:
        image = sky(width, height, seed)
    fps = Fraction(fps)
    total = round(frames / fps * AUDIO_RATE)
    sample = 0
    with VideoWriter(path, VideoSpec(width, height, fps), crf=crf, audio_rate=AUDIO_RATE if audio else None,
                     kill_safe=False) as out:
        for i in range(frames):
            until = min(total, round((i + 1) / fps * AUDIO_RATE))
            while audio and sample < until:
                n = min(1024, total - sample)
                out.write_audio(_sound(sample, n), sample / AUDIO_RATE)
                sample += n
            out.write(pan_frame(image, i / max(frames - 1, 1), width, height, zoom), i)
    return path
