"""The burned-in overlay: what is dreamed, who asked, how long it stays."""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

import cv2
import numpy as np

from stream.settings.controls import LiveControls


def draw_overlay(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``lines`` of text in a translucent box at the bottom left of a copy of ``image`` (RGB)."""
    if not lines:
        return image
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(0.35, min(1.0, h / 720))
    line_h = int(26 * scale) + 4
    box_h = line_h * len(lines) + 8
    box_w = min(w, int(max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines)) + 16)
    y0 = h - box_h
    roi = out[y0:h, 0:box_w]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        y = y0 + 4 + line_h * (i + 1) - 6
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text if 32 <= ord(ch) < 127)


def overlay_lines(controls: LiveControls, queue_len: int, now: float) -> list[str]:
    """On-stream text: what is dreamed, who asked, seconds left, queue length.

    Lines are printable ASCII (OpenCV's Hershey fonts draw nothing else), at most 60 chars.
    """
    if controls.target is not None:
        lines = [f"dreaming: {controls.target_name or controls.target}"]
    else:
        lines = [f"layer: {controls.layer}"]
    if controls.requested_by:
        names = ", ".join(controls.requested_by[:3]) + (" +" if len(controls.requested_by) > 3 else "")
        lines.append(f"asked by {names}")
    tail = []
    if controls.active_until is not None and math.isfinite(controls.active_until):
        tail.append(f"{max(0, math.ceil(controls.active_until - now))}s left")
    if queue_len:
        tail.append(f"{queue_len} waiting")
    if controls.locked:
        tail.append("chat locked")
    else:
        tail.append("!dream <class>  !layer <name>")
    lines.append(" | ".join(tail))
    out = []
    for line in lines:
        line = " ".join(_ascii(line).split())
        out.append(line if len(line) <= 60 else line[:57] + "...")
    return out
