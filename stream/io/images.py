"""Still images in and out (OpenCV), as uint8 RGB ``(H, W, 3)``."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from engine.errors import SinkError, SourceError
from stream.io.image_header import HEAD_BYTES, image_size

WRITABLE = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Most pixels an input image may have (checked from its header before decoding): 100 MP, about
#: 300 MB decoded. A larger JPEG is decoded at 1/2, 1/4 or 1/8 of its size by the decoder itself.
MAX_PIXELS = 100_000_000
_REDUCED = ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))


NOISE = "noise"
NOISE_SIZE = (640, 360)


def noise_size(spec: str) -> tuple[int, int] | None:
    """``(W, H)`` for ``noise`` or ``noise:WxH``; None for anything else; bad sizes raise :class:`SourceError`."""
    text = str(spec).strip().lower()
    if text == NOISE:
        return NOISE_SIZE
    if not text.startswith(NOISE + ":"):
        return None
    try:
        w, h = (int(v) for v in text[len(NOISE) + 1:].split("x"))
    except ValueError:
        raise SourceError(f"input {spec!r} is not noise:WxH, e.g. noise:640x360") from None
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        raise SourceError(f"input {spec!r}: noise size {w}x{h} is out of range; allowed 32 to 4096 a side")
    return w, h


def read_image(path: str | os.PathLike[str], max_side: int | None = None, seed: int = 0) -> np.ndarray:
    """Read an image file as RGB; ``max_side`` shrinks it (area filter) so its long side fits.

    ``noise`` or ``noise:WxH`` is television static of that size (640x360 by default; ``seed``
    picks it), the seed's start for class dreams from nothing.
    """
    size = noise_size(str(path))
    if size is not None and not Path(path).exists():
        return _static(size, max_side, seed)
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"image {str(p)!r} does not exist" if not p.exists() else f"image {str(p)!r} is not a file")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, _decode_flag(p, data)) if data.size else None
    if img is None:
        raise SourceError(f"image {str(p)!r} is not a readable picture (PNG, JPEG, WebP, BMP, TIFF)")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if max_side and max(img.shape[:2]) > max_side:
        f = max_side / max(img.shape[:2])
        size = (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def _static(size: tuple[int, int], max_side: int | None, seed: int) -> np.ndarray:
    import torch

    from engine.colour import tv_static
    from engine.frames import to_image

    w, h = size
    if max_side and max(w, h) > max_side:
        f = max_side / max(w, h)
        w, h = max(1, round(w * f)), max(1, round(h * f))
    return to_image(tv_static(h, w, torch.Generator().manual_seed(seed)))
def _decode_flag(p: Path, data: np.ndarray) -> int:
    """The OpenCV decode flag for ``data``: full size, or reduced for a JPEG above MAX_PIXELS.

    Raises :class:`SourceError` for other images above MAX_PIXELS (a 1 MB PNG can hold 20000x20000).
    """
    head = data.tobytes() if data[:2].tobytes() == b"\xff\xd8" else data[:HEAD_BYTES].tobytes()
    size = image_size(head)
    if size is None or size[0] * size[1] <= MAX_PIXELS:
        return cv2.IMREAD_COLOR
    w, h = size
    if head.startswith(b"\xff\xd8"):
        for factor, flag in _REDUCED:
            if (w // factor) * (h // factor) <= MAX_PIXELS:
                return flag
    raise SourceError(f"image {str(p)!r} is {w}x{h} ({w * h / 1e6:.0f} megapixels); allowed: at most "
                      f"{MAX_PIXELS // 1_000_000} megapixels (shrink it first, or save it as JPEG)")


def check_not_input(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """Refuse an ``output`` that is the ``source`` file, by any name (symlink, hard link, ``../``)."""
    try:
        same = os.path.samefile(source, output)
    except OSError:  # one of them does not exist (yet)
        return
    if same:
        raise SinkError(f"output {str(output)!r} is the input {str(source)!r} (the same file); "
                        "write the dream to another file")


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
