"""The scene stays under the live dream (a bound on its coarse part) and class colours go only where it draws."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from live_settings import live_dream_settings

from engine.colour import activity, colour_pull, luminance, mix_ramps
from engine.dream import DreamSettings
from engine.errors import ConfigError
from engine.filters import lowpass
from engine.live_dream import SCENE_SIDE, bound_coarse
from engine.models.registry import build_model
from stream.io.class_colours import class_colours
from stream.live.stage import DreamStage, scene_bound
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.live import LiveSettings, live_temporal
from stream.settings.loader import load_config

BANANA, GOLDFISH, ZEBRA = 954, 1, 340
YELLOW = torch.tensor([0.12, 0.05, -0.3])  # chroma (colour minus luma) of a yellow


def test_the_scene_bound_limits_the_coarse_part_and_keeps_the_detail() -> None:
    h, w = 216, 384
    y = torch.linspace(-1, 1, h).view(1, 1, h, 1)
    big = 0.3 * y.expand(1, 3, h, w)  # a dark-to-light ramp: moves the whole scene
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    detail = (0.1 * (1 - 2 * ((yy + xx) % 2))).float().expand(1, 3, h, w)  # pixel-scale texture, no coarse part
    out = bound_coarse(big + detail, 0.05)
    factor = max(h, w) // SCENE_SIDE
    assert float(lowpass(out, factor).abs().max()) <= 0.05 + 0.01  # the scene moved at most the bound
    kept = (out - lowpass(out, factor)) - (detail - lowpass(detail, factor))
    assert float(kept.abs().mean()) < 0.01  # the texture is untouched
    assert torch.equal(bound_coarse(torch.zeros(1, 3, 8, 8), 0.05), torch.zeros(1, 3, 8, 8))
    orange = torch.tensor([0.3, -0.05, -0.5]).view(1, 3, 1, 1)  # a colour shift with almost no brightness
    orange = (orange - luminance(orange)).expand(1, 3, h, w)
    assert torch.allclose(bound_coarse(orange, 0.05), orange, atol=1e-6)  # a class's colours may fill an object


def test_strength_above_one_lets_the_dream_take_over_and_settings_check_the_bound() -> None:
    assert scene_bound(0.05, 1.0) == pytest.approx(0.05)
    assert scene_bound(0.05, 0.5) < 0.05 and 0.15 < scene_bound(0.05, 1.5) <= 1.0
    assert scene_bound(0.5, 1.5) == 1.0
    with pytest.raises(ConfigError, match="live.scene_limit: 1.5 is out of range"):
        load_config(overrides={"live.scene_limit": 1.5})
    ls = LiveSettings()
    layer, klass = live_temporal(load_config().section("video"), ls), live_temporal(load_config().section("video"), ls,
                                                                                     for_class=True)
    assert (layer.limit, layer.scene_limit) == (ls.limit, ls.scene_limit)
    assert (klass.limit, klass.scene_limit) == (ls.class_limit, ls.class_scene_limit)
    assert layer.scene_limit < klass.scene_limit  # a class may draw larger objects


def test_activity_is_where_the_dream_drew_and_nothing_where_it_did_not() -> None:
    gen = torch.Generator().manual_seed(1)
    residual = torch.zeros(1, 3, 64, 96)
    residual[..., 8:32, 8:40] = 0.4 * (torch.rand(1, 3, 24, 32, generator=gen) - 0.5)
    act = activity(residual)
    assert float(act[..., 16:24, 16:32].mean()) > 0.5
    assert float(act[..., 48:, 60:].max()) == 0.0  # untouched: no pull at all
    assert float(activity(torch.zeros(1, 3, 64, 96)).max()) == 0.0  # no dream, no colour
    faint = 0.01 * (torch.rand(1, 3, 64, 96, generator=gen) - 0.5)
    assert float(activity(faint).max()) < 0.1  # a faint texture everywhere is not an object


def test_the_pull_turns_drawn_pixels_toward_the_class_hue_never_greys_them_or_the_rest() -> None:
    gen = torch.Generator().manual_seed(2)
    sky = torch.full((1, 3, 64, 96), 0.55) + torch.tensor([-0.2, -0.02, 0.25]).view(1, 3, 1, 1)  # blue
    residual = torch.zeros_like(sky)
    blobs = 0.5 * (torch.rand(1, 3, 8, 12, generator=gen) - 0.5)  # drawn shapes, 4 px across
    residual[..., 16:48, 24:72] = torch.nn.functional.interpolate(blobs, size=(32, 48), mode="nearest")
    x = (sky + residual).clamp(0, 1)
    ramp = 0.5 * YELLOW.expand(5, 3)  # a faint yellow
    pulled = x
    for _ in range(20):  # as over a dream's steps
        pulled = pulled + colour_pull(pulled, residual, ramp, 0.3)
    assert float(luminance(pulled - x).abs().max()) < 1e-5  # shading untouched
    assert torch.equal(pulled[..., :8, :8], x[..., :8, :8])  # the sky away from the drawing stays blue
    chroma = lambda im: (im - luminance(im))[..., 24:40, 32:64]  # noqa: E731
    before, after = chroma(x), chroma(pulled)
    assert float(after[:, 2].mean()) < -0.05 < 0.05 < float(before[:, 2].mean())  # blue turned yellow
    assert float(after.norm(dim=1).mean()) >= 0.75 * float(before.norm(dim=1).mean())  # and is not greyed
    grey = colour_pull(x, residual, torch.zeros(5, 3), 0.5)
    assert float(grey.abs().max()) < 1e-6  # a grey class leaves the colours alone


def test_two_classes_mix_their_colours_by_weight() -> None:
    a, b = torch.ones(5, 3), torch.zeros(5, 3)
    assert torch.allclose(mix_ramps([a, b], [0.75, 0.25]), torch.full((5, 3), 0.75))


def test_the_class_colour_table_ships_and_knows_bananas_are_yellow_and_goldfish_orange() -> None:
    table = class_colours("efficientnet_lite0")
    assert table is not None and table.shape == (1000, 5, 3)
    assert torch.isfinite(table).all()
    banana, goldfish = table[BANANA].mean(0), table[GOLDFISH].mean(0)
    assert banana[2] < -0.02 and banana[0] > banana[2] and banana[1] > banana[2]  # yellow: red and green over blue
    assert goldfish[0] > 0.02 and goldfish[0] > goldfish[2]  # orange: red over blue
    assert class_colours("no_such_model") is None


def test_the_live_stage_gives_a_class_its_colours_at_once_from_the_table() -> None:
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0").eval()
    limits = ChatLimits(user_cooldown_s=0.0, global_cooldown_s=0.0)
    board = ControlBoard(LiveControls(layer="block9", octaves=1), limits)
    table = torch.zeros(1000, 5, 3)
    table[BANANA] = YELLOW
    settings = DreamSettings(octaves=1, steps=1, crops=1, crop_size=64, colour=0.1)
    stage = DreamStage(
        model,
        DreamSettings(octaves=1, steps=1),
        settings,
        live_dream_settings(dream_scale=0.5, scene_limit=1.0),
        board,
        class_live=live_dream_settings(dream_scale=0.5, scene_limit=0.2),
        class_colours=table,
    )
    frame = np.full((48, 64, 3), 128, np.uint8)
    stage(frame)
    assert stage.live_dream.settings.scene_limit == 1.0  # the layer dream's own bound (here: off)
    board.replace(target=BANANA, target_name="banana")
    stage(frame)
    dreamer = stage.live_dream.dreamer
    assert torch.equal(dreamer.ramps[dreamer.objective.name], YELLOW.expand(5, 3))
    assert not stage.live_dream.probing  # no probe: the first class frame already dreams
    assert stage.live_dream.settings.scene_limit == pytest.approx(0.2)
