"""One way to put a live run together from settings: outputs, input, model, dream stage and pipeline.

The ``live`` command and ``scripts/bench_live.py`` both call :func:`build_live`. Outputs open
first (a bad URL or a refused connection fails before the model loads), then the input, then
the model. The command layer is not built here: callers that take chat make a
:class:`~stream.settings.controls.ControlBoard` with :func:`initial_controls`, hand it to chat
and to :func:`build_live`, and pass chat's ``tick`` and overlay callbacks.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError, DreamError, SinkError
from engine.imagenet import display_name, find_class
from engine.models.registry import DreamModel, get_spec
from engine.objectives import Objective
from engine.step_worker import ThreadSteps
from engine.targets import Target, compact_target, format_target, parse_target, target_objective, target_terms
from stream.io.class_colours import class_colours
from stream.io.cpu_share import cpu_share
from stream.io.dreaming import build_objective, check_objective, load_model
from stream.io.keys import STREAM_KEY_ENV, stream_key
from stream.io.sinks.base import Sink
from stream.io.sinks.open import open_sink
from stream.io.sources import Source, open_source
from stream.live.pipeline import LivePipeline
from stream.live.stage import DreamStage, FrameSeconds, ObjectiveFor
from stream.settings.controls import ControlBoard, LiveControls, controls_summary
from stream.settings.encoder import EncoderSettings
from stream.settings.live import LiveSettings, live_class_dream, live_temporal
from stream.settings.loader import Config
from stream.settings.model import ModelSettings

log = logging.getLogger(__name__)


def encoder_settings(ls: LiveSettings) -> EncoderSettings:
    """What every live output encodes, from the live section."""
    return EncoderSettings(width=ls.width, height=ls.height, fps=ls.fps, video_bitrate_kbps=ls.video_bitrate_kbps,
                           audio_bitrate_kbps=ls.audio_bitrate_kbps, preset=ls.x264_preset,
                           keyframe_interval_s=ls.keyframe_interval_s)


def initial_controls(cfg: Config, preset: str = "default") -> LiveControls:
    """The controls a live run starts with: the configured model, first layer, target, octaves and flow."""
    spec = get_spec(cfg.model.name)
    limits = cfg.section("chat")
    layer = spec.layer(cfg.model.layers[0]).name if cfg.model.layers else spec.default_layer
    target: int | Target | None = None
    if cfg.model.target is not None:
        target = compact_target(parse_target(cfg.model.target, find_class))
    return LiveControls(model=spec.name, layer=layer, target=target,
                        target_name=format_target(target_terms(target), display_name) if target is not None else "",
                        octaves=min(cfg.dream.octaves, limits.max_octaves), flow=cfg.section("video").flow,
                        preset=preset if preset in limits.allowed_presets else limits.allowed_presets[0])


def live_objective(ms: ModelSettings, first_layer: str) -> ObjectiveFor:
    """The objective for a set of controls, built like ``image`` and ``video`` build theirs.

    While the controls hold the configured model and first layer with no class target, that is
    the whole configured objective (every ``--layer``, ``--channel`` and ``--guide``); a layer
    or model chosen from chat replaces the layers (and drops the channels, which belong to the
    configured first layer); a class target from chat is dreamed alone.
    """
    def objective_for(model: DreamModel, c: LiveControls) -> tuple[Objective, bool]:
        same_model = model.spec.name == ms.name
        if c.target is not None:  # dreamed alone
            return target_objective(target_terms(c.target)), True
        if same_model and c.layer == first_layer:
            wanted = dataclasses.replace(ms, target=None)
        else:
            wanted = dataclasses.replace(ms, name=model.spec.name, target=None, layers=(c.layer,), channels=(),
                                         guide=ms.guide if same_model else None)
        device = next(model.parameters()).device
        objective, _label, is_class = build_objective(model, wanted, device)
        return objective, is_class

    return objective_for


def dream_stage(model: DreamModel, cfg: Config, board: ControlBoard,
                load_other: Callable[[str], DreamModel] | None = None, *, adaptive: bool = False,
                frame_seconds: FrameSeconds | None = None) -> DreamStage:
    """The live dream stage for ``cfg`` over ``board``: the layer and class dreams with their live settings.

    ``adaptive`` turns on what a live run adapts to the machine: quality at ``live.target_fps``, and with
    ``model.threads`` auto torch's threads to the cores other processes leave, one core kept for the
    rest of the pipeline (:mod:`stream.io.cpu_share`). With ``frame_seconds`` as well, quality adapts to
    that replayed cadence instead of the frames' measured times, on fixed threads (the quality suite:
    what ``dreamstream live`` dreams on a machine, the same on every run)."""
    ls: LiveSettings = cfg.section("live")
    video = cfg.section("video")
    first_layer = board.get().layer if cfg.model.layers else model.spec.default_layer
    share = cpu_share(cfg.model.threads, reserve=1) if adaptive and frame_seconds is None else None
    return DreamStage(model, cfg.dream, live_class_dream(cfg.class_dream, cfg.dream, ls), live_temporal(video, ls),
                      board, load_other, objective_for=live_objective(cfg.model, first_layer),
                      class_live=live_temporal(video, ls, for_class=True),
                      class_colours=class_colours(model.spec.name), target_fps=ls.target_fps if adaptive else 0.0,
                      class_target_fps=ls.class_target_fps,
                      cpu_share=share, step_worker=ThreadSteps() if ls.overlap else None, frame_seconds=frame_seconds)


def open_outputs(specs: Sequence[str], ls: LiveSettings) -> list[Sink]:
    """Open every output (``{stream_key}`` filled from the environment); closes the opened ones on failure."""
    doubled = [o for o in dict.fromkeys(specs) if specs.count(o) > 1 and o != "null"]
    if doubled:
        raise ConfigError(f"output {doubled[0]!r} is given twice; each output once")
    enc = encoder_settings(ls)
    wants_key = "twitch" in specs or any("{stream_key}" in spec for spec in specs)
    key = stream_key(ls) if wants_key else None  # the environment or the key file, read once
    sinks: list[Sink] = []
    try:
        for spec in specs:
            if "{stream_key}" in spec:
                if not key:
                    raise SinkError(f"output uses {{stream_key}} but ${STREAM_KEY_ENV} is not set")
                spec = spec.replace("{stream_key}", key)
            sinks.append(open_sink(spec, enc, twitch_ingest=ls.twitch_ingest, stream_key=key))
    except BaseException:
        close_all(sinks)
        raise
    return sinks


def close_all(sinks: Sequence[Sink]) -> list[DreamError]:
    """Close every sink; returns the errors (each sink is closed even when another fails)."""
    errors: list[DreamError] = []
    for s in sinks:
        try:
            s.close()
        except DreamError as e:
            errors.append(e)
    return errors


@dataclass
class Live:
    """A live run, built: close it (or use it as a context manager) to close the input and outputs."""

    pipeline: LivePipeline
    board: ControlBoard
    source: Source
    sinks: list[Sink]

    @property
    def stage(self) -> DreamStage:
        """The dream stage dreaming now (the watchdog may have replaced the first with a fresh one)."""
        stage = self.pipeline.dream
        assert isinstance(stage, DreamStage)
        return stage

    def run(self) -> dict[str, Any]:
        return self.pipeline.run()

    def close(self) -> None:
        """Close the input and every output; raises the first output's error after closing them all."""
        self.stage.close()
        self.source.close()
        errors = close_all(self.sinks)
        if errors:
            raise errors[0]

    def __enter__(self) -> Live:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:  # the first error wins; a close error must not hide it
            self.stage.close()
            self.source.close()
            close_all(self.sinks)


