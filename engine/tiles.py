"""Tiled gradients: the model sees a large image in bounded pieces, so memory does not grow with size.

The gradient of a large image ``(1, 3, H, W)`` is computed tile by tile, as Google's DeepDream
notebook and neural-dream do. Each tile is read with a ``margin`` of context on every side and
only its inner part is kept, and the tile grid moves by a random offset at every step, so no
tile edge stays in one place long enough to show as a seam. Peak memory is that of one tile's
forward and backward pass plus a few full-size float images (about 100 MB each at 3840x2160).
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
from torch import Tensor

#: Pixels of context read around each tile (the inner part alone is kept): no edge effects at the cuts.
TILE_MARGIN = 32
#: Images of more than this many tiles' pixels are tiled: below it the windows' margins and their overlap
#: at the image's edges cost more time than the memory saved is worth (1280x720 with tiles of 768 took
#: 0.36 against 0.25 s a step whole; ``scripts/bench_tiles.py``).
TILED_ABOVE_TILES = 2
#: Gradient of a scalar objective with respect to a tile ``(1, 3, h, w)``: ``(grad, loss)``.
GradFn = Callable[[Tensor], tuple[Tensor, float]]


def needs_tiles(h: int, w: int, tile: int) -> bool:
    """Whether an ``h`` x ``w`` image gets its gradient in tiles of ``tile`` pixels (0 = never)."""
    return tile > 0 and h * w > TILED_ABOVE_TILES * tile * tile


def tile_bounds(length: int, tile: int, offset: float) -> list[tuple[int, int]]:
    """Split ``0..length`` into pieces of at most ``tile`` pixels whose cuts move with ``offset``.

    ``offset`` in ``[-0.5, 0.5)`` shifts every inner cut by that fraction of a piece, so the first
    and last pieces are between half and one and a half pieces long (never a sliver). With
    ``length <= tile`` the whole length is one piece. Returns ``[(start, stop), ...]`` covering
    ``0..length`` without overlap.
    """
    if length <= tile:
        return [(0, length)]
    n = -(-length // tile)  # pieces of at most ``tile`` on average
    piece = length / n
    shift = offset * piece
    cuts = [0] + [round(k * piece + shift) for k in range(1, n)] + [length]
    # An end piece longer than ``tile`` (up to 1.5 pieces) is split in two.
    out: list[tuple[int, int]] = []
    for a, b in pairwise(cuts):
        if b - a > tile:
            m = (a + b) // 2
            out += [(a, m), (m, b)]
        else:
            out.append((a, b))
    return out


def window(start: int, stop: int, length: int, size: int) -> tuple[int, int]:
    """The ``size``-pixel window (clipped to ``0..length``) centred on the piece ``start..stop``."""
    size = min(size, length)
    top = min(max(0, (start + stop - size) // 2), length - size)
    return top, top + size


def tiled_grad(grad_fn: GradFn, x: Tensor, tile: int, margin: int, gen: torch.Generator,
               shift: tuple[int, int] = (0, 0)) -> tuple[Tensor, float]:
    """The gradient of ``x`` ``(1, 3, H, W)`` assembled from tiles of at most ``tile`` pixels.

    ``grad_fn`` is called once per tile on a window of ``x`` of one fixed size, ``tile + 2 margin``
    pixels a side (less for a smaller image), centred on the tile and shifted inside the image at
    its borders: at least ``margin`` pixels of context around the tile except at the image's edge,
    and one input shape for the model (a new shape costs kernel set-up). The tile part of each
    window's gradient is kept. The grid's offset is drawn from ``gen``. Returns the full gradient
    ``(1, 3, H, W)`` (float32) and the mean objective over the windows.

    ``shift`` ``(dy, dx)``: the tiles are laid on ``x`` rolled by that many pixels (the dream's jitter),
    and the gradient comes back on ``x``'s own grid, as ``roll(tiled_grad(roll(x, dy, dx)), -dy, -dx)``
    but with no rolled copies of the full image: each window is gathered from ``x`` with wrap-around.
    """
    h, w = x.shape[-2:]
    dy, dx = shift
    oy, ox = (float(v) - 0.5 for v in torch.rand(2, generator=gen))
    grad = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    side = tile + 2 * margin
    losses: list[float] = []

    def rows(a: int, b: int) -> Tensor:  # rows a..b of the rolled image, in x
        return ((torch.arange(a, b, device=x.device) - dy) % h).view(-1, 1)

    def cols(a: int, b: int) -> Tensor:
        return ((torch.arange(a, b, device=x.device) - dx) % w).view(1, -1)

    for y0, y1 in tile_bounds(h, tile, oy):
        top, bottom = window(y0, y1, h, side)
        for x0, x1 in tile_bounds(w, tile, ox):
            left, right = window(x0, x1, w, side)
            g, loss = grad_fn(x[:, :, rows(top, bottom), cols(left, right)])
            # Objectives are means over their view: a window of a fraction of the image has its
            # gradient that much larger. Scaled back, every tile's gradient is on the full image's scale.
            share = (bottom - top) * (right - left) / (h * w)
            grad[:, :, rows(y0, y1), cols(x0, x1)] = g[:, :, y0 - top:y1 - top, x0 - left:x1 - left].float() * share
            losses.append(loss)
            del g
    return grad, sum(losses) / len(losses)
