"""Channel-point rewards (``twitch.rewards``): what each reward costs and which command it runs."""
from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.fields import Rule, check_fields, setting, short
from stream.settings.checks import check_keys
from stream.settings.convert import convert

REWARD_COMMANDS = ("dream", "layer")  # the requests a reward's user input can become
MAX_POINTS = 2**31 - 1


def _title(value: str) -> str | None:
    return None if 1 <= len(value.strip()) <= 45 else "1 to 45 characters"


def _prompt(value: str) -> str | None:
    return None if len(value) <= 200 else "at most 200 characters"


def _colour(value: str) -> str | None:
    ok = len(value) == 7 and value.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in value[1:])
    return None if ok else "#RRGGBB"


@dataclass(frozen=True)
class RewardSettings:
    """One custom reward the bot owns: created at start (or reused when it made one with this title).

    ``command`` is the chat command the viewer's input runs (``dream``: an ImageNet class,
    ``layer``: a layer name); ``cooldown_s`` and ``max_per_stream`` are Twitch's own limits
    (0 = none); ``max_wait_s`` is how long a redemption may wait in the queue before it is
    cancelled and the points go back.
    """

    title: str = setting(rule=Rule(check=_title), help="the reward's title on Twitch (unique, 1 to 45 characters)")
    cost: int = setting(rule=Rule(1, MAX_POINTS), help="points it costs")
    prompt: str = setting("an ImageNet class, e.g. goldfish, volcano, jellyfish", Rule(check=_prompt),
                          "what Twitch asks the viewer to type")
    command: str = setting("dream", Rule(choices=REWARD_COMMANDS), "the command the viewer's input runs")
    cooldown_s: int = setting(0, Rule(0, 604_800), "Twitch's cooldown between redemptions (0 = none)")
    max_per_stream: int = setting(0, Rule(0, MAX_POINTS), "Twitch's limit of redemptions a stream (0 = none)")
    max_wait_s: float = setting(300.0, Rule(0.1, 86_400.0), "seconds a redemption may wait before its points go back")
    color: str = setting("#9147FF", Rule(check=_colour), "the reward's colour on Twitch")

    def __post_init__(self) -> None:
        check_fields(self, f"twitch.rewards[{short(self.title)}].")
        object.__setattr__(self, "title", self.title.strip())
        object.__setattr__(self, "max_wait_s", float(self.max_wait_s))

    @classmethod
    def from_mapping(cls, data: Any) -> RewardSettings:
        if isinstance(data, RewardSettings):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"twitch.rewards: each reward is a mapping like {{title: ..., cost: 500}}, got {short(data)}"
            )
        check_keys("twitch.rewards", cls, data)
        for key in ("title", "cost"):
            if key not in data:
                raise ConfigError(f"twitch.rewards: a reward needs {key} (title and cost are required)")
        hints = typing.get_type_hints(cls)
        values = {}
        for key, value in data.items():
            if key in ("cost", "cooldown_s", "max_per_stream") and isinstance(value, float) and value.is_integer():
                value = int(value)
            values[key] = convert(f"twitch.rewards.{key}", value, hints[key])
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
