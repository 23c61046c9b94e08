"""The delivered size: what the reader and the live inputs resize to when one or both sides are asked."""
from __future__ import annotations


def fit_size(width: int | None, height: int | None, src_w: int, src_h: int) -> tuple[int, int]:
    """Delivered size: as requested; one side given keeps the aspect ratio (even); none: native."""
    if width and height:
        return width, height
    if width:
        return width, max(2, round(src_h * width / src_w / 2) * 2)
    if height:
        return max(2, round(src_w * height / src_h / 2) * 2), height
    return src_w, src_h
