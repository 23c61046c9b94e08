"""The product's pieces as the benchmarks set them up: the config and its model, the live control board, a clip
dreamed as ``dreamstream video`` dreams it (:mod:`bench.models` has the model alone)."""
from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.dream import Dreamer, DreamSettings
from engine.imagenet import display_name
from engine.models.registry import DreamModel
from engine.objectives import Objective
from engine.temporal import TemporalDreamer, TemporalSettings
from stream.io.dreaming import load_model
from stream.io.video import VideoReader, VideoWriter
from stream.live.build import initial_controls
from stream.render.video import dream_video
from stream.settings.controls import ControlBoard
from stream.settings.loader import Config, load_config


def config_and_model(overrides: Mapping[str, Any] | None = None) -> tuple[Config, DreamModel, torch.device]:
    """The default config with ``overrides`` (``{"section.key": value}``) and its model, loaded as the CLI loads it."""
    cfg = load_config(overrides=dict(overrides or {}))
    model, device = load_model(cfg.model)
    return cfg, model, device


def live_board(cfg: Config, target: int | None = None, **limits: Any) -> ControlBoard:
    """The live controls ``cfg`` starts with, under chat limits that allow the config's octaves (and ``limits``),
    dreaming ImageNet class ``target`` as chat's ``!dream`` does (None: the layer dream)."""
    chat = dataclasses.replace(cfg.section("chat"), max_octaves=cfg.dream.octaves, **limits)
    board = ControlBoard(initial_controls(cfg), chat)
    if target is not None:
        board.replace(target=target, target_name=display_name(target))
    return board


def dream_clip(model: DreamModel, objective: Objective, settings: DreamSettings, temporal: TemporalSettings,
               clip: Path, out: Path) -> dict[str, Any]:
    """``clip`` dreamed into ``out`` as ``dreamstream video`` does (crf 18, its sound copied); the frame times.

    ``s_per_frame`` is wall time over frames (decode, dream, encode), ``s_median`` the median frame,
    ``s_per_warm_frame`` the median of the carried ("warm") frames, ``s_first_frame`` the first one.
    """
    dreamer = Dreamer(model, objective, settings)
    with VideoReader(clip) as reader, VideoWriter(out, reader.info, crf=18, audio_from=clip) as writer:
        run = dream_video(reader, writer, TemporalDreamer(dreamer, temporal))
    warm = [s for kind, s in run.frame_seconds if kind == "warm"]
    return {
        "frames": run.frames,
        "s_per_frame": run.seconds_per_frame,
        "s_median": statistics.median(s for _, s in run.frame_seconds),
        "s_per_warm_frame": statistics.median(warm) if warm else None,
        "s_first_frame": run.frame_seconds[0][1],
        "kinds": dict(run.kinds),
    }
