"""Still images in and out (OpenCV), as uint8 RGB ``(H, W, 3)``."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from engine.errors import SinkError, SourceError

WRITABLE = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def read_image(path: str | os.PathLike[str], max_side: int | None = None) -> np.ndarray:
    """Read an image file as RGB; ``max_side`` shrinks it (area filter) so its long side fits."""
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"image {str(p)!r} does not exist" if not p.exists() else f"image {str(p)!r} is not a file")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise SourceError(f"image {str(p)!r} is not a readable picture (PNG, JPEG, WebP, BMP, TIFF)")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if max_side and max(img.shape[:2]) > max_side:
        f = max_side / max(img.shape[:2])
        size = (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def check_output(path: str | os.PathLike[str]) -> Path:
    """Check that an image can be written at ``path`` (extension, folder) before any slow work."""
    p = Path(path)
    if p.is_dir():
        raise SinkError(f"output {str(p)!r} is a folder; give a file name such as {str(p / 'dream.png')!r}")
    if p.suffix.lower() not in WRITABLE:
        raise SinkError(f"output {str(p)!r} has an unsupported extension; use one of {', '.join(WRITABLE)}")
    parent = p.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise SinkError(f"cannot write {str(p)!r}: {str(parent)!r} {what}")
    return p


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write RGB ``image`` to ``path`` (format from the extension); returns the path."""
    p = check_output(path)
    ok, buf = cv2.imencode(p.suffix.lower(), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise SinkError(f"cannot encode {str(p)!r}")
    tmp = p.with_name(f".{p.name}.part")
    try:
        tmp.write_bytes(buf.tobytes())
        os.replace(tmp, p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"cannot write {str(p)!r}: {e.strerror or e}") from e
    return p
