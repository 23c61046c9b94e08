"""The live dream that builds up over frames, its colour prior, two-class targets, noise input, video's first frame."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import torch
from live_settings import live_dream_settings
from media import clip_frame
from torch import Tensor

from engine.colour import PROBE_GAIN, ColourProbe, colour_pull, colour_ramp, luminance, tv_static
from engine.dream import Dreamer, DreamSettings
from engine.errors import ConfigError, TargetError
from engine.filters import resize
from engine.frames import to_image, to_tensor
from engine.imagenet import display_name, find_class
from engine.live_dream import LiveDreamer, add_residual, flow_grey, soft_limit, upscale_flow
from engine.objectives import CROPS, layer
from engine.targets import TargetSyntaxError, TargetTerm, format_target, parse_target, target_objective
from engine.temporal import TemporalDreamer
from stream.io.images import read_image
from stream.settings.loader import load_config

SETTINGS = DreamSettings(octaves=1, steps=2, jitter=2, step_size=0.02)
BANANA, GOLDFISH, GOLDEN = 954, 1, 207


def still(n: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    return [clip_frame(0, width, height, "static")] * n


@pytest.fixture()
def dreamer(lite0: torch.nn.Module) -> Dreamer:
    return Dreamer(lite0, layer(lite0.spec.default_layer), SETTINGS)


def live(dreamer: Dreamer, **kw) -> LiveDreamer:
    base = dict(dream_scale=1.0, build_steps=2, step_scale=2.0, fade_frames=10)
    return LiveDreamer(dreamer, live_dream_settings(**{**base, **kw}))


# ------------------------------------------------------------------------------------- build-up


def test_a_still_scene_builds_up_then_stays_bounded(dreamer: Dreamer) -> None:
    ld = live(dreamer, flow="dis", limit=0.2, scene_limit=1.0)  # the overall bound alone
    strength, signed = [], []
    for frame in still(90):
        out = ld(frame).astype(np.float32)
        strength.append(ld.strength)
        signed.append(float((out - frame).mean()))
        assert float(ld.residual.abs().max()) <= 0.2 + 1e-6  # never past the limit
    assert ld.last_kind == "carry"
    assert strength[40] > 1.5 * strength[5] > 0  # it keeps growing while the scene holds still
    assert np.mean(strength[-10:]) <= 1.2 * np.mean(strength[50:60]) + 1e-3  # and levels off
    assert abs(np.mean(signed[-10:])) <= abs(np.mean(signed[40:50])) + 2.0  # no brightness drift


def test_steps_cycle_from_coarse_to_fine_then_over_all_scales() -> None:
    s = live_dream_settings(octave_scales=(1.0, 0.5, 0.25), build_steps=2)
    assert [s.scale_at(i) for i in range(9)] == [0.25, 0.25, 0.5, 0.5, 1.0, 1.0, 1.0, 0.5, 0.25]


def test_soft_limit_leaves_small_values_alone_and_never_passes_the_limit() -> None:
    x = torch.linspace(-2, 2, 401)
    y = soft_limit(x, 0.5)
    small = x.abs() <= 0.35
    assert torch.equal(y[small], x[small])
    assert float(y.abs().max()) <= 0.5 and bool((y[1:] >= y[:-1]).all())  # monotone
    assert float(soft_limit(torch.tensor([-1e4, 1e4]), 0.5).abs().max()) <= 0.5  # no cancellation far out


def test_a_cut_restarts_the_dream_and_unreliable_flow_restarts_it_there(dreamer: Dreamer) -> None:
    ld = live(dreamer)
    kinds = []
    for i in range(12):
        ld(clip_frame(i, pattern="cut"))
        kinds.append(ld.last_kind)
    assert kinds[0] == "start" and kinds[8] == "cut" and set(kinds[1:8]) == {"carry"}
    with pytest.raises(ConfigError, match="live.limit: 0.0 is out of range"):
        load_config(overrides={"live.limit": 0})


def test_the_live_flow_is_found_at_half_size_and_scaled_back_up() -> None:
    assert flow_grey(np.zeros((216, 384), np.uint8)).shape == (108, 192)
    assert flow_grey(np.zeros((48, 64), np.uint8)).shape == (48, 64)  # too small to shrink
    half = np.zeros((108, 192, 2), np.float32)
    half[..., 0], half[..., 1] = 1.5, -0.5
    full = upscale_flow(half, (216, 384))
    assert full.shape == (216, 384, 2) and np.allclose(full[..., 0], 3.0) and np.allclose(full[..., 1], -1.0)


def test_the_residual_is_added_as_the_tensor_round_trip_would() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (36, 64, 3), dtype=np.uint8)
    residual = torch.from_numpy(rng.normal(0, 0.2, (1, 3, 18, 32)).astype(np.float32))
    out = add_residual(frame, residual)
    ref = to_image((to_tensor(frame) + resize(residual, (36, 64))).clamp(0, 1))
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - ref).max() <= 1


def test_the_dream_follows_a_pan_with_the_half_size_flow(dreamer: Dreamer) -> None:
    """At 256x200 the flow is found at 128x100; a 2 px/frame pan is carried, not restarted."""
    wide = cv2.resize(np.concatenate([clip_frame(0, 160, 100, "moving")] * 2, axis=1), (640, 200))
    ld = live(dreamer)
    for i in range(8):
        ld(np.ascontiguousarray(wide[:, 2 * i:2 * i + 256]))
        assert ld.last_kind in ("start", "carry")
    assert ld.flow_shape == (100, 128)
    assert ld.last_unreliable < 0.3 and ld.strength > 0


def test_a_target_change_fades_without_a_pop(dreamer: Dreamer) -> None:
    """The old dream gives way over fade_frames: a tenth is left, and no frame jumps."""
    ld = live(dreamer, fade_frames=10)
    frames = still(40)
    outs = [ld(f).astype(np.float32) for f in frames[:30]]
    before = ld.strength
    steady = np.median([np.abs(a - b).mean() for a, b in zip(outs[20:], outs[21:])])
    ld.retune(dataclasses.replace(ld.settings, steps_per_frame=0))  # watch the old dream alone
    ld.set_objective(layer("block4"))
    for f in frames[30:40]:
        outs.append(ld(f).astype(np.float32))
    assert ld.strength == pytest.approx(0.1 * before, rel=0.25)
    jumps = [np.abs(a - b).mean() for a, b in zip(outs[29:], outs[30:])]
    assert max(jumps) <= 0.25 * before * 255 + steady  # about a tenth of the dream a frame, never all of it
    assert max(jumps) > 0  # it does change


def test_the_dream_follows_a_pan(dreamer: Dreamer) -> None:
    wide = np.ascontiguousarray(np.concatenate([clip_frame(0, 96, 48, "moving")] * 2, axis=1))
    ld = live(dreamer)
    for i in range(20):
        ld(np.ascontiguousarray(wide[:, i:i + 64]))
        assert ld.last_kind in ("start", "carry")
    assert ld.last_unreliable < 0.3 and ld.strength > 0


# --------------------------------------------------------------------------------------- colour


def test_colour_ramp_reads_chroma_by_luminance_and_the_pull_keeps_luminance() -> None:
    y = torch.linspace(0.1, 0.9, 64).view(1, 1, 1, 64).expand(1, 1, 32, 64)
    yellow = torch.tensor([0.25, 0.1, -0.35]).view(1, 3, 1, 1)  # chroma of a yellow
    image = (y + yellow * (y > 0.3)).clamp(0, 1)
    ramp = colour_ramp(image, levels=5)
    assert ramp.shape == (5, 3) and ramp[-1, 2] < -0.1 < ramp[0, 2] + 0.05  # light levels are yellow
    blue = torch.full((1, 3, 32, 64), 0.5) + torch.tensor([-0.2, 0.0, 0.3]).view(1, 3, 1, 1)
    residual = torch.zeros_like(blue)
    residual[..., 8:24, 16:48] = torch.rand(1, 3, 16, 32, generator=torch.Generator().manual_seed(0)) - 0.5
    pull = colour_pull(blue, residual, ramp, 0.5)
    assert float(luminance(pull).abs().max()) < 1e-5  # shading untouched
    assert float(pull[..., 16, 32].abs().sum()) > 10 * float(pull[..., 2, 2].abs().sum())  # where the dream drew
    assert float(pull[0, 2, 16, 32]) < 0  # blue moves toward yellow


def test_the_probe_reads_the_colour_the_dream_painted_not_the_static() -> None:
    """A stand-in step that paints a warm orange where it draws: the ramp is that hue, times PROBE_GAIN; grey stays
    grey."""
    warm = torch.tensor([0.02, 0.0, -0.02]).view(1, 3, 1, 1)

    def paint(colour: Tensor) -> Callable[[Tensor], Tensor]:
        def step(x: Tensor) -> Tensor:
            spot = torch.zeros_like(x[:, :1])
            spot[..., x.shape[-2] // 4: x.shape[-2] // 2, x.shape[-1] // 4: x.shape[-1] // 2] = 1.0
            return (x + spot * (colour + 0.01)).clamp(0, 1)  # brighter, and coloured, in one spot
        return step

    probe = ColourProbe(48, 10, torch.Generator().manual_seed(0))
    while not probe.done:
        probe.advance(paint(warm))
    ramp = probe.ramp.mean(0)
    assert float(ramp[0]) > 0.02 and float(ramp[2]) < -0.02  # red up, blue down: orange, at more than the static's
    assert abs(float(ramp[0] + ramp[2])) < 0.5 * float(ramp[0])
    grey = ColourProbe(48, 10, torch.Generator().manual_seed(0))
    while not grey.done:
        grey.advance(paint(torch.zeros(1, 3, 1, 1)))
    assert float(grey.ramp.abs().max()) < 0.01  # the static's own colour noise is left out
    assert PROBE_GAIN > 1


def test_tv_static_is_grey_noise_and_seeded() -> None:
    a = tv_static(48, 64, torch.Generator().manual_seed(1))
    b = tv_static(48, 64, torch.Generator().manual_seed(1))
    assert a.shape == (1, 3, 48, 64) and torch.equal(a, b)
    assert 0.35 < float(a.mean()) < 0.65 and float(a.std()) > 0.15


# -------------------------------------------------------------------------------------- targets


def test_two_targets_with_weights_parse_in_one_place() -> None:
    assert parse_target("banana", find_class) == (TargetTerm(BANANA, 1.0),)
    assert parse_target("banana*0.7+goldfish", find_class) == (TargetTerm(BANANA, 0.7), TargetTerm(GOLDFISH, 1.0))
    assert parse_target(" 0.5 * golden retriever + banana ", find_class) == (
        TargetTerm(GOLDEN, 0.5),
        TargetTerm(BANANA, 1.0),
    )
    assert format_target(parse_target("banana*0.7+goldfish", find_class), display_name) == "banana (0.7) + goldfish"
    for bad, words in [("banana+goldfish+zebra", "at most 2"), ("banana*2", "out of range"), ("banana+", "empty"),
                       ("0.5*banana*0.5", "two weights"), ("", "empty")]:
        with pytest.raises(TargetSyntaxError, match=words):
            parse_target(bad, find_class)
    with pytest.raises(TargetError, match="nosuchthing"):
        parse_target("banana+nosuchthing", find_class)
    with pytest.raises(TargetSyntaxError, match="at most 1"):
        parse_target("banana+goldfish", find_class, max_terms=1)


def test_a_two_class_objective_weighs_the_logits() -> None:
    obj = target_objective(parse_target("banana*0.5+goldfish", find_class))
    logits = torch.zeros(2, 1000)
    logits[:, BANANA], logits[:, GOLDFISH] = 3.0, 6.0
    assert float(obj({CROPS: {"logits": logits}})) == pytest.approx((0.5 * 3 + 6) / 1.5)


def test_chat_dream_takes_two_weighted_classes_within_the_limits() -> None:
    from stream.chat import ChatMessage, CommandCenter
    from stream.settings.chat import ChatLimits
    from stream.settings.controls import ControlBoard, LiveControls

    lim = ChatLimits()
    board = ControlBoard(LiveControls(layer="block9"), lim)
    center = CommandCenter(board, lim)
    reply = center.handle(ChatMessage("v1", "viewer1", "!dream banana*0.7+goldfish"), 0.0)
    assert reply == ["@viewer1 now: banana (0.7) + goldfish for 45s"]
    assert board.get().target == (TargetTerm(BANANA, 0.7), TargetTerm(GOLDFISH, 1.0))
    reply = center.handle(ChatMessage("v2", "viewer2", "!dream banana+goldfish+zebra"), 5.0)
    assert len(reply) == 1 and "at most 2" in reply[0]
    one = ChatLimits(max_targets=1)
    board = ControlBoard(LiveControls(layer="block9"), one)
    reply = CommandCenter(board, one).handle(ChatMessage("v1", "viewer1", "!dream banana+goldfish"), 0.0)
    assert "at most 1" in reply[0] and board.get().target is None


# ---------------------------------------------------------------------------------------- noise


def test_noise_input_is_tv_static_of_the_asked_size() -> None:
    a = read_image("noise:64x48", seed=3)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, read_image("noise:64x48", seed=3)) and not np.array_equal(
        a, read_image("noise:64x48", seed=4)
    )
    assert read_image("noise").shape == (360, 640, 3)
    from engine.errors import SourceError

    for bad in ("noise:12x12", "noise:axb"):
        with pytest.raises(SourceError, match="noise"):
            read_image(bad)


@pytest.mark.slow
def test_image_noise_with_a_target_runs_from_the_cli(tmp_path, capsys) -> None:
    from stream.cli import main

    out = tmp_path / "banana.png"
    assert main(["image", "noise:96x64", str(out), "--target", "banana*0.7+goldfish", "--octaves", "1",
                 "--steps", "2"]) == 0
    image = read_image(out)
    assert image.shape == (64, 96, 3) and not np.array_equal(image, read_image("noise:96x64"))


# ------------------------------------------------------------------------------ video's frame 1


@pytest.mark.slow
def test_video_first_frame_is_no_stronger_than_the_frames_after_it(lite0: torch.nn.Module) -> None:
    cfg = load_config()
    settings = dataclasses.replace(cfg.section("video"), dream_scale=1.0)
    td = TemporalDreamer(Dreamer(lite0, layer(lite0.spec.default_layer), cfg.dream), settings)
    change = []
    for i in range(48):
        frame = clip_frame(i, 80, 48, "moving")
        change.append(float(np.abs(td(frame).astype(np.float32) - frame).mean()))
    assert change[0] > 1.0  # it dreams
    later = float(np.mean(change[1:48]))
    assert abs(change[0] - later) <= 0.25 * later, (change[0], later)
