"""Display rotation: a phone clip's stored pictures turned upright (and back), by quarter turns."""
from __future__ import annotations

import numpy as np


def quarter_turns(rotation: float | None) -> int:
    """A display rotation in degrees as counter-clockwise quarter turns 0..3 (np.rot90's ``k``)."""
    return round((rotation or 0) / 90) % 4


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """A stored ``(H, W, C)`` picture turned as its display matrix says (``rotation`` degrees counter-clockwise)."""
    k = quarter_turns(rotation)
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def stored(image: np.ndarray, rotation: int) -> np.ndarray:
    """The inverse of :func:`upright`: an upright picture turned back to how a file with ``rotation`` stores it."""
    k = quarter_turns(rotation)
    return np.ascontiguousarray(np.rot90(image, -k)) if k else image
