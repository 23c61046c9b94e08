"""What the quality suite measures of a dream besides the judge's ranks: scene kept, colour variety, sky kept and
fine detail.

Images are uint8 RGB ``(H, W, 3)``; every figure is a plain float.
"""
from __future__ import annotations

import cv2
import numpy as np

#: The coarse structure is compared on the grey frame shrunk to this size (80x45 for 16:9).
COARSE_WIDTH = 80


def _coarse_grey(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    size = (COARSE_WIDTH, max(8, round(h * COARSE_WIDTH / w)))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float64)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images ``(h, w)`` in 0-255 (Gaussian window, sigma 1.5, as Wang et al. 2004)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def scene_kept(output: np.ndarray, source: np.ndarray) -> float:
    """Coarse structure kept: SSIM of the 80-pixel-wide grey output against its input frame (1 = all kept)."""
    return ssim(_coarse_grey(output), _coarse_grey(source))


def colour_variety(image: np.ndarray) -> float:
    """The spread of the picture's colours: ``hypot(std(a), std(b))`` of CIE Lab (a, b in Lab units)."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return float(np.hypot(lab[..., 1].std(), lab[..., 2].std()))


def sky_mask(image: np.ndarray) -> np.ndarray:
    """Where ``image`` is blue sky, ``(H, W)`` bool: a blue hue (190-250 degrees) with some saturation."""
    hsv = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    return (hsv[..., 0] >= 190) & (hsv[..., 0] <= 250) & (hsv[..., 1] >= 0.2) & (hsv[..., 2] >= 0.25)


def sky_kept(output: np.ndarray, source: np.ndarray) -> float | None:
    """The fraction of ``source``'s blue sky that is still blue sky in ``output`` (None: under a fifth of it is sky)."""
    sky = sky_mask(source)
    if sky.mean() < 0.2:
        return None
    return float((sky & sky_mask(output)).sum() / sky.sum())


#: The fine-detail share counts the residual's energy that a Gaussian of this sigma (pixels, at the output's size)
#: removes.
DETAIL_SIGMA = 2.0


def fine_detail(output: np.ndarray, source: np.ndarray) -> float:
    """The share of the dream residual's energy (grey output minus grey input) finer than a ``DETAIL_SIGMA``-pixel
    Gaussian at the output's size: 0 for a residual with no detail at the pixel scale, near 1 for pixel noise. A dream
    made small and scaled up to the stream's size has a low share however sharp it was where it was made."""
    residual = (cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).astype(np.float64)
                - cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float64))
    energy = float(np.mean(residual * residual))
    if energy == 0.0:
        return 0.0
    fine = residual - cv2.GaussianBlur(residual, (0, 0), DETAIL_SIGMA)
    return float(np.mean(fine * fine)) / energy
