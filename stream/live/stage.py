"""The dream stage: applies the current controls and dreams one frame at a time."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np
from torch import Tensor

from engine.colour import mix_ramps
from engine.dream import Dreamer, DreamSettings
from engine.imagenet import display_name
from engine.live_dream import LiveDreamer, LiveDreamSettings
from engine.models.registry import DreamModel
from engine.objectives import Objective, layer
from engine.targets import format_target, target_objective, target_terms
from stream.settings.controls import ControlBoard, LiveControls, scaled_steps, with_strength

log = logging.getLogger(__name__)

#: ``(model, controls) -> (objective, is_class)``: what the stage dreams for a set of controls.
ObjectiveFor = Callable[[DreamModel, LiveControls], tuple[Objective, bool]]


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

    A layer dream runs with ``temporal``, a class target with ``class_temporal`` (its own bounds;
    default the same); ``class_colours`` ``(1000, L, 3)`` gives a class target its colours at once
    (:mod:`stream.io.class_colours`). A change of target or layer fades over ``temporal.fade_frames`` (the old dream gives way
    while the new one builds); a change of strength or octaves applies at once; a change of
    model or flow starts a new dream.
    """

    def __init__(
        self,
        model: DreamModel,
        dream: DreamSettings,
        class_dream: DreamSettings,
        temporal: LiveDreamSettings,
        board: ControlBoard | None,
        load_model: Callable[[str], DreamModel] | None = None,
        objective_for: ObjectiveFor | None = None,
        class_temporal: LiveDreamSettings | None = None,
        class_colours: Tensor | None = None,
    ) -> None:
        self.model = model
        self.objective_for = objective_for or plain_objective
        self.base = {"dream": dream, "class": class_dream}
        self.temporal_settings = {"dream": temporal, "class": class_temporal or temporal}
        self.class_colours = class_colours
        self.board = board
        self.load_model = load_model
        self.applied: LiveControls | None = None
        self.version = -1
        initial = board.get() if board else LiveControls(model=model.spec.name, layer=model.spec.default_layer)
        self.temporal = self._build(initial)

    def _objective(self, c: LiveControls) -> tuple[Objective, DreamSettings, bool]:
        objective, is_class = self.objective_for(self.model, c)
        preset = c.class_dream if is_class else c.dream  # !preset's settings, else the start ones
        base = preset or self.base["class" if is_class else "dream"]
        return objective, with_strength(base, c.strength, c.octaves), is_class

    def _temporal(self, c: LiveControls, is_class: bool) -> LiveDreamSettings:
        """The live dream settings of a layer or a class dream with ``c.flow``, and the steps a frame and
        the scene bound scaled by ``c.strength`` (:func:`scene_bound`)."""
        s = self.temporal_settings["class" if is_class else "dream"]
        steps = scaled_steps(s.steps_per_frame, c.strength)
        return dataclasses.replace(s, flow=c.flow, steps_per_frame=steps, scene_limit=scene_bound(s.scene_limit, c.strength))

    def _build(self, c: LiveControls) -> LiveDreamer:
        objective, settings, is_class = self._objective(c)
        self.applied = c
        dreamer = Dreamer(self.model, objective, settings)
        self._known_colours(dreamer, c)
        return LiveDreamer(dreamer, self._temporal(c, is_class))

    def _known_colours(self, dreamer: Dreamer, c: LiveControls) -> None:
        """The target's colours from the class colour table, so the dream needs no probe (none: it probes)."""
        if self.class_colours is None or c.target is None or dreamer.settings.colour <= 0:
            return
        terms = target_terms(c.target)
        dreamer.ramps[dreamer.objective.name] = mix_ramps([self.class_colours[t.index] for t in terms],
                                                          [t.weight for t in terms])

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
            self.temporal = self._build(c)
            return
        if old is not None and c.flow != old.flow:
            self.temporal = self._build(c)
            return
        objective, settings, is_class = self._objective(c)
        fade = objective.name != self.temporal.dreamer.objective.name
        self.temporal.settings = self._temporal(c, is_class)
        self.temporal.set_objective(objective, settings, fade=fade)
        self._known_colours(self.temporal.dreamer, c)
        self.applied = c
        what = (f"class {format_target(target_terms(c.target), display_name)}" if c.target is not None
                else f"layer {c.layer}")
        log.info("now dreaming %s (strength %.2g, octaves %d, steps %d, step size %.3g, preset %s)", what,
                 c.strength, c.octaves, settings.steps, settings.step_size, c.preset)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.apply()
        return self.temporal(image)
