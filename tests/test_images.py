"""Reading pictures (stream/io/images.py, image_header.py): sizes from the header, huge ones refused or decoded
reduced."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (flat colour compresses to almost nothing)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" + b"\x80" * (width * 3)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.mark.slow
def test_a_huge_png_is_refused_from_its_header(tmp_path):
    """A 20000x20000 PNG of 1.2 MB is refused from its header, before it is decoded (that took 2.5 GB)."""
    from engine.errors import SourceError
    from stream.io.images import read_image

    path = _png_header_only(tmp_path / "huge.png", 20000, 20000)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"is 20000x20000 \(400 megapixels\); allowed: at most 100 megapixels"):
            read_image(path, max_side=640)
    finally:
        tracemalloc.stop()


def test_a_huge_jpeg_is_decoded_reduced(tmp_path):
    import cv2

    from stream.io import images

    img = np.zeros((400, 600, 3), np.uint8)
    img[:, :300] = 200
    cv2.imwrite(str(tmp_path / "big.jpg"), img)
    original = images.MAX_PIXELS
    images.MAX_PIXELS = 100_000  # 240000 pixels is "huge" here: decoded at half size
    try:
        out = images.read_image(tmp_path / "big.jpg")
    finally:
        images.MAX_PIXELS = original
    assert out.shape == (200, 300, 3)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tif"])
def test_image_header_sizes(ext):
    import cv2

    from stream.io.image_header import image_size

    ok, buf = cv2.imencode(ext, np.zeros((37, 53, 3), np.uint8))
    assert ok and image_size(buf.tobytes()) == (53, 37)
