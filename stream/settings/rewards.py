"""Channel-point rewards (``twitch.rewards``): what each reward costs and which command it runs."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError, did_you_mean
from engine.fields import short
from stream.settings.checks import check_keys

REWARD_COMMANDS = ("dream", "layer")  # the requests a reward's user input can become


@dataclass(frozen=True)
class RewardSettings:
    """One custom reward the bot owns: created at start (or reused when it made one with this title).

    ``command`` is the chat command the viewer's input runs (``dream``: an ImageNet class,
    ``layer``: a layer name); ``cooldown_s`` and ``max_per_stream`` are Twitch's own limits
    (0 = none); ``max_wait_s`` is how long a redemption may wait in the queue before it is
    cancelled and the points go back.
    """

    title: str
    cost: int
    prompt: str = "an ImageNet class, e.g. goldfish, volcano, jellyfish"
    command: str = "dream"
    cooldown_s: int = 0
    max_per_stream: int = 0
    max_wait_s: float = 300.0
    color: str = "#9147FF"

    def __post_init__(self) -> None:
        where = f"twitch.rewards[{short(self.title)}]"

        def need(ok: bool, key: str, allowed: str) -> None:
            if not ok:
                raise ConfigError(f"{where}.{key} = {short(getattr(self, key))} is invalid; allowed: {allowed}")

        need(isinstance(self.title, str) and 1 <= len(self.title.strip()) <= 45, "title", "1 to 45 characters")
        need(_whole(self.cost) and self.cost >= 1, "cost", "a whole number of points >= 1")
        need(isinstance(self.prompt, str) and len(self.prompt) <= 200, "prompt", "at most 200 characters")
        need(self.command in REWARD_COMMANDS, "command", ", ".join(REWARD_COMMANDS)
             + did_you_mean(str(self.command), REWARD_COMMANDS))
        need(_whole(self.cooldown_s) and 0 <= self.cooldown_s <= 604800, "cooldown_s", "0 to 604800 seconds")
        need(_whole(self.max_per_stream) and self.max_per_stream >= 0, "max_per_stream", "a whole number >= 0")
        need(isinstance(self.max_wait_s, (int, float)) and not isinstance(self.max_wait_s, bool)
             and math.isfinite(self.max_wait_s) and self.max_wait_s > 0, "max_wait_s", "seconds > 0")
        need(isinstance(self.color, str) and len(self.color) == 7 and self.color.startswith("#")
             and all(c in "0123456789abcdefABCDEF" for c in self.color[1:]), "color", "#RRGGBB")
        object.__setattr__(self, "title", self.title.strip())
        object.__setattr__(self, "max_wait_s", float(self.max_wait_s))

    @classmethod
    def from_mapping(cls, data: Any) -> RewardSettings:
        if isinstance(data, RewardSettings):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"twitch.rewards: each reward is a mapping like {{title: ..., cost: 500}}, got {short(data)}")
        check_keys("twitch.rewards", cls, data)
        for key in ("title", "cost"):
            if key not in data:
                raise ConfigError(f"twitch.rewards: a reward needs {key} (title and cost are required)")
        values = dict(data)
        for key in ("cost", "cooldown_s", "max_per_stream"):
            if isinstance(values.get(key), float) and values[key].is_integer():
                values[key] = int(values[key])
        if isinstance(values.get("title"), (int, float)):
            values["title"] = str(values["title"])
        return cls(**values)


def rewards_from(data: Any) -> tuple[RewardSettings, ...]:
    """The ``twitch.rewards`` list; titles must be unique (Twitch requires it)."""
    if data is None:
        return ()
    if not isinstance(data, (list, tuple)):
        raise ConfigError(f"twitch.rewards must be a list of rewards, got {type(data).__name__}")
    rewards = tuple(RewardSettings.from_mapping(r) for r in data)
    titles = [r.title.lower() for r in rewards]
    doubled = next((r.title for r in rewards if titles.count(r.title.lower()) > 1), None)
    if doubled is not None:
        raise ConfigError(f"twitch.rewards: the title {short(doubled)} is used twice; each reward needs its own title")
    return rewards


def _whole(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
