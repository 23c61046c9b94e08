"""The quality suite's pictures and moving scenes.

Photos (uint8 RGB, 640x360 or any size asked for):

* ``colourful``: scikit-image's astronaut (public domain, NASA) and coffee (CC0) side by side;
* ``sky``: generated clouds in a blue sky (:func:`engine.synth.clouds`, as ``scripts/demo`` dreams);
* ``face``: the astronaut's portrait.

The photos are kept in ``photos/`` as small JPEGs (no scikit-image needed to run the suite).
Scenes are frame sequences: a photo held still (``still``) or panned ``PAN_PX_S`` pixels a second
there and back (``pan``), and ``volcano``: a generated timelapse (a dark cone under a drifting sky,
a plume of smoke rising from its crater), the kind of landscape clip the layer dream must keep.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from engine.synth import _fractal_noise, clouds

PHOTOS = ("colourful", "sky", "face")
PICTURES = (*PHOTOS, "volcano")  # the volcano clip's first frame, or the clip in the live modes
SCENES = ("still", "pan")
PAN_PX_S = 8.0  # a slow pan, pixels a second at 640x360
PAN_RANGE = 64  # ... there and back over this many pixels (8 s a way)
FPS = 20.0  # a live cell at N seconds is N * FPS dreamed frames (the live dream's rate goal on 2 cores)
HERE = Path(__file__).resolve().parent / "photos"


@lru_cache(maxsize=8)
def _stored(name: str) -> np.ndarray:
    image = cv2.imread(str(HERE / f"{name}.jpg"), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(HERE / f"{name}.jpg")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    f = max(width / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, (max(width, round(image.shape[1] * f)), max(height, round(image.shape[0] * f))),
                     interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[top:top + height, left:left + width])


def photo(name: str, width: int = 640, height: int = 360) -> np.ndarray:
    """One of :data:`PICTURES` at ``width`` x ``height``, uint8 RGB."""
    if name == "sky":
        return clouds(height, width, seed=1)
    if name == "volcano":
        return Volcano(width, height)(0)
    if name not in PHOTOS:
        raise ValueError(f"photo {name!r} is not one of {', '.join(PICTURES)}")
    return _fit(_stored(name), width, height)


def scene(name: str, kind: str, width: int = 640, height: int = 360) -> Callable[[int], np.ndarray]:
    """Frame ``i`` (at :data:`FPS`) of photo ``name`` held still or panned (``kind``), or of the ``volcano`` clip (any kind)."""
    if name == "volcano":
        return Volcano(width, height)
    if kind == "still":
        still = photo(name, width, height)
        return lambda i: still
    wide = photo(name, width + PAN_RANGE, height) if name == "sky" else _fit(
        photo(name, width, height), width + PAN_RANGE, round(height * (width + PAN_RANGE) / width))
    top = (wide.shape[0] - height) // 2

    def frame(i: int) -> np.ndarray:
        x = (i * PAN_PX_S / FPS) % (2 * PAN_RANGE)
        x = x if x <= PAN_RANGE else 2 * PAN_RANGE - x  # there and back
        m = np.array([[1.0, 0.0, -x], [0.0, 1.0, -top]])
        return cv2.warpAffine(wide, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    return frame


class Volcano:
    """A generated volcano timelapse, frame ``i`` at :data:`FPS`: a cone, a drifting sky, rising smoke. uint8 RGB."""

    def __init__(self, width: int = 640, height: int = 360, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        self.w, self.h = width, height
        self.sky = clouds(height, width * 3, seed=seed)  # drifts left
        self.smoke = _fractal_noise(height * 3, width, rng, octaves=5)  # rises
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        ridge = height * (0.38 + 0.9 * np.abs(x / width - 0.52) ** 1.3)  # the cone's flank
        ridge = np.minimum(ridge, height * 0.95) + 6 * _fractal_noise(1, width, rng, octaves=4)[0]
        self.ground = y > ridge
        texture = _fractal_noise(height, width, rng, octaves=7, persistence=0.7)
        gullies = np.abs(np.sin((x - width * 0.52) / (6 + 0.25 * np.abs(x - width * 0.52)) + 3 * texture))
        rock = np.array([75.0, 60, 52]) * (0.35 + 1.1 * texture[..., None] * (0.5 + 0.5 * gullies[..., None]))
        grass = np.array([60.0, 95, 45]) * (0.6 + 0.7 * texture[..., None])
        lower = np.clip((y - height * 0.7) / (height * 0.25), 0, 1)[..., None]
        self.land = rock * (1 - lower) + grass * lower
        crater = (width * 0.52, height * 0.38)
        rise = np.clip((crater[1] - y) / crater[1], 0, 1)  # 0 at the crater, 1 at the top
        spread = 18 + 130 * rise
        self.plume = np.exp(-0.5 * ((x - crater[0] - 60 * rise**1.5) / spread) ** 2) * (y < crater[1] + 4)

    def __call__(self, i: int) -> np.ndarray:
        t = i / FPS
        dx = int(t * 6) % (self.sky.shape[1] - self.w)
        sky = self.sky[:, dx:dx + self.w].astype(np.float64)
        dy = int(t * 10) % (self.smoke.shape[0] - self.h)
        smoke = self.smoke[self.smoke.shape[0] - self.h - dy:self.smoke.shape[0] - dy]
        density = np.clip((smoke - 0.25) / 0.3, 0, 1) * self.plume
        grey = np.array([120.0, 115, 112]) * (0.5 + 0.9 * smoke[..., None])
        image = sky * (1 - density[..., None]) + grey * density[..., None]
        image = np.where(self.ground[..., None], self.land, image)
        return np.clip(image, 0, 255).astype(np.uint8)
