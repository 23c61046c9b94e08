"""The cells of the quality grid: one dream each, made through the product's own paths with the shipped defaults.

Modes (``MODES``):

* ``still``: ``dreamstream image PHOTO OUT --target CLASS`` itself (the command, in this process);
* ``noise``: ``dreamstream image noise OUT --target CLASS`` (from TV static);
* ``first``: the first frame of ``dreamstream video --target CLASS`` (set up as the command sets it up);
* ``live_still`` and ``live_pan``: ``dreamstream live``'s dream stage, built as the command builds it
  (adaptive quality on), on the photo held still or panned: the layer dream for ``WARMUP_S``, then a
  viewer's ``!dream CLASS`` through the real command layer; the frames ``at`` seconds after the request
  are kept. Seconds are replayed, not measured: each dreamed frame counts the time it takes on a
  2-core machine alone (:data:`CADENCE`), and adaptive quality chooses its levels from those times, so
  a cell dreams what a streamer's machine dreams in that many seconds, and the same on every run;
* ``layer_still``, ``layer_pan`` and ``layer_clip``: the live layer dream with no request (what every
  stream starts with), the last on the photo panned and zoomed (a camera-like clip).

The suite's config is the shipped one (``config/default.yaml``) unless the run overrides keys
(``--set``, the fast grid's cheaper class steps): a changed default shows in every cell.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from engine.dream import Dreamer
from engine.models.registry import DreamModel
from engine.temporal import TemporalDreamer
from stream.chat import ChatMessage, CommandCenter
from stream.io.dreaming import build_objective
from stream.io.images import read_image
from stream.live.adaptive import Level
from stream.live.build import dream_stage, initial_controls
from stream.live.stage import DreamStage
from stream.settings.controls import ControlBoard
from stream.settings.loader import Config

from .scenes import Frames, photo, photo_file, scene

STILL_MODES = ("still", "noise", "first")
LIVE_MODES = ("live_still", "live_pan")
LAYER_MODES = ("layer_still", "layer_pan", "layer_clip")
MODES = STILL_MODES + LIVE_MODES + LAYER_MODES
WARMUP_S = 2.0  # layer dream before the viewer's request

#: Seconds a dreamed frame takes at adaptive level 0 on a 2-core machine alone, by kind (layer ``dream``,
#: ``class``), at 640x360 with the shipped defaults, as ``scripts/bench_live.py --target goldfish`` measures it:
#: 28 and 21 dreamed fps, the slower of the 2-core AMD EPYC figures measured in December 2026 (the class rate
#: was 20-25 there; on one session's faster EPYC both ran at the input's 30 fps). Other levels take ``Level.cost``
#: times as long. At 21 fps the class dream is within ``live.class_target_fps`` 20: adaptive quality keeps it at
#: level 0, as it does on such a machine. The replay prices levels, not settings: a run that makes a frame cost more
#: (a larger dream, more crops) is replayed at these rates all the same; measure it with bench_live.
CADENCE = {"dream": 1 / 28.0, "class": 1 / 21.0}


def replayed_seconds(kind: str, level: Level) -> float:
    """What a dreamed frame of ``kind`` at ``level`` takes on the reference machine (:data:`CADENCE`)."""
    return CADENCE[kind] * level.cost


@dataclass(frozen=True)
class Shot:
    """One kept picture of a cell: the dream, the input frame it was dreamed from, and when (live: s)."""

    image: np.ndarray
    source: np.ndarray
    at_s: float | None = None


def overrides_of(cfg: Config) -> dict:
    """``cfg`` as the nested YAML of what differs from the shipped defaults (what ``--config FILE`` gives)."""
    from stream.settings.loader import load_config

    shipped = load_config().raw
    return {section: {k: v for k, v in values.items() if (shipped.get(section) or {}).get(k) != v}
            for section, values in cfg.raw.items() if values and values != shipped.get(section)}


def dream_image(cfg: Config, source: str, query: str, work: Path) -> np.ndarray:
    """``dreamstream image SOURCE OUT --target QUERY`` run as the command, with ``cfg``'s differences from the shipped
    config as its ``--config`` file; the dream, uint8 RGB."""
    from stream.cli import main

    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(overrides_of(cfg)))
    out = work / "dream.png"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", "image", source, str(out), "--target", query, "--config", str(config)])
    if code != 0:
        raise RuntimeError(f"dreamstream image {source} --target {query} exited {code}")
    return read_image(str(out))


def dream_first(model: DreamModel, cfg: Config, picture: np.ndarray, query: str) -> np.ndarray:
    """``video --target``'s first frame of a clip that starts with ``picture``, set up as ``video`` sets it up."""
    from dataclasses import replace

    device = next(model.parameters()).device
    objective, _label, _ = build_objective(model, replace(cfg.model, target=query), device)
    temporal = TemporalDreamer(Dreamer(model, objective, cfg.class_dream), cfg.section("video"))
    temporal.reseed(0)
    return temporal(picture)


