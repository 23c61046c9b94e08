"""Chat control, in small rooms (after ``twitchio/ext/commands``):

- :mod:`~stream.chat.message` the chat line, :mod:`~stream.chat.parse` text in and out,
  :mod:`~stream.chat.roles` who may run what;
- :mod:`~stream.chat.requests` the fair request queue, :mod:`~stream.chat.limits` cooldowns,
  the lookup token bucket and refusal throttling (time passed in);
- :mod:`~stream.chat.handlers` the commands, :mod:`~stream.chat.dispatcher` the thin
  :class:`CommandCenter` that calls them;
- :mod:`~stream.chat.outgoing` replies under Twitch's rate limit, :mod:`~stream.chat.console`
  the terminal reader, :mod:`~stream.chat.bot` the Twitch bot (imported on demand: twitchio),
  :mod:`~stream.chat.tokens` its token file, :mod:`~stream.chat.login` the login that writes it,
  :mod:`~stream.chat.twitch` what both share (twitchio's endpoints, secrets kept out of logs).
"""
from __future__ import annotations

from stream.chat.dispatcher import CommandCenter
from stream.chat.message import ChatMessage
from stream.chat.outgoing import OutgoingQueue
from stream.chat.parse import clean_reply, echo, parse_command

__all__ = [
    "ChatMessage",
    "CommandCenter",
    "OutgoingQueue",
    "clean_reply",
    "echo",
    "parse_command",
]
