"""An image's pixel size read from its header, before anything is decoded.

A small file can hold a huge picture (a 20000x20000 PNG of flat colour is about 1 MB and decodes
to 1.2 GB), so :func:`image_size` reads only the first bytes of PNG, JPEG, WebP, BMP and TIFF
files. It returns ``None`` when the header is not one of those or cannot be parsed; the decoder
then decides (OpenCV refuses more than 2**30 pixels by itself).
"""
from __future__ import annotations

import struct

#: Bytes read from the start of a file: enough for every header below but a JPEG's SOF marker,
#: which can follow a large EXIF block (read further by :func:`jpeg_size`).
HEAD_BYTES = 64 * 1024


def image_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header bytes ``head`` of an image file, or None."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            return jpeg_size(head)
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head.startswith(b"BM"):
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(head)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's first start-of-frame marker, or None if it is not in ``data``."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8 ":  # lossy: frame header after a 3-byte tag and the 3-byte start code
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":  # lossless: 14-bit width-1 and height-1 after the 0x2f signature
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    return None


def _tiff_size(head: bytes) -> tuple[int, int] | None:
    end = "<" if head[:2] == b"II" else ">"
    (ifd,) = struct.unpack(end + "I", head[4:8])
    (count,) = struct.unpack(end + "H", head[ifd:ifd + 2])
    size: dict[int, int] = {}
    for k in range(count):
        tag, kind, _, value = struct.unpack(end + "HHI4s", head[ifd + 2 + 12 * k:ifd + 14 + 12 * k])
        if tag in (256, 257):
            size[tag] = struct.unpack(end + ("H" if kind == 3 else "I"), value[:2] if kind == 3 else value)[0]
    return (size[256], size[257]) if len(size) == 2 else None
