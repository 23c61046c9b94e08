"""The dream stage: applies the current controls and dreams one frame at a time."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from torch import Tensor

from engine.colour import mix_ramps
from engine.dream import Dreamer, DreamSettings
from engine.imagenet import display_name
from engine.live_dream import LiveDreamer, LiveDreamSettings
from engine.models.registry import DreamModel
from engine.objectives import Objective, layer
from engine.step_worker import StepWorker
from engine.targets import format_target, target_objective, target_terms
from stream.io.cpu_share import CpuShare
from stream.live.adaptive import CLASS_LEVELS, LAYER_LEVELS, Governor, Level
from stream.settings.controls import ControlBoard, LiveControls, scaled_steps, with_strength

log = logging.getLogger(__name__)

#: ``(model, controls) -> (objective, is_class)``: what the stage dreams for a set of controls.
ObjectiveFor = Callable[[DreamModel, LiveControls], tuple[Objective, bool]]
#: ``(kind, level) -> seconds``: what a dreamed frame of a layer (``"dream"``) or class (``"class"``) dream at an
#: adaptive level takes on some machine; a stage given one replays that machine's cadence instead of timing itself.
FrameSeconds = Callable[[str, Level], float]


def plain_objective(model: DreamModel, c: LiveControls) -> tuple[Objective, bool]:
    """The controls' class target, else their layer (no channels or guide)."""
    if c.target is not None:
        return target_objective(target_terms(c.target)), True
    return layer(model.spec.layer(c.layer).name), False


def scene_bound(limit: float, strength: float) -> float:
    """How far a dream at ``strength`` may move the scene's coarse structure: ``limit`` times ``strength`` cubed
    (``!strength 1.5`` more than triples it: the dream may take over), at most 1."""
    return min(1.0, limit * strength**3)


