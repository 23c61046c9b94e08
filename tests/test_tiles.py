"""Tiled dreaming (engine/tiles.py): bounded windows, seamless cuts, the full image's gradient scale."""
from __future__ import annotations

import itertools

import pytest
import torch

from engine.dream import Dreamer, DreamSettings
from engine.filters import roll
from engine.frames import to_tensor
from engine.models.registry import get_spec
from engine.objectives import layer
from engine.tiles import TILE_MARGIN, tile_bounds, tiled_grad


@pytest.mark.parametrize("length", [1, 100, 512, 513, 700, 1023, 2160, 3840])
@pytest.mark.parametrize("offset", [-0.5, -0.3, 0.0, 0.25, 0.49])
def test_tile_bounds_cover_without_slivers(length, offset):
    tile = 512
    pieces = tile_bounds(length, tile, offset)
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(a == b for (_, a), (b, _) in itertools.pairwise(pieces))  # contiguous, no overlap
    assert all(b - a <= tile for a, b in pieces)
    if length > tile:
        assert min(b - a for a, b in pieces) >= tile // 4


def test_cuts_move_with_the_offset():
    cuts = {tuple(a for a, _ in tile_bounds(2000, 512, o)) for o in (-0.4, -0.1, 0.2, 0.45)}
    assert len(cuts) == 4


@pytest.mark.parametrize("shift", [(0, 0), (5, -7), (-16, 16), (149, 229)])
def test_a_shifted_grid_is_the_rolled_images_grid_rolled_back(shift):
    """The jitter's roll is gathered window by window (no rolled copy of a 4K frame): the same gradient exactly."""

    def grad_fn(w):  # depends on the whole window, as a model's gradient does
        return w * w.mean() + w.flip(-1), float(w.mean())

    x = torch.rand(1, 3, 150, 230, generator=torch.Generator().manual_seed(0))
    dy, dx = shift
    got, loss = tiled_grad(grad_fn, x, 64, 8, torch.Generator().manual_seed(1), shift=shift)
    rolled, rolled_loss = tiled_grad(grad_fn, roll(x, dy, dx), 64, 8, torch.Generator().manual_seed(1))
    assert torch.equal(got, roll(rolled, -dy, -dx)) and loss == rolled_loss


@pytest.mark.slow
def test_a_large_image_is_dreamed_in_bounded_windows(lite0, photo):
    """The model never sees more than a tile plus its margin, whatever the image size."""
    seen: list[tuple[int, int]] = []
    real = lite0.features

    def spy(x, layers):
        seen.append(tuple(x.shape[-2:]))
        return real(x, layers)

    lite0.features = spy
    try:
        x = to_tensor(photo, torch.device("cpu"))  # 400 x 600
        d = Dreamer(lite0, layer(get_spec("efficientnet_lite0").default_layer), DreamSettings(tile_size=160))
        y, loss = d.step(x)
    finally:
        del lite0.features
    assert y.shape == x.shape and loss > 0
    assert len(seen) >= 6
    assert set(seen) == {(160 + 2 * TILE_MARGIN,) * 2}  # one window shape: kernels are set up once


def test_small_images_are_not_tiled(lite0, photo):
    x = to_tensor(photo, torch.device("cpu"))
    spec = get_spec("efficientnet_lite0")
    a, _ = Dreamer(lite0, layer(spec.default_layer), DreamSettings(tile_size=0)).step(x)
    b, _ = Dreamer(lite0, layer(spec.default_layer), DreamSettings(tile_size=600)).step(x)
    assert torch.equal(a, b)


@pytest.mark.slow
def test_every_tile_has_the_full_images_gradient_scale(lite0, photo):
    """A tile's window is a fraction of the image: its mean objective's gradient is scaled back (no bright tiles)."""
    x = to_tensor(photo, torch.device("cpu"))
    d = Dreamer(lite0, layer(get_spec("efficientnet_lite0").default_layer), DreamSettings(tile_size=128))
    full, _ = d._grad(x)
    tiled, _ = tiled_grad(d._grad, x, 128, TILE_MARGIN, torch.Generator().manual_seed(1))
    for y0, y1 in ((0, 100), (150, 250), (300, 400)):
        for x0, x1 in ((0, 150), (225, 375), (450, 600)):
            ratio = tiled[..., y0:y1, x0:x1].square().mean().sqrt() / full[..., y0:y1, x0:x1].square().mean().sqrt()
            assert 0.33 < float(ratio) < 3.0, (y0, x0, float(ratio))


def test_the_default_tiles_only_frames_over_two_tiles(lite0, monkeypatch):
    """Tiles cost time (each window reads a margin of context): 1280x720 and smaller are dreamed whole."""
    import engine.dream

    class Tiled(Exception):
        pass

    def spy(*args, **kwargs):
        raise Tiled

    monkeypatch.setattr(engine.dream, "tiled_grad", spy)
    spec = get_spec("efficientnet_lite0")
    d = Dreamer(lite0, layer(spec.default_layer), DreamSettings(jitter=0))
    assert d.settings.tile_size == 768
    y, _ = d.step(torch.rand(1, 3, 720, 1280))
    assert y.shape == (1, 3, 720, 1280)
    with pytest.raises(Tiled):
        d.step(torch.rand(1, 3, 1080, 1920))
