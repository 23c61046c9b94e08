"""Settings of the chat section: what chat may set, and how often."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.errors import ConfigError, did_you_mean
from stream.settings.checks import is_finite_number
from stream.settings.names import COMMANDS, DEFAULT_ROLES, FLOWS, ROLES


@dataclass(frozen=True)
class ChatLimits:
    """Bounds and fairness settings for everything chat can change.

    ``min/max_strength`` bound the multiplier on steps/step size; ``hold_s`` is how long an
    active viewer request lasts; ``queue_size`` the most requests waiting; cooldowns are in
    seconds (``user_cooldown_s`` per viewer and ``global_cooldown_s`` for everyone, both for
    requests and ``!strength``; ``info_cooldown_s`` per viewer for the informational
    commands, which are dropped silently while cooling down).  ``lookups_per_s`` caps the
    viewers' class-name lookups (``!dream``, ``!targets``: fuzzy matching costs milliseconds
    of CPU the dream needs) for the whole chat, with bursts of twice that.  ``roles`` maps a
    command name (without ``!``) to the lowest role allowed to run it: ``viewer``,
    ``moderator``, ``broadcaster`` or ``off``; commands not named keep their default.
    Moderators and the broadcaster are exempt from cooldowns, lookups limits and the lock.
    """

    min_octaves: int = 1
    max_octaves: int = 4
    min_strength: float = 0.25
    max_strength: float = 1.5
    allowed_models: tuple[str, ...] = ("efficientnet_lite0",)
    allowed_presets: tuple[str, ...] = ("default",)
    allowed_flows: tuple[str, ...] = FLOWS
    hold_s: float = 45.0
    queue_size: int = 10
    user_cooldown_s: float = 10.0
    global_cooldown_s: float = 2.0
    info_cooldown_s: float = 5.0
    lookups_per_s: float = 5.0
    roles: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ROLES)

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, value: object, allowed: str) -> None:
            if not ok:
                raise ConfigError(f"chat.{key} = {value!r} is invalid; allowed: {allowed}")

        need(isinstance(self.min_octaves, int) and self.min_octaves >= 1,
             "min_octaves", self.min_octaves, "an integer >= 1")
        need(isinstance(self.max_octaves, int) and self.max_octaves >= self.min_octaves, "max_octaves",
             self.max_octaves, f"an integer >= min_octaves ({self.min_octaves})")
        need(is_finite_number(self.min_strength) and self.min_strength > 0,
             "min_strength", self.min_strength, "a number > 0")
        need(is_finite_number(self.max_strength) and self.max_strength >= self.min_strength, "max_strength",
             self.max_strength, f"a number >= min_strength ({self.min_strength})")
        need(bool(self.allowed_models), "allowed_models", self.allowed_models, "at least one model")
        need(bool(self.allowed_presets), "allowed_presets", self.allowed_presets, "at least one preset")
        bad_flows = [f for f in self.allowed_flows if f not in FLOWS]
        need(bool(self.allowed_flows) and not bad_flows, "allowed_flows", self.allowed_flows,
             "a non-empty subset of " + ", ".join(FLOWS))
        need(is_finite_number(self.hold_s) and self.hold_s > 0, "hold_s", self.hold_s, "a number of seconds > 0")
        need(isinstance(self.queue_size, int) and self.queue_size >= 0,
             "queue_size", self.queue_size, "an integer >= 0")
        for key in ("user_cooldown_s", "global_cooldown_s", "info_cooldown_s"):
            value = getattr(self, key)
            need(is_finite_number(value) and value >= 0, key, value, "a number of seconds >= 0")
        need(is_finite_number(self.lookups_per_s) and self.lookups_per_s > 0, "lookups_per_s", self.lookups_per_s,
             "a number > 0")
        for key in ("allowed_models", "allowed_presets", "allowed_flows"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        merged = dict(DEFAULT_ROLES)
        for command, role in dict(self.roles).items():
            name = str(command).lstrip("!")
            need(name in COMMANDS, f"roles.{command}", role,
                 "commands " + ", ".join(COMMANDS) + did_you_mean(name, COMMANDS))
            need(role in ROLES, f"roles.{command}", role, ", ".join(ROLES))
            merged[name] = role
        object.__setattr__(self, "roles", MappingProxyType(merged))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ChatLimits:
        """Build from a YAML mapping; unknown keys raise :class:`ConfigError` naming them."""
        from stream.settings.checks import check_keys

        check_keys("chat", cls, data)
        return cls(**dict(data))