def build_live(
    cfg: Config,
    input_spec: str,
    output_specs: Sequence[str],
    *,
    board: ControlBoard | None = None,
    preset: str = "default",
    loop: bool = False,
    duration_s: float | None = None,
    stats_file: str | None = None,
    overlay: Callable[[], list[str] | None] | None = None,
    tick: Callable[[float], None] | None = None,
    on_frame: Callable[[np.ndarray], None] | None = None,
) -> Live:
    """Open the outputs and the input, load the model and wire the dream stage into a pipeline.

    ``board`` carries the live controls (made from ``cfg`` when None, with ``preset`` as the
    current preset).
    """
    ls: LiveSettings = cfg.section("live")
    check_objective(cfg.model)  # a bad layer, channel, target or guide fails before anything opens
    if board is None:
        board = ControlBoard(initial_controls(cfg, preset), cfg.section("chat"))
    sinks = open_outputs(list(output_specs), ls)
    source: Source | None = None
    try:
        source = open_source(input_spec, width=ls.width, height=ls.height, fps=ls.fps, loop=loop,
                             wait_s=ls.input_wait_s)
        model, _device = load_model(cfg.model)

        def load_other(name: str) -> DreamModel:
            return load_model(dataclasses.replace(cfg.model, name=name))[0]

        def fresh_stage() -> DreamStage:
            return dream_stage(model, cfg, board, load_other, adaptive=True)

        stage = fresh_stage()
    except BaseException:
        close_all(sinks)
        if source is not None:
            source.close()
        raise
    pipeline = LivePipeline(source, sinks, stage, ls, restart=fresh_stage, duration_s=duration_s, overlay=overlay,
                            tick=tick, on_frame=on_frame, stats_file=stats_file)
    live = Live(pipeline, board, source, sinks)
    pipeline.status = lambda: {"controls": controls_summary(board.get()), "quality": live.stage.quality()}
    log.info("live: %s -> %s at %dx%d %d fps", source.name, ", ".join(s.name for s in sinks), ls.width, ls.height,
             ls.fps)
    return live