class DreamStage:
    """Applies the current controls and dreams one frame at a time (owns the model and the live dream).

    A layer dream runs with ``live`` settings, a class target with ``class_live`` (its own bounds;
    default the same); ``class_colours`` ``(1000, L, 3)`` gives a class target its colours at once
    (:mod:`stream.io.class_colours`). A change of target or layer fades over ``live.fade_frames`` (the old dream gives
    way while the new one builds); a change of strength or octaves applies at once; a change of model or flow starts a
    new dream. With ``target_fps`` the stage holds that many dreamed frames a second (a class dream
    ``class_target_fps``, default the same) by stepping how often a dream takes its steps, and its size, down and up
    (:mod:`stream.live.adaptive`; :meth:`quality` says where it is). With ``cpu_share`` torch's threads follow the CPU
    other processes leave (:mod:`stream.io.cpu_share`), checked before each frame. ``step_worker`` takes each frame's
    steps while the frame around them is made (``live.overlap``; :mod:`engine.step_worker`); the stage owns it and
    :meth:`close` stops it. With ``frame_seconds`` the governors see the frame times it gives instead of measured ones
    (and ``replayed_s`` sums them): the same levels on every run and machine, as the quality suite needs.
    """

    def __init__(
        self,
        model: DreamModel,
        dream: DreamSettings,
        class_dream: DreamSettings,
        live: LiveDreamSettings,
        board: ControlBoard | None,
        load_model: Callable[[str], DreamModel] | None = None,
        objective_for: ObjectiveFor | None = None,
        class_live: LiveDreamSettings | None = None,
        class_colours: Tensor | None = None,
        target_fps: float = 0.0,
        class_target_fps: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
        cpu_share: CpuShare | None = None,
        step_worker: StepWorker | None = None,
        frame_seconds: FrameSeconds | None = None,
    ) -> None:
        self.model = model
        self.step_worker = step_worker
        self.clock = clock
        self.frame_seconds = frame_seconds
        self.replayed_s = 0.0  # with frame_seconds: the time the dreamed frames would have taken
        self.cpu_share = cpu_share
        # Adaptive quality (stream.live.adaptive): a governor for layer dreams and one for class dreams.
        self.governors = ({"dream": Governor(target_fps, LAYER_LEVELS),
                           "class": Governor(class_target_fps or target_fps, CLASS_LEVELS)} if target_fps > 0 else None)
        self.kind = "dream"
        self.objective_for = objective_for or plain_objective
        self.base = {"dream": dream, "class": class_dream}
        self.live_settings = {"dream": live, "class": class_live or live}
        self.class_colours = class_colours
        self.board = board
        self.load_model = load_model
        self.applied: LiveControls | None = None
        self.version = -1
        initial = board.get() if board else LiveControls(model=model.spec.name, layer=model.spec.default_layer)
        self.live_dream = self._build(initial)

    def level(self, is_class: bool) -> Level:
        """The adaptive quality level a layer (or class) dream runs at now (the best when off)."""
        if self.governors is None:
            return (CLASS_LEVELS if is_class else LAYER_LEVELS)[0]
        governor = self.governors["class" if is_class else "dream"]
        return governor.levels[governor.level]

    def _objective(self, c: LiveControls) -> tuple[Objective, DreamSettings, bool]:
        objective, is_class = self.objective_for(self.model, c)
        preset = c.class_dream if is_class else c.dream  # !preset's settings, else the start ones
        base = preset or self.base["class" if is_class else "dream"]
        settings = with_strength(base, c.strength, c.octaves)
        level = self.level(is_class)
        if is_class and level != CLASS_LEVELS[0]:
            size = settings.crop_size or self.model.spec.class_size
            settings = dataclasses.replace(settings, crops=min(settings.crops, level.class_crops),
                                           crop_size=max(32, round(size * level.class_size)))
        return objective, settings, is_class

    def _live_settings_for(self, c: LiveControls, is_class: bool) -> LiveDreamSettings:
        """The live dream settings of a layer or a class dream with ``c.flow``, the steps a frame and
        the scene bound scaled by ``c.strength`` (:func:`scene_bound`), at the adaptive level's size."""
        s = self.live_settings["class" if is_class else "dream"]
        per_frame = scaled_steps(s.steps_per_frame, c.strength)
        level = self.level(is_class)
        return dataclasses.replace(s, flow=c.flow, steps_per_frame=per_frame, step_every=level.step_every,
                                   scene_limit=scene_bound(s.scene_limit, c.strength),
                                   dream_scale=max(0.05, s.dream_scale * level.side),
                                   dream_max_side=round(s.dream_max_side * level.side))

    def _build(self, c: LiveControls) -> LiveDreamer:
        objective, settings, is_class = self._objective(c)
        self.applied = c
        self.kind = "class" if is_class else "dream"
        live = LiveDreamer(
            Dreamer(self.model, objective, settings), self._live_settings_for(c, is_class), self.step_worker
        )
        self._known_colours(live, c)
        return live

    def _rebuild(self, c: LiveControls) -> None:
        """A new live dream for ``c`` (a new model or flow), once the old one's steps in flight are done."""
        self.live_dream.close()
        self.live_dream = self._build(c)

    def close(self) -> None:
        """Stop the step worker (``live.overlap``)."""
        self.live_dream.close()
        if self.step_worker is not None:
            self.step_worker.close()

    def _known_colours(self, live: LiveDreamer, c: LiveControls) -> None:
        """The target's colours from the class colour table, so the dream needs no probe (none: it probes)."""
        dreamer = live.dreamer
        if self.class_colours is None or c.target is None or dreamer.settings.colour <= 0:
            return
        terms = target_terms(c.target)
        live.know_colours(dreamer.objective.name, mix_ramps([self.class_colours[t.index] for t in terms],
                                                            [t.weight for t in terms]))

    def apply(self) -> None:
        """Take the board's controls if they changed (between frames, atomically)."""
        if self.board is None:
            return
        c, version = self.board.snapshot()
        if version == self.version:
            return
        self.version = version
        old = self.applied
        if old is not None and c.model != old.model and self.load_model is not None:
            log.info("switching model to %s", c.model)
            self.model = self.load_model(c.model)
            self._rebuild(c)
            return
        if old is not None and c.flow != old.flow:
            self._rebuild(c)
            return
        objective, settings, is_class = self._objective(c)
        fade = objective.name != self.live_dream.dreamer.objective.name
        self.live_dream.retune(self._live_settings_for(c, is_class))
        self.live_dream.set_objective(objective, settings, fade=fade)
        self._known_colours(self.live_dream, c)
        self.applied = c
        self.kind = "class" if is_class else "dream"
        what = (f"class {format_target(target_terms(c.target), display_name)}" if c.target is not None
                else f"layer {c.layer}")
        log.info("now dreaming %s (strength %.2g, octaves %d, steps %d, step size %.3g, preset %s)", what,
                 c.strength, c.octaves, settings.steps, settings.step_size, c.preset)

    def quality(self) -> dict[str, Any]:
        """What adaptive quality chose for the current dream (JSON-able; ``level`` 0 is the best)."""
        threads = {} if self.cpu_share is None else {"threads": self.cpu_share.threads}
        if self.governors is None:
            return {"adaptive": False, **threads}
        governor = self.governors[self.kind]
        s, d = self.live_dream.settings, self.live_dream.dreamer.settings
        out: dict[str, Any] = {"adaptive": True, "target_fps": governor.target_fps, "level": governor.level,
                               "levels": len(governor.levels), "dream_max_side": s.dream_max_side,
                               "step_every": s.step_every, **threads}
        if self.kind == "class":
            out.update(class_crops=d.crops, class_size=d.crop_size or self.model.spec.class_size)
        return out

    def _adapt(self, seconds: float, now: float) -> None:
        """Give the frame time to the current kind's governor; take its new level at once."""
        assert self.governors is not None and self.applied is not None
        if not self.governors[self.kind].observe(seconds, now):
            return
        c, is_class = self.applied, self.kind == "class"
        _objective, settings, _ = self._objective(c)
        self.live_dream.retune(self._live_settings_for(c, is_class), settings)
        q = self.quality()
        what = f", class {q['class_crops']} crop(s) at {q['class_size']} px" if is_class else ""
        log.info("quality level %d of %d to hold %g dreamed fps: steps on 1 frame in %d, dream at most %d px%s",
                 q["level"], q["levels"] - 1, q["target_fps"], q["step_every"], q["dream_max_side"], what)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.cpu_share is not None:
            self.cpu_share.update()
        self.apply()
        if self.frame_seconds is not None:
            seconds = self.frame_seconds(self.kind, self.level(self.kind == "class"))
            out = self.live_dream(image)
            self.replayed_s += seconds
            if self.governors is not None:
                self._adapt(seconds, self.replayed_s)
            return out
        if self.governors is None:
            return self.live_dream(image)
        start = self.clock()
        out = self.live_dream(image)
        end = self.clock()
        self._adapt(end - start, end)
        return out
