"""The quality gate (``scripts/quality --fast --check``): the fast grid holds its recorded baseline, and a worse
setting fails it. Real dreams with the default model, judged by EfficientNet-Lite1."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from quality.gate import FAST, FAST_OVERRIDES, check  # noqa: E402
from quality.grid import run_grid, summarise  # noqa: E402
from quality.judge import Judge  # noqa: E402

from stream.settings.loader import load_config  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge()


def fast_summary(lite0, judge: Judge, out: Path, modes: tuple[str, ...] | None = None, **overrides) -> list[dict]:
    cfg = load_config(overrides={**FAST_OVERRIDES, **overrides})
    grid = FAST if modes is None else dataclasses.replace(FAST, modes=modes)
    return summarise(run_grid(lite0, cfg, grid, judge, out))


def test_the_fast_grid_holds_the_baseline(lite0, judge, tmp_path) -> None:
    assert check(fast_summary(lite0, judge, tmp_path)) == []


def test_a_dream_that_erases_the_scene_fails_the_gate(lite0, judge, tmp_path) -> None:
    failures = check(fast_summary(lite0, judge, tmp_path, ("layer_clip",), **{"live.scene_limit": 1.0}), partial=True)
    assert any("scene_kept" in f for f in failures), failures


def test_a_class_dream_that_loses_recognitions_fails_the_gate(lite0, judge, tmp_path) -> None:
    failures = check(fast_summary(lite0, judge, tmp_path, ("still",), **{"class_dream.step_size": 0.004}), partial=True)
    assert any("recognitions" in f for f in failures), failures
