"""Settings of the chat section: what chat may set, and how often."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.fields import Rule, setting
from engine.filters import MAX_OCTAVES
from stream.settings.names import COMMANDS, DEFAULT_ROLES, FLOWS, ROLES, model_names, preset_names


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
    Each field's default, range and help: its :func:`engine.fields.setting`.
    """

    min_octaves: int = setting(1, Rule(1, MAX_OCTAVES), "fewest octaves !octaves may set")
    max_octaves: int = setting(4, Rule(1, MAX_OCTAVES), "chat can never raise the cost of a frame past these bounds")
    min_strength: float = setting(0.25, Rule(0.01, 10.0), "lowest !strength")
    max_strength: float = setting(1.5, Rule(0.01, 10.0), "highest !strength")
    allowed_models: tuple[str, ...] = setting(
        ("efficientnet_lite0",), Rule(choices=model_names, nonempty=True, items=32), "models !model may switch to"
    )
    allowed_presets: tuple[str, ...] = setting(("default",), Rule(choices=preset_names, nonempty=True, items=32),
        "presets !preset may switch to")
    allowed_flows: tuple[str, ...] = setting(FLOWS, Rule(choices=FLOWS, nonempty=True, items=len(FLOWS)),
        "flows !flow may switch to")
    hold_s: float = setting(45.0, Rule(1.0, 3600.0), "how long an active request holds")
    queue_size: int = setting(10, Rule(0, 1000), "most requests waiting")
    user_cooldown_s: float = setting(10.0, Rule(0.0, 3600.0), "seconds between one viewer's requests (and !strength)")
    global_cooldown_s: float = setting(2.0, Rule(0.0, 3600.0), "seconds between any two requests (and !strength)")
    info_cooldown_s: float = setting(5.0, Rule(0.0, 3600.0),
        "seconds between one viewer's informational commands (dropped silently meanwhile)")
    lookups_per_s: float = setting(5.0, Rule(0.1, 1000.0),
        "class-name lookups a second for the whole chat (bursts of twice that)")
    max_targets: int = setting(2, Rule(1, 2), "classes one !dream may name (!dream banana*0.7+dog)")
    roles: Mapping[str, str] = setting(rule=Rule(keys=COMMANDS, choices=ROLES), factory=lambda: DEFAULT_ROLES,
        help="command -> lowest role allowed: viewer, moderator, broadcaster or off (commands not named keep theirs)")

    def __post_init__(self) -> None:
        # Normalisation only: the loader checks every field against its rule.
        for key in ("allowed_models", "allowed_presets", "allowed_flows"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        merged = dict(DEFAULT_ROLES)
        merged.update({str(command).lstrip("!"): role for command, role in dict(self.roles).items()})
        object.__setattr__(self, "roles", MappingProxyType(merged))
