"""The quality gate (``scripts/quality --fast --check``): the fast grid holds its recorded baseline, and a worse
setting fails it. Real dreams with the default model, judged by EfficientNet-Lite1."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from quality.gate import FAST, FAST_OVERRIDES, check  # noqa: E402
from quality.grid import run_grid, summarise  # noqa: E402
from quality.judge import Judge  # noqa: E402
from quality.measures import colour_variety, fine_detail, scene_kept, sky_kept  # noqa: E402
from quality.scenes import photo  # noqa: E402

from stream.settings.loader import load_config  # noqa: E402


def test_the_measures_see_a_kept_scene_a_greyed_picture_and_a_lost_sky() -> None:
    sky, face = photo("rocket", 320, 180), photo("grace_hopper", 320, 180)  # a launch under a dusk sky, a portrait
    assert scene_kept(face, face) == pytest.approx(1.0)
    assert scene_kept(np.full_like(face, 128), face) < 0.3  # the scene is gone
    assert scene_kept(np.ascontiguousarray(face[:, ::-1]), face) < 0.5  # another picture
    grey = np.repeat(sky.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    colourful = photo("astronaut", 320, 180)
    assert colour_variety(np.repeat(colourful[..., :1], 3, axis=2)) < 0.1 and colour_variety(colourful) > 10
    assert sky_kept(sky, sky) == 1.0 and sky_kept(grey, sky) == 0.0
    yellow = sky.copy()
    yellow[:, :160] = (230, 210, 60)  # a lemon over half the sky
    assert 0.3 < sky_kept(yellow, sky) < 0.7
    assert sky_kept(colourful, colourful) is None  # no sky to keep


def test_fine_detail_tells_a_sharp_residual_from_one_scaled_up() -> None:
    import cv2

    face = photo("grace_hopper", 320, 180)
    rng = np.random.default_rng(0)
    texture = rng.normal(0, 20, (180, 320, 1))  # a residual with detail at the pixel scale
    sharp = np.clip(face + texture, 0, 255).astype(np.uint8)
    small = cv2.resize(texture[..., 0], (80, 45), interpolation=cv2.INTER_AREA)
    soft = np.clip(face + cv2.resize(small, (320, 180), interpolation=cv2.INTER_LINEAR)[..., None] * 4, 0, 255)
    assert fine_detail(sharp, face) > 0.8 > 0.3 > fine_detail(soft.astype(np.uint8), face)  # measured 0.94, 0.21
    assert fine_detail(face, face) == 0.0


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge()


def fast_summary(lite0, judge: Judge, out: Path, modes: tuple[str, ...] | None = None, **overrides) -> list[dict]:
    cfg = load_config(overrides={**FAST_OVERRIDES, **overrides})
    grid = FAST if modes is None else dataclasses.replace(FAST, modes=modes)
    return summarise(run_grid(lite0, cfg, grid, judge, out))


@pytest.mark.slow
def test_the_fast_grid_holds_the_baseline(lite0, judge, tmp_path) -> None:
    assert check(fast_summary(lite0, judge, tmp_path)) == []


@pytest.mark.slow
def test_a_dream_that_erases_the_scene_fails_the_gate(lite0, judge, tmp_path) -> None:
    failures = check(fast_summary(lite0, judge, tmp_path, ("layer_clip",), **{"live.scene_limit": 1.0}), partial=True)
    assert any("scene_kept" in f for f in failures), failures


@pytest.mark.slow
def test_a_class_dream_that_loses_recognitions_fails_the_gate(lite0, judge, tmp_path) -> None:
    # colour 0: no colour probe per cell (30 steps each, most of this test's time); the 3 steps lose the classes
    failures = check(
        fast_summary(lite0, judge, tmp_path, ("still",), **{"class_dream.steps": 3, "class_dream.colour": 0.0}),
        partial=True,
    )
    assert any("recognitions" in f for f in failures), failures


@pytest.mark.slow
def test_a_changed_default_shows_in_the_gate(lite0, judge, tmp_path, monkeypatch) -> None:
    """The cells dream with the shipped defaults (``image`` itself reads config/default.yaml): a default changed there,
    here a class step a fifth as large, fails the gate without any override naming it."""
    from stream.settings import loader

    shipped = loader.read_preset

    def edited(name: str) -> dict:
        raw = shipped(name)
        if name == "default":
            raw = loader.merge(raw, {"class_dream": {"step_size": raw["class_dream"]["step_size"] / 5}})
        return raw

    monkeypatch.setattr(loader, "read_preset", edited)
    failures = check(fast_summary(lite0, judge, tmp_path, ("still",)), partial=True)
    assert any("recognitions" in f for f in failures), failures
