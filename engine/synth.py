"""Synthetic pictures: soft clouds in a blue sky (DeepDream's seed: seeing things in clouds).

Pure NumPy; deterministic for a seed.
"""
from __future__ import annotations

import numpy as np


def _fractal_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 6, persistence: float = 0.55) -> np.ndarray:
    """Sum of bilinearly upsampled random grids, ``(H, W)`` float in ``[0, 1]``."""
    total = np.zeros((h, w), np.float64)
    amp, norm = 1.0, 0.0
    for i in range(octaves):
        cells = 2 ** (i + 2)
        gh, gw = cells + 2, int(cells * w / h) + 2
        grid = rng.random((gh, gw))
        ys = np.linspace(0, cells, h)
        xs = np.linspace(0, gw - 2, w)
        y0, x0 = ys.astype(int), xs.astype(int)
        fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
        fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
        a = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
        b = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
        total += amp * (a * (1 - fy) + b * fy)
        norm += amp
        amp *= persistence
    return total / norm


def clouds(height: int = 360, width: int = 640, seed: int = 0, width_scale: float = 1.0) -> np.ndarray:
    """A sky with soft white clouds, uint8 RGB ``(H, W, 3)``.

    ``width_scale`` > 1 draws a wider sky (for panning across it).
    """
    rng = np.random.default_rng(seed)
    w = int(round(width * width_scale))
    n = _fractal_noise(height, w, rng)
    cover = np.clip((n - 0.45) / 0.3, 0, 1) ** 1.5  # cloud density
    shade = _fractal_noise(height, w, rng, octaves=4)
    y = np.linspace(0, 1, height)[:, None, None]
    sky_top, sky_bottom = np.array([60, 110, 190.0]), np.array([150, 190, 235.0])
    sky = sky_top * (1 - y) + sky_bottom * y
    cloud = (235 - 55 * shade)[..., None] * np.array([1.0, 1.0, 1.02])
    img = sky * (1 - cover[..., None]) + cloud * cover[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)
