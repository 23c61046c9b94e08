"""Chat commands that change how the live stage dreams: ``!preset`` and ``!strength``.

Each test drives the real :class:`CommandCenter` and the real :class:`DreamStage` (a frozen
random Lite0: only the settings the stage hands its dreamer are checked, no pixels).
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
from live_settings import live_dream_settings

from engine.dream import DreamSettings
from engine.models.registry import build_model
from stream.chat import ChatMessage, CommandCenter
from stream.live.stage import DreamStage
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.loader import load_config

STARTED = DreamSettings(octaves=2, steps=4, step_size=0.02, jitter=2)  # what the stage was built with
STARTED_CLASS = dataclasses.replace(STARTED, steps=6, step_size=0.03, crops=1)
TEMPORAL = live_dream_settings(steps_per_frame=2, dream_scale=1.0)


@pytest.fixture(scope="module")
def random_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("efficientnet_lite0").eval()


def boss(text: str) -> ChatMessage:
    return ChatMessage("b1", "boss", text, is_broadcaster=True)


def viewer(text: str) -> ChatMessage:
    return ChatMessage("v1", "ann", text)


def live(random_model, **limits) -> tuple[ControlBoard, CommandCenter, DreamStage]:
    lim = ChatLimits(user_cooldown_s=0.0, global_cooldown_s=0.0, **limits)
    board = ControlBoard(LiveControls(layer="block9", octaves=2), lim)
    return board, CommandCenter(board, lim), DreamStage(random_model, STARTED, STARTED_CLASS, TEMPORAL, board)


def dreamed(stage: DreamStage) -> DreamSettings:
    stage.apply()
    return stage.live_dream.dreamer.settings


def test_preset_command_loads_the_preset_into_the_stage(random_model):
    """Regression: ``!preset default`` replied "preset set" and the stage kept its own settings."""
    _board, center, stage = live(random_model, max_octaves=3)
    assert dreamed(stage).step_size == STARTED.step_size
    assert center.handle(boss("!preset default"), 0.0) == ["@boss preset set to default"]
    default = load_config("default")
    got = dreamed(stage)
    assert (got.steps, got.step_size, got.jitter) == (default.dream.steps, default.dream.step_size,
                                                      default.dream.jitter)
    assert got.octaves == 3  # the preset's 4 octaves, within chat.max_octaves
    center.handle(viewer("!dream goldfish"), 1.0)
    got = dreamed(stage)
    assert (got.step_size, got.smooth, got.decorrelate, got.crops) == (
        default.class_dream.step_size, default.class_dream.smooth, default.class_dream.decorrelate,
        default.section("live").class_crops)  # the live class settings, as at the start of `live`
    assert center.handle(boss("!reset"), 2.0)[0].endswith("back to the start settings, queue cleared")
    assert dreamed(stage).step_size == STARTED.step_size


def test_a_preset_that_does_not_load_changes_nothing(random_model):
    board, center, stage = live(random_model, allowed_presets=("default", "nosuch"))
    before = board.snapshot()
    assert center.handle(boss("!preset nosuch"), 0.0) == ["@boss can't switch preset to nosuch now"]
    assert board.snapshot() == before and dreamed(stage).step_size == STARTED.step_size


@pytest.mark.parametrize("strength, steps, per_frame", [(1.0, 4, 2), (1.5, 6, 3), (0.5, 2, 1), (0.25, 1, 1)])
def test_strength_scales_steps_and_step_size(random_model, strength, steps, per_frame):
    """Regression: ``!strength`` (documented: steps and step size) scaled only the step size."""
    _board, center, stage = live(random_model)
    assert center.handle(viewer(f"!strength {strength}"), 0.0) == [f"@ann strength set to {strength:g}"]
    got = dreamed(stage)
    assert got.step_size == pytest.approx(STARTED.step_size * strength)
    assert got.steps == steps  # rounded down, at least 1: never more than strength times the cost
    assert stage.live_dream.settings.steps_per_frame == per_frame
    assert "steps and step size" in center.handle(viewer("!strength"), 10.0)[0]


@pytest.mark.slow
def test_live_preset_keeps_the_command_line_flags_on_top(monkeypatch, caplog, capsys):
    """``live``'s !preset loads the preset under the same --config file and flags (here --steps 1)."""
    import io
    import logging

    from test_live import FAST

    from stream.cli.main import main

    caplog.set_level(logging.INFO)
    monkeypatch.setattr("sys.stdin", io.StringIO("!strength 0.5\n!preset default\n"))
    rc = main(["live", "--input", "testsrc", "--output", "null", "--control", "stdin", "--duration", "3", *FAST])
    assert rc == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("now dreaming")]
    assert any("preset default" in line for line in lines), lines
    assert "@console preset set to default" in capsys.readouterr().err
    assert all("steps 1," in line for line in lines), lines  # --steps 1 stays (the preset alone has 10)
