"""Chat control: a pure command layer (:mod:`stream.chat.commands`), the console reader
(:mod:`stream.chat.console`) and the Twitch bot (:mod:`stream.chat.bot`, imported on demand
because it pulls in twitchio).
"""
from __future__ import annotations

from stream.chat.commands import ChatMessage, CommandCenter, OutgoingQueue, clean_reply, echo, parse_command

__all__ = [
    "ChatMessage",
    "CommandCenter",
    "OutgoingQueue",
    "clean_reply",
    "echo",
    "parse_command",
]
