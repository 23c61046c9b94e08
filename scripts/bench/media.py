"""What the benchmarks dream: scikit-image's sample photos, pan clips of them, their frames, and a work folder."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from stream.io.clips import pan_frame, write_pan_clip

#: scikit-image's sample photos the benchmarks pan across (in its wheel: no download).
PHOTOS = ("coffee", "astronaut", "chelsea")


def photo(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """scikit-image's sample photo ``name`` (:data:`PHOTOS`, or another RGB one of ``skimage.data``), uint8 RGB,
    resized to ``size`` (w, h) if given."""
    from skimage import data

    load = getattr(data, name, None)
    if name.startswith("_") or not callable(load):
        raise ValueError(f"photo {name!r} is not in skimage.data; try {', '.join(PHOTOS)}")
    image = load()
    if size is not None:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


@contextmanager
def work_folder(keep: Path | None = None) -> Iterator[Path]:
    """``keep`` (made if missing, left in place), else a temporary folder removed on exit."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def pan_clip(folder: Path, photo_name: str, frames: int, size: tuple[int, int], fps: int = 24) -> Path:
    """``folder/pan_WxH.mp4``: ``frames`` frames panning and zooming across :func:`photo` ``photo_name``, with sound."""
    w, h = size
    return Path(
        write_pan_clip(folder / f"pan_{w}x{h}.mp4", photo(photo_name), frames=frames, width=w, height=h, fps=fps)
    )


def pan_frames(image: np.ndarray, size: tuple[int, int], count: int) -> list[np.ndarray]:
    """``count`` frames ``(h, w, 3)`` uint8 of the pan :func:`pan_clip` writes, without encoding them."""
    w, h = size
    return [pan_frame(image, i / max(count - 1, 1), w, h) for i in range(count)]