def live_stage(model: DreamModel, cfg: Config) -> tuple[DreamStage, CommandCenter]:
    """The live dream stage and the chat command layer over one control board, as ``dreamstream live`` joins them,
    adaptive quality on at the replayed cadence."""
    board = ControlBoard(initial_controls(cfg), cfg.section("chat"))
    stage = dream_stage(model, cfg, board, adaptive=True, frame_seconds=replayed_seconds)
    return stage, CommandCenter(board, cfg.section("chat"))


def dream_live(model: DreamModel, cfg: Config, frames: Frames, query: str | None,
               at: tuple[float, ...]) -> list[Shot]:
    """The live stage on ``frames`` (a function of time); ``!dream query`` after :data:`WARMUP_S` (None: the layer
    dream alone, from the start). Keeps the output ``at`` seconds after the request, in replayed time."""
    torch.manual_seed(0)
    stage, center = live_stage(model, cfg)
    start = WARMUP_S if query is not None else 0.0
    wanted = sorted(at)
    shots: list[Shot] = []
    asked = query is None
    try:
        while wanted:
            now = stage.replayed_s
            if not asked and now >= start:
                reply = center.handle(ChatMessage("q1", "viewer", f"!dream {query}"), now)
                if stage.board.get().target is None:
                    raise RuntimeError(f"!dream {query} was not taken: {reply}")
                asked = True
            center.tick(now)
            frame = frames(now)
            out = stage(frame)
            while wanted and asked and stage.replayed_s >= start + wanted[0]:
                shots.append(Shot(out, frame, wanted.pop(0)))
    finally:
        stage.close()
    return shots


def run_cell(model: DreamModel, cfg: Config, mode: str, photo_name: str, query: str | None,
             size: tuple[int, int], at: tuple[float, ...]) -> list[Shot]:
    """The pictures of one cell: one for the still modes, one per ``at`` for the live ones."""
    w, h = size
    if mode in ("still", "noise"):
        with tempfile.TemporaryDirectory(prefix="quality-") as folder:
            work = Path(folder)
            source = str(photo_file(photo_name, work, w, h)) if mode == "still" else f"noise:{w}x{h}"
            # the picture the measures compare with: the photo, or the static as image reads it
            picture = photo(photo_name, w, h) if mode == "still" else read_image(source, seed=cfg.dream.seed)
            return [Shot(dream_image(cfg, source, query or "", work), picture)]
    if mode == "first":
        picture = photo(photo_name, w, h)
        return [Shot(dream_first(model, cfg, picture, query or ""), picture)]
    if mode in LIVE_MODES:
        return dream_live(model, cfg, scene(photo_name, mode.split("_")[1], w, h), query, at)
    if mode in LAYER_MODES:
        kind = mode.split("_")[1]
        return dream_live(model, cfg, scene(photo_name, "zoom" if kind == "clip" else kind, w, h), None, at)
    raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
