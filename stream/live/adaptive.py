"""Adaptive quality: the live dream holds ``live.target_fps`` by changing what a frame costs, in small steps.

A busy machine (a game, OBS, an encoder beside us) makes every dreamed frame take longer.
Instead of dreaming fewer frames (a stuttering dream), the stage steps down a ladder of
:data:`LEVELS`: a smaller dream (its long side), then one class crop instead of two, then
smaller crops. Each level is a fixed recipe, so a level means the same picture on every
machine. :class:`Governor` chooses the level from the stage's own measured frame times
(time passed in): it steps down when frames run more than 10% over the target's period,
and back up when the better level's expected time fits within 90% of it, waiting between
changes so the dream never oscillates. Layer and class dreams keep a level each (a class
step costs more). The output rate is not its business: the output thread repeats the
newest dream at a constant rate either way.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One rung: the dream's long side (``side``, a fraction of ``live.dream_max_side``), the crops
    a class step takes (at most the configured ``live.class_crops``) and their size (``class_size``,
    a fraction of ``live.class_size``); ``cost`` is its expected frame time, a fraction of level 0's."""

    side: float
    class_crops: int
    class_size: float
    cost: float


#: Best first. ``cost`` is a class frame's measured time at 640x360 with the default one crop, on one
#: torch thread (live on 2 cores), 2-core EPYC, the mean of two runs (a layer frame, whose steps cycle
#: over smaller octave scales, changes less); the governor only uses the ratios between neighbours,
#: to predict whether the better level would fit. ``class_crops`` is at most ``live.class_crops``.
LEVELS = (
    Level(1.0, 2, 1.0, 1.0),
    Level(0.9, 2, 0.9, 0.92),
    Level(0.8, 1, 0.9, 0.88),
    Level(0.7, 1, 0.8, 0.78),
    Level(0.6, 1, 0.65, 0.71),
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
    """Chooses a :data:`LEVELS` index from frame times to hold ``target_fps`` dreamed frames a second."""

    def __init__(self, target_fps: float, levels: tuple[Level, ...] = LEVELS) -> None:
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


__all__ = ["LEVELS", "Governor", "Level"]
