"""Who may run which command: the chat side of the roles in :mod:`stream.settings.names`."""
from __future__ import annotations

from stream.settings.chat import ChatLimits
from stream.settings.names import COMMANDS, ROLE_PLURAL, ROLE_RANK


def required_role(limits: ChatLimits, command: str) -> str:
    """The lowest role allowed to run ``command`` (``"off"``: nobody)."""
    return limits.roles.get(command, "moderator")


def may_run(role: str, required: str) -> bool:
    """Whether ``role`` reaches ``required`` (nobody reaches ``"off"``)."""
    return required != "off" and ROLE_RANK[role] >= ROLE_RANK[required]


def refusal(user: str, command: str, required: str) -> str:
    """``"@ann !skip is for moderators only"``."""
    return f"@{user} !{command} is for {ROLE_PLURAL[required]} only"


def commands_for(role: str, limits: ChatLimits) -> tuple[str, ...]:
    """The commands ``role`` may run, in the order of :data:`COMMANDS` (what ``!help`` lists)."""
    return tuple(c for c in COMMANDS if may_run(role, required_role(limits, c)))


def is_privileged(role: str) -> bool:
    """Moderators and the broadcaster skip cooldowns, lookup limits and the lock."""
    return ROLE_RANK[role] > ROLE_RANK["viewer"]
