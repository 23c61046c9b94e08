"""The cells of the quality grid: one dream each, made the way the product makes it.

Modes (``MODES``):

* ``still``: ``dreamstream image PHOTO OUT --target CLASS`` (the full octave class dream);
* ``noise``: ``dreamstream image noise OUT --target CLASS`` (from TV static);
* ``first``: the first frame of ``dreamstream video`` (the settled first frame);
* ``live_still`` and ``live_pan``: ``dreamstream live``'s dream stage on the photo held still or
  panned, the layer dream for ``WARMUP_S``, then a viewer's ``!dream CLASS`` through the real
  command layer; the frames ``at`` seconds after the request are kept. Seconds are dreamed
  frames at :data:`~quality.scenes.FPS` (the live rate goal): the ranks do not depend on the
  machine's speed or load (``scripts/bench_live.py`` measures the rate);
* ``layer_still``, ``layer_pan`` and ``layer_clip``: the live layer dream with no request (what every
  stream starts with), the last on the generated volcano timelapse.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.dream import Dreamer
from engine.frames import to_image, to_tensor
from engine.imagenet import find_class
from engine.models.registry import DreamModel
from engine.objectives import klass
from engine.temporal import TemporalDreamer
from stream.chat import ChatMessage, CommandCenter
from stream.io.images import read_image
from stream.live.build import dream_stage, initial_controls
from stream.live.stage import DreamStage
from stream.settings.controls import ControlBoard
from stream.settings.loader import Config

from .scenes import FPS, photo, scene

STILL_MODES = ("still", "noise", "first")
LIVE_MODES = ("live_still", "live_pan")
LAYER_MODES = ("layer_still", "layer_pan", "layer_clip")
MODES = STILL_MODES + LIVE_MODES + LAYER_MODES
WARMUP_S = 2.0  # layer dream before the viewer's request


@dataclass(frozen=True)
class Shot:
    """One kept picture of a cell: the dream, the input frame it was dreamed from, and when (live: s)."""

    image: np.ndarray
    source: np.ndarray
    at_s: float | None = None


def dream_still(model: DreamModel, cfg: Config, picture: np.ndarray, query: str) -> np.ndarray:
    """``image --target``: the class dream of ``picture`` uint8 RGB with ``cfg.class_dream``."""
    device = next(model.parameters()).device
    dreamer = Dreamer(model, klass(find_class(query)), cfg.class_dream)
    return to_image(dreamer.octaves(to_tensor(picture, device)))


def noise_picture(width: int, height: int, cfg: Config) -> np.ndarray:
    """The TV static ``image noise`` starts from."""
    return read_image(f"noise:{width}x{height}", seed=cfg.class_dream.seed)


def dream_first(model: DreamModel, cfg: Config, picture: np.ndarray, query: str) -> np.ndarray:
    """``video --target``'s first frame of a clip that starts with ``picture``."""
    dreamer = Dreamer(model, klass(find_class(query)), cfg.class_dream)
    temporal = TemporalDreamer(dreamer, cfg.section("video"))
    temporal.reseed(0)
    return temporal(picture)


def live_stage(model: DreamModel, cfg: Config) -> tuple[DreamStage, CommandCenter]:
    """The live dream stage and the chat command layer over one control board, as ``dreamstream live`` joins them."""
    board = ControlBoard(initial_controls(cfg), cfg.section("chat"))
    stage = dream_stage(model, cfg, board)
    return stage, CommandCenter(board, cfg.section("chat"))


def dream_live(model: DreamModel, cfg: Config, frames: Callable[[int], np.ndarray], query: str | None,
               at: tuple[float, ...]) -> list[Shot]:
    """The live stage on ``frames`` (frame ``i`` at :data:`FPS`); ``!dream query`` after :data:`WARMUP_S`
    (None: the layer dream alone, from the start). Keeps the output ``at`` seconds after the request."""
    torch.manual_seed(0)
    stage, center = live_stage(model, cfg)
    start = round(WARMUP_S * FPS) if query is not None else 0
    wanted = {start + round(t * FPS): t for t in at}
    shots = []
    try:
        for i in range(max(wanted)):
            if i == start and query is not None:
                reply = center.handle(ChatMessage("q1", "viewer", f"!dream {query}"), i / FPS)
                if stage.board.get().target is None:
                    raise RuntimeError(f"!dream {query} was not taken: {reply}")
            center.tick(i / FPS)
            frame = frames(i)
            out = stage(frame)
            if i + 1 in wanted:
                shots.append(Shot(out, frame, wanted[i + 1]))
    finally:
        stage.close()
    return shots


def run_cell(model: DreamModel, cfg: Config, mode: str, photo_name: str, query: str | None,
             size: tuple[int, int], at: tuple[float, ...]) -> list[Shot]:
    """The pictures of one cell: one for the still modes, one per ``at`` for the live ones."""
    w, h = size
    if mode == "still":
        picture = photo(photo_name, w, h)
        return [Shot(dream_still(model, cfg, picture, query), picture)]
    if mode == "noise":
        picture = noise_picture(w, h, cfg)
        return [Shot(dream_still(model, cfg, picture, query), picture)]
    if mode == "first":
        picture = photo(photo_name, w, h)
        return [Shot(dream_first(model, cfg, picture, query), picture)]
    if mode in LIVE_MODES:
        return dream_live(model, cfg, scene(photo_name, mode.split("_")[1], w, h), query, at)
    if mode in LAYER_MODES:
        kind = mode.split("_")[1]
        frames = scene("volcano", "clip", w, h) if kind == "clip" else scene(photo_name, kind, w, h)
        return dream_live(model, cfg, frames, None, at)
    raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
