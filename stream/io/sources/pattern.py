"""The generated test scene (``testsrc``) and a fake camera for tests."""
from __future__ import annotations

import math
import time

import cv2
import numpy as np

from engine.errors import SourceError
from stream.io.sources.base import AudioChunk, Source, SourceFrame
from stream.io.video.sizes import fit_size
from stream.settings.encoder import AUDIO_RATE


class Scene:
    """A soft moving landscape: drifting colour blobs in a sky, rolling hills with a
    scrolling texture, and a ball on a looping path. ``render(t)`` -> (H, W, 3) uint8.

    It is drawn at about 320 pixels wide and upscaled (the scene is soft anyway);
    blobs are separable Gaussians (one small matrix product per channel), so a
    frame costs about a millisecond at any output size.
    """

    def __init__(self, width: int, height: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        factor = max(1, math.ceil(width / 320))
        iw, ih = max(2, width // factor), max(2, height // factor)
        self._inner = (iw, ih)
        self.x = ((np.arange(iw, dtype=np.float32) + 0.5) / ih)  # units of the image height
        self.y = ((np.arange(ih, dtype=np.float32) + 0.5) / ih)
        aspect = iw / ih
        k = 7
        self.blob_xy = rng.uniform((0.0, 0.0), (aspect, 0.7), size=(k, 2)).astype(np.float32)
        self.blob_amp = rng.uniform(0.05, 0.25, size=(k, 2)).astype(np.float32)
        self.blob_freq = rng.uniform(0.08, 0.3, size=(k, 2)).astype(np.float32)
        self.blob_phase = rng.uniform(0, 2 * np.pi, size=(k, 2)).astype(np.float32)
        self.blob_radius = rng.uniform(0.12, 0.3, size=k).astype(np.float32)
        palette = np.array(
            [[255, 170, 120], [250, 120, 160], [150, 110, 230], [110, 190, 240], [255, 220, 140],
             [170, 240, 200], [240, 150, 90]], np.float32) / 255
        self.blob_rgb = np.ascontiguousarray(palette[rng.permutation(len(palette))[:k]].T * 0.4)  # (3, K)
        top, bottom = np.array([40, 60, 130], np.float32) / 255, np.array([250, 190, 150], np.float32) / 255
        s = np.clip(self.y / 0.75, 0, 1)[:, None]  # (H, 1)
        sky = top[:, None, None] * (1 - s)[None] + bottom[:, None, None] * s[None]  # (3, H, 1)
        self.sky = np.ascontiguousarray(np.broadcast_to(sky, (3, ih, iw)))  # channel-first: fast numpy
        texture = rng.normal(0, 1, size=(ih, 2 * iw)).astype(np.float32)
        self.texture = 0.5 * (texture + np.roll(texture, 1, axis=1))
        self.hills = [  # (base height, amplitude, wave number, speed, colour, texture scroll px/s)
            (0.62, 0.06, 5.0, 0.15, np.array([70, 130, 90], np.float32) / 255, 10.0),
            (0.78, 0.05, 8.0, 0.35, np.array([40, 95, 60], np.float32) / 255, 22.0),
        ]
        yy, xx = np.mgrid[0:ih, 0:iw]
        self._yy, self._xx = yy.astype(np.float32), xx.astype(np.float32)

    def render(self, t: float) -> np.ndarray:
        """The scene at ``t`` seconds: (H, W, 3) uint8 RGB."""
        iw, ih = self._inner
        t = float(t)
        centre = self.blob_xy + self.blob_amp * np.sin(self.blob_freq * t + self.blob_phase)
        r = self.blob_radius
        gx = np.exp(-(((self.x[None, :] - centre[:, :1]) / r[:, None]) ** 2))  # (K, W)
        gy = np.exp(-(((self.y[:, None] - centre[None, :, 1]) / r[None, :]) ** 2))  # (H, K)
        image = self.sky.copy()  # (3, H, W)
        for c in range(3):
            image[c] += gy @ (self.blob_rgb[c][:, None] * gx)
        for base, amp, wave, speed, colour, scroll in self.hills:
            ridge = base + amp * np.sin(wave * self.x + speed * t) + 0.4 * amp * np.sin(2.7 * wave * self.x - speed * t)
            depth = self.y[:, None] - ridge[None, :]  # (H, W), > 0 inside the hill
            mask = np.clip(depth * (ih / 2.0), 0, 1)
            shift = int(scroll * t) % iw
            texture = 0.06 * self.texture[:, shift : shift + iw]
            light = 1.0 - 0.6 * np.clip(depth, 0, 0.4)
            for c in range(3):
                image[c] += mask * (colour[c] * light + texture - image[c])
        # A ball on a Lissajous path.
        bx = (0.5 + 0.35 * math.sin(0.7 * t)) * iw
        by = (0.35 + 0.2 * math.sin(1.1 * t + 1.0)) * ih
        radius = 0.07 * ih
        x0, x1 = max(0, int(bx - radius - 2)), min(iw, int(bx + radius + 3))
        y0, y1 = max(0, int(by - radius - 2)), min(ih, int(by + radius + 3))
        if x1 > x0 and y1 > y0:
            d = np.hypot(self._xx[y0:y1, x0:x1] - bx, self._yy[y0:y1, x0:x1] - by)
            alpha = np.clip(radius - d + 0.5, 0, 1)
            light = 1.0 - 0.35 * np.clip(d / radius, 0, 1)
            for c, value in enumerate((1.0, 0.85, 0.35)):
                patch = image[c, y0:y1, x0:x1]
                patch += alpha * (value * light - patch)
        np.clip(image, 0, 1, out=image)
        image *= 255
        image += 0.5
        small = cv2.merge([image[0], image[1], image[2]]).astype(np.uint8)
        if (iw, ih) == (self.width, self.height):
            return small
        return cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR)


class TestSource(Source):
    """``testsrc``: :class:`Scene` at the requested size and rate with a 440 Hz tone.

    With ``realtime`` the frames are paced by the monotonic clock and, like a
    camera, a late reader gets the current frame (skipped frames are not
    delivered; the audio stays continuous). ``frames`` ends the stream after that many.
    """

    __test__ = False  # not a pytest class
    live = True

    def __init__(self, width: int | None = None, height: int | None = None, fps: float = 30.0, *,
                 realtime: bool = True, audio: bool = True, frames: int | None = None,
                 tone_hz: float = 440.0) -> None:
        super().__init__()
        self.width, self.height = fit_size(width, height, 640, 360)
        self.fps = float(fps)
        self.name = "testsrc"
        self.has_audio = audio
        self.realtime = realtime
        self.frames = frames
        self.tone_hz = tone_hz
        self._scene = Scene(self.width, self.height)
        self._tick = 0  # index of the next frame on the media clock
        self._delivered = 0
        self._audio_pos = 0  # samples generated so far
        self._t0: float | None = None
        self._closed = False

    def read(self) -> SourceFrame | None:
        if self._closed or (self.frames is not None and self._delivered >= self.frames):
            return None
        if self.realtime:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._tick / self.fps
            if now < due:
                time.sleep(due - now)
            else:
                self._tick = max(self._tick, int((now - self._t0) * self.fps))
        pts = self._tick / self.fps
        image = self._scene.render(pts)
        self._tick += 1
        if self.has_audio:
            self._make_audio(round(self._tick / self.fps * AUDIO_RATE))
        frame = SourceFrame(image, time.monotonic(), pts, self._delivered)
        self._delivered += 1
        return frame

    def _make_audio(self, until: int) -> None:
        n = until - self._audio_pos
        if n <= 0:
            return
        t = (self._audio_pos + np.arange(n)) / AUDIO_RATE
        wave = 0.2 * np.sin(2 * np.pi * self.tone_hz * t) * (0.8 + 0.2 * np.sin(2 * np.pi * 0.25 * t))
        samples = np.stack([wave, wave]).astype(np.float32)
        self._push_audio(AudioChunk(samples, self._audio_pos / AUDIO_RATE))
        self._audio_pos = until

    def close(self) -> None:
        self._closed = True


class FakeCamera(TestSource):
    """A camera stand-in for tests and demos: the test scene, no audio, unpaced by default.

    ``fail_after`` raises :class:`SourceError` (like an unplugged camera) after that
    many frames; ``frames`` ends the stream instead.
    """

    def __init__(self, width: int = 320, height: int = 180, fps: float = 30.0, *, realtime: bool = False,
                 frames: int | None = None, fail_after: int | None = None) -> None:
        super().__init__(width, height, fps, realtime=realtime, audio=False, frames=frames)
        self.name = "fake camera"
        self.fail_after = fail_after
        self.closed = False

    def read(self) -> SourceFrame | None:
        if self.fail_after is not None and self._delivered >= self.fail_after:
            raise SourceError(f"camera {self.name} stopped: device unplugged")
        return super().read()

    def close(self) -> None:
        super().close()
        self.closed = True
