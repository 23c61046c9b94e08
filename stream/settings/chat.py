"""Settings of the chat section: what chat may set, and how often."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stream.settings.names import DEFAULT_ROLES, FLOWS


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
    ``max_targets`` is how many classes one ``!dream`` may name (``!dream banana*0.7+dog``), 1 or 2.
    Ranges and choices: :data:`stream.settings.loader.SCHEMA`.
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
    max_targets: int = 2
    roles: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ROLES)

    def __post_init__(self) -> None:
        # Normalisation only: every range and choice is checked by the loader (stream.settings.loader.SCHEMA).
        for key in ("allowed_models", "allowed_presets", "allowed_flows"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        merged = dict(DEFAULT_ROLES)
        merged.update({str(command).lstrip("!"): role for command, role in dict(self.roles).items()})
        object.__setattr__(self, "roles", MappingProxyType(merged))
