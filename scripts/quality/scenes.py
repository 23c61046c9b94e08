"""The quality suite's photographs and moving scenes: real photos only, loaded from the packages that ship them.

Real photos, because a dream tuned on generated pictures loses on real ones (a generated sky rewards
what a real sky punishes). Two sets: the **tuning** set, which settings may be tuned on, and the
**held-out** set, which no tuning looks at: a change that gains on one and loses on the other is a
regression. Licences (the README repeats the attribution):

* ``china``, ``flower``: scikit-learn's sample images (``sklearn/datasets/images``), CC BY 2.0,
  by danielbuechele and vultilion on Flickr, retrieved by Robert Layton;
* ``coffee`` (CC0, Rachel Michetti), ``astronaut`` (public domain, NASA), ``chelsea`` (CC0, Stefan van
  der Walt), ``rocket`` (public domain, SpaceX): scikit-image's ``skimage.data``;
* ``grace_hopper``: matplotlib's sample data (public domain, U.S. Navy).

Scenes are frames at a time ``t`` (seconds): a photo held still (``still``), panned ``PAN_PX_S``
pixels a second there and back (``pan``), or panned while it zooms in and out (``zoom``, the
camera-like clip of the layer cells).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

TUNING = ("china", "coffee", "astronaut")
HELD_OUT = ("flower", "rocket", "chelsea", "grace_hopper")
PHOTOS = TUNING + HELD_OUT
SCENES = ("still", "pan", "zoom")
PAN_PX_S = 8.0  # a slow pan, pixels a second at 640x360
PAN_RANGE = 64  # ... there and back over this many pixels (8 s a way)
ZOOM_PERIOD_S = 20.0  # the zoom clip: in to ZOOM_MOST and back out in this many seconds
ZOOM_MOST = 1.25

#: Scene -> a function of time: frame ``t`` seconds in, uint8 RGB ``(H, W, 3)``.
Frames = Callable[[float], np.ndarray]


def photo_set(name: str) -> str:
    """``"tuning"`` or ``"held-out"``."""
    if name not in PHOTOS:
        raise ValueError(f"photo {name!r} is not one of {', '.join(PHOTOS)}")
    return "tuning" if name in TUNING else "held-out"


@lru_cache(maxsize=8)
def _stored(name: str) -> np.ndarray:
    """The photo at its own size, uint8 RGB, from the package that ships it."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.ascontiguousarray(load_sample_image(f"{name}.jpg"))
    if name == "grace_hopper":
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if name in ("coffee", "astronaut", "chelsea", "rocket"):
        import skimage.data

        return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])
    raise ValueError(f"photo {name!r} is not one of {', '.join(PHOTOS)}")


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    f = max(width / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, (max(width, round(image.shape[1] * f)), max(height, round(image.shape[0] * f))),
                     interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[top:top + height, left:left + width])


def photo(name: str, width: int = 640, height: int = 360) -> np.ndarray:
    """One of :data:`PHOTOS` at ``width`` x ``height`` (covered and centre-cropped), uint8 RGB."""
    return _fit(_stored(name), width, height)


def photo_file(name: str, folder: Path, width: int = 640, height: int = 360) -> Path:
    """:func:`photo` written losslessly as ``folder/NAME_WxH.png`` (what a still cell hands ``dreamstream image``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{width}x{height}.png"
    if not path.exists():
        cv2.imwrite(str(path), cv2.cvtColor(photo(name, width, height), cv2.COLOR_RGB2BGR))
    return path


def _pan_x(t: float) -> float:
    x = (t * PAN_PX_S) % (2 * PAN_RANGE)
    return x if x <= PAN_RANGE else 2 * PAN_RANGE - x  # there and back


def scene(name: str, kind: str, width: int = 640, height: int = 360) -> Frames:
    """Photo ``name`` held still, panned or panned and zoomed (``kind``, one of :data:`SCENES`), as frames in time."""
    if kind not in SCENES:
        raise ValueError(f"scene {kind!r} is not one of {', '.join(SCENES)}")
    if kind == "still":
        still = photo(name, width, height)
        return lambda t: still
    scale = (width + PAN_RANGE) / width
    wide = photo(name, width + PAN_RANGE, round(height * scale))
    top = (wide.shape[0] - height) / 2

    def frame(t: float) -> np.ndarray:
        zoom = 1.0 if kind == "pan" else 1 + (ZOOM_MOST - 1) * 0.5 * (1 - math.cos(2 * math.pi * t / ZOOM_PERIOD_S))
        x = _pan_x(t)
        cx, cy = x + width / 2, top + height / 2  # the window's centre in the wide picture, scaled about it
        m = np.array([[zoom, 0.0, width / 2 - zoom * cx], [0.0, zoom, height / 2 - zoom * cy]])
        return cv2.warpAffine(wide, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    return frame
