"""One chat line as the command layer sees it, whatever the transport (Twitch, console, tests)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatMessage:
    """One chat line, already stripped of the transport (Twitch, console, tests)."""

    user_id: str
    user_name: str
    text: str
    is_mod: bool = False
    is_broadcaster: bool = False

    @property
    def role(self) -> str:
        """``"broadcaster"``, ``"moderator"`` or ``"viewer"`` (names from :data:`stream.settings.names.ROLES`)."""
        if self.is_broadcaster:
            return "broadcaster"
        return "moderator" if self.is_mod else "viewer"
