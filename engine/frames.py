"""Conversions between uint8 RGB frames ``(H, W, 3)`` and float tensors ``(1, 3, H, W)`` in ``[0, 1]``."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """uint8 RGB ``(H, W, 3)`` -> float ``(1, 3, H, W)`` in ``[0, 1]``."""
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_image(x: Tensor) -> np.ndarray:
    """float ``(1, 3, H, W)`` in ``[0, 1]`` -> uint8 RGB ``(H, W, 3)`` (rounded, clipped)."""
    y = x.detach()[0].float().clamp(0, 1).mul_(255.0).round_().to(torch.uint8)
    return y.permute(1, 2, 0).cpu().numpy()
