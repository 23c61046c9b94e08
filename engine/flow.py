"""Optical flow, backward warping, occlusion masks and scene cuts for temporally stable video dreams.

Flows are ``(H, W, 2)`` float32 arrays of ``(dx, dy)`` pixel offsets as OpenCV returns them:
``compute_flow(a, b)`` is defined on ``a``'s grid and points into ``b``, so that
``a[y, x] ~ b[y + dy, x + dx]``. Backward warping with that flow brings ``b`` onto ``a``'s grid:
``warp(b, compute_flow(a, b)) ~ a``. Grey images are uint8 ``(H, W)``; tensors are ``(B, C, H, W)``.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from engine.errors import ConfigError

FLOW_METHODS = ("dis", "farneback")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class FlowEstimator:
    """Dense optical flow between grey frames; holds one reusable OpenCV DIS object.

    ``method``: ``"dis"`` (OpenCV DIS with ``preset`` ultrafast/fast/medium) or ``"farneback"``
    (``preset`` is ignored). Not thread-safe: use one estimator per thread.
    """

    def __init__(self, method: str = "dis", preset: str = "fast") -> None:
        if method not in FLOW_METHODS:
            raise ConfigError(f"flow method {method!r} is not one of {', '.join(FLOW_METHODS)}")
        if method == "dis" and preset not in DIS_PRESETS:
            raise ConfigError(f"flow preset {preset!r} is not one of {', '.join(DIS_PRESETS)}")
        self.method, self.preset = method, preset
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset]) if method == "dis" else None

    def __call__(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        """Flow ``(H, W, 2)`` float32 on ``prev_gray``'s grid pointing into ``next_gray`` (both uint8 ``(H, W)``)."""
        a, b = _gray(prev_gray), _gray(next_gray)
        if a.shape != b.shape:
            raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
        if self._dis is not None:
            return self._dis.calc(a, b, None)
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def compute_flow(prev_gray: np.ndarray, next_gray: np.ndarray, method: str = "dis", preset: str = "fast") -> np.ndarray:
    """One-off :class:`FlowEstimator` call: flow ``(H, W, 2)`` float32 from ``prev_gray`` into ``next_gray``."""
    return FlowEstimator(method, preset)(prev_gray, next_gray)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` -> uint8 grey ``(H, W)``."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = to_gray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 grey image, got {image.dtype}")
    return np.ascontiguousarray(image)


def flow_to_tensor(flow: np.ndarray | Tensor, device: torch.device | str | None = None) -> Tensor:
    """``(H, W, 2)`` array or ``(B, 2, H, W)`` tensor -> float ``(B, 2, H, W)`` tensor."""
    if isinstance(flow, np.ndarray):
        flow = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    if flow.ndim == 3:
        flow = flow.unsqueeze(0)
    return flow.to(device=device, dtype=torch.float32) if device is not None else flow.float()


def warp(image: Tensor, flow: np.ndarray | Tensor, mode: str = "bilinear") -> Tensor:
    """Backward warp: ``out[..., y, x] = image[..., y + dy, x + dx]``; edges repeat the border.

    ``image`` ``(B, C, H, W)``; ``flow`` ``(B, 2, H, W)`` tensor or ``(H, W, 2)`` array on the
    output grid. ``mode``: ``"bilinear"`` (exact for zero and whole-pixel flows) or ``"bicubic"``
    (``grid_sample``'s; blurs less when warped again and again, may overshoot slightly).
    """
    b, c, h, w = image.shape
    if mode == "bicubic" and b == 1 and image.device.type == "cpu" and image.dtype == torch.float32 and c <= 4:
        return _remap_cubic(image, flow)
    f = flow_to_tensor(flow, image.device).to(image.dtype)
    if f.shape[-2:] != (h, w):
        raise ValueError(f"flow {tuple(f.shape[-2:])} and image {(h, w)} differ in size")
    ys = torch.arange(h, device=image.device, dtype=image.dtype).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=image.dtype).view(1, 1, w)
    x = (xs + f[:, 0]).clamp(0, w - 1)
    y = (ys + f[:, 1]).clamp(0, h - 1)
    if mode == "bicubic":
        grid = torch.stack([x * (2.0 / max(w - 1, 1)) - 1.0, y * (2.0 / max(h - 1, 1)) - 1.0], dim=-1)
        return F.grid_sample(image, grid.expand(b, h, w, 2), mode="bicubic", padding_mode="border", align_corners=True)
    if mode != "bilinear":
        raise ValueError(f"warp mode {mode!r} is not bilinear or bicubic")
    x0 = x.floor().clamp(0, max(w - 2, 0))
    y0 = y.floor().clamp(0, max(h - 2, 0))
    fx, fy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    n = h * w
    idx = torch.stack([y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1], dim=1).view(-1, 1, 4 * n)
    corners = image.reshape(b, c, n).gather(2, idx.expand(b, c, 4 * n)).view(b, c, 4, h, w)
    top = corners[:, :, 0] + (corners[:, :, 1] - corners[:, :, 0]) * fx
    bottom = corners[:, :, 2] + (corners[:, :, 3] - corners[:, :, 2]) * fx
    return top + (bottom - top) * fy


#: Rows of the output :func:`_remap_cubic` computes at a time: its sampling maps stay a few MB at any width.
REMAP_ROWS = 256


def _remap_cubic(image: Tensor, flow: np.ndarray | Tensor) -> Tensor:
    """:func:`warp`'s bicubic mode for one float32 CPU image ``(1, C, H, W)``, through ``cv2.remap``.

    The same Keys kernel (a = -0.75) as ``grid_sample``'s bicubic with border padding, at
    1/32-pixel positions, about five times faster on the CPU. The sampling maps are built
    :data:`REMAP_ROWS` rows at a time, so a 4K frame needs no full-size maps or pixel grid.
    """
    h, w = image.shape[-2:]
    f = flow if isinstance(flow, np.ndarray) else flow.detach().cpu()[0].permute(1, 2, 0).numpy()
    if f.shape[:2] != (h, w):
        raise ValueError(f"flow {tuple(f.shape[:2])} and image {(h, w)} differ in size")
    src = np.ascontiguousarray(image.detach()[0].permute(1, 2, 0).numpy())
    out = np.empty_like(src)
    xs = np.arange(w, dtype=np.float32)
    for top in range(0, h, REMAP_ROWS):
        rows = f[top:top + REMAP_ROWS]
        ys = np.arange(top, top + len(rows), dtype=np.float32)[:, None]
        map_x = np.clip(xs + rows[..., 0], 0, w - 1).astype(np.float32, copy=False)
        map_y = np.clip(ys + rows[..., 1], 0, h - 1).astype(np.float32, copy=False)
        band = cv2.remap(src, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        out[top:top + len(rows)] = band.reshape(len(rows), w, -1)
    return torch.from_numpy(out).permute(2, 0, 1).unsqueeze(0).contiguous()


def upscale_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow ``(h, w, 2)`` resized to ``size = (H, W)``, its vectors scaled with it: ``(H, W, 2)``."""
    h, w = flow.shape[:2]
    if (h, w) == size:
        return flow
    up = cv2.resize(flow, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    up *= np.array([size[1] / w, size[0] / h], np.float32)
    return up


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(xs, ys)``, float32 ``(H, W)`` each (read-only, cached)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def occlusion_mask(fwd: np.ndarray, bwd: np.ndarray, motion_edges: bool = False) -> np.ndarray:
    """Unreliable pixels of ``fwd`` by the forward-backward check: float32 ``(H, W)``, 1 = unreliable.

    ``fwd`` ``(H, W, 2)`` is defined on frame A pointing into B, ``bwd`` on B pointing into A.
    With ``v = bwd`` sampled at ``p + fwd(p)``, a pixel is unreliable (occluded in B, or its flow
    is wrong) when ``|fwd + v|^2 >= 0.01 (|fwd|^2 + |v|^2) + 0.5``, or when it maps outside B.
    ``motion_edges`` also marks motion boundaries, ``|grad u|^2 + |grad v|^2 >= 0.01 |fwd|^2 + 0.002``.
    """
    h, w = fwd.shape[:2]
    xs, ys = _grid(h, w)
    u, v = fwd[..., 0], fwd[..., 1]
    map_x, map_y = xs + u, ys + v
    back = cv2.remap(
        np.ascontiguousarray(bwd, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    bu, bv = back[..., 0], back[..., 1]
    fwd_sq = u * u + v * v
    lhs = cv2.magnitude(u + bu, v + bv) ** 2
    rhs = 0.01 * (fwd_sq + bu * bu + bv * bv) + 0.5
    bad = lhs >= rhs
    bad |= (map_x < -0.5) | (map_x > w - 0.5) | (map_y < -0.5) | (map_y > h - 0.5)
    if motion_edges:
        grad = np.zeros((h, w), np.float32)
        for c in (u, v):
            gy, gx = np.gradient(c)
            grad += gx * gx + gy * gy
        bad |= grad >= 0.01 * fwd_sq + 0.002
    return bad.astype(np.float32)


def cut_score(prev_gray: np.ndarray, next_gray: np.ndarray, bins: int = 32) -> float:
    """How different two frames' tone distributions are, in ``[0, 1]``: Bhattacharyya distance of grey histograms.

    Near 0 for a pan or zoom over one scene; a hard cut between unlike scenes gives 0.3 to 1.
    """
    a, b = _gray(prev_gray), _gray(next_gray)
    ha = cv2.calcHist([a], [0], None, [bins], [0, 256])
    hb = cv2.calcHist([b], [0], None, [bins], [0, 256])
    return float(np.clip(cv2.compareHist(ha, hb, cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def scene_cut(prev_gray: np.ndarray, next_gray: np.ndarray, threshold: float = 0.25) -> bool:
    """Whether ``next_gray`` starts a new scene: :func:`cut_score` at or above ``threshold``."""
    return cut_score(prev_gray, next_gray) >= threshold


def warping_error(prev: Tensor, cur: Tensor, flow: np.ndarray | Tensor, unreliable: np.ndarray | Tensor) -> float:
    """Mean over reliable pixels and channels of ``(cur - warp(prev, flow))^2``.

    ``prev``, ``cur`` ``(1, C, H, W)`` in ``[0, 1]``; ``flow`` on ``cur``'s grid pointing into
    ``prev``; ``unreliable`` ``(H, W)``, 1 = left out. NaN when no pixel is reliable.
    """
    mask = torch.as_tensor(unreliable, device=cur.device).float()
    keep = (1.0 - mask).view(1, 1, *mask.shape)
    n = float(keep.sum()) * cur.shape[1]
    if n == 0:
        return float("nan")
    diff = (cur - warp(prev, flow)).square() * keep
    return float(diff.sum()) / n
