"""Adaptive quality: the live dream holds ``live.target_fps`` by changing what a frame costs, in small steps.

A busy machine (a game, OBS, an encoder beside us) makes every dreamed frame take longer.
Instead of dreaming fewer frames (a stuttering dream), the stage steps down a ladder of levels.
Every frame is still carried along the flow and shown, but the network's steps (most of a frame's
cost) are taken on one frame in 2, 3, 4, so the dream grows more slowly (on 2 cores beside two busy
processes about two thirds of the steps a second a full-quality dream takes there, which shows
half the frames). A class dream (:data:`CLASS_LEVELS`) keeps 0.9 of its size and crop size
throughout: a smaller dream loses the object (a goldfish dreamed at 0.6 of the size with smaller
crops is not one any more). A layer dream (:data:`LAYER_LEVELS`) dreams smaller at its cheapest
levels too. Each level is a fixed recipe, so a level means the same picture on every machine.
:class:`Governor` chooses the level from the stage's own measured frame times (time passed in): it
steps down when frames run more than 10% over the target's period, and back up when the better
level's expected time fits within 90% of it, waiting between changes so the dream never
oscillates. Layer and class dreams keep a level each (a class step costs more). The output rate is not its business: the
output thread repeats the newest dream at a constant rate either way.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One rung: the dream's long side (``side``, a fraction of ``live.dream_max_side``), the crops
    a class step takes (at most the configured ``live.class_crops``) and their size (``class_size``,
    a fraction of ``live.class_size``), steps on one frame in ``step_every``; ``cost`` is its expected
    frame time, a fraction of level 0's."""

    side: float
    class_crops: int
    class_size: float
    cost: float
    step_every: int = 1


#: A layer dream's, best first: its steps on fewer frames, then a smaller dream as well (a smaller
#: dream is a blurrier one: fewer eyes, smeared texture). A class dream's, best first: 0.9 of the size
#: and crop size, then its steps on fewer frames (level 1 keeps a class dream that runs just under the
#: target at a step every frame, instead of a step on every other frame at the output's rate).
#: ``cost`` is the inverse of the dreamed rate beside two busy processes (where the ladders are used)
#: at 640x360, 2-core EPYC, relative to level 0, rounded (the class rungs measured at full size, a few
#: percent cheaper at 0.9): the machine's speed drifts by a fifth within a run, and the governor only
#: uses the ratios between neighbours, to predict whether the better level would fit. ``class_crops``
#: is at most ``live.class_crops`` (one by default).
LAYER_LEVELS = (
    Level(1.0, 2, 1.0, 1.0),
    Level(1.0, 2, 1.0, 0.65, step_every=2),
    Level(0.8, 2, 1.0, 0.6, step_every=2),
    Level(0.8, 2, 1.0, 0.5, step_every=3),
    Level(0.7, 2, 1.0, 0.4, step_every=4),
)
CLASS_LEVELS = (
    Level(1.0, 2, 1.0, 1.0),
    Level(0.9, 1, 0.9, 0.92),
    Level(0.9, 1, 0.9, 0.6, step_every=2),
    Level(0.9, 1, 0.9, 0.52, step_every=3),
    Level(0.9, 1, 0.9, 0.38, step_every=4),
)
#: Frames run over the period by more than this: step down (cheaper).
OVER = 1.10
#: The better level's expected frame time within this share of the period: step up.
UNDER = 0.90
#: Seconds to wait after a change before stepping down again, and before stepping up.
DOWN_WAIT_S = 1.0
UP_WAIT_S = 4.0
#: Weight of the newest frame time in the running mean, and the most one frame counts for (periods).
ALPHA = 0.15
OUTLIER = 3.0


class Governor:
    """Chooses an index into ``levels`` (best first) from frame times to hold ``target_fps`` dreamed frames a second."""

    def __init__(self, target_fps: float, levels: tuple[Level, ...]) -> None:
        if target_fps <= 0:
            raise ValueError(f"target_fps {target_fps!r} must be above 0")
        self.period = 1.0 / target_fps
        self.target_fps = target_fps
        self.levels = levels
        self.level = 0
        self.mean: float | None = None  # running mean frame time at this level, seconds
        self._changed_at: float | None = None

    def observe(self, seconds: float, now: float) -> bool:
        """Take one frame's time (seconds) at clock ``now``; True when the level changed."""
        seconds = min(seconds, OUTLIER * self.period)  # one slow frame (a first frame, a hiccup) weighs little
        self.mean = seconds if self.mean is None else (1 - ALPHA) * self.mean + ALPHA * seconds
        if self._changed_at is None:
            self._changed_at = now
        since = now - self._changed_at
        if self.mean > OVER * self.period and self.level < len(self.levels) - 1 and since >= DOWN_WAIT_S:
            return self._go(self.level + 1, now)
        if self.level > 0 and since >= UP_WAIT_S:
            better = self.mean * self.levels[self.level - 1].cost / self.levels[self.level].cost
            if better <= UNDER * self.period:
                return self._go(self.level - 1, now)
        return False

    def _go(self, level: int, now: float) -> bool:
        assert self.mean is not None
        self.mean *= self.levels[level].cost / self.levels[self.level].cost  # what the new level should take
        self.level = level
        self._changed_at = now
        return True


__all__ = ["CLASS_LEVELS", "LAYER_LEVELS", "Governor", "Level"]
