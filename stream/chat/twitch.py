"""What the chat bot and the login share about talking to Twitch through twitchio.

twitchio has no option for its endpoints; :func:`apply_endpoints` sets the module attributes
it reads at call time (pinned to twitchio 3.3.2), so tests can point it at a fake Twitch.

Secrets (the client secret, user tokens) are never logged: :data:`SECRETS` learns each one as
it is read, and :func:`guard_loggers` puts it on twitchio's loggers, aiohttp's and ours, so it
blanks them out of every record; :func:`describe_error` and :func:`redact` do the same for
error lines.
"""
from __future__ import annotations

import logging
import urllib.parse

import twitchio
import twitchio.eventsub.websockets as _tio_websockets
from twitchio.http import Route

from stream.io.redact import SecretFilter
from stream.settings.twitch import TwitchSettings

SECRETS = SecretFilter(noise=("If you require the StarletteAdapter",))
GUARDED_LOGGERS = ("stream.chat.bot", "stream.chat.login", "stream.chat.tokens", "aiohttp.client", "aiohttp.websocket")


def apply_endpoints(settings: TwitchSettings) -> None:
    """Point twitchio (process-wide) at the endpoints in ``settings``."""
    Route.BASE = settings.helix_url.rstrip("/") + "/"
    Route.ID_BASE = settings.oauth_url.rstrip("/") + "/"
    _tio_websockets.WSS = settings.eventsub_url


def guard_loggers() -> None:
    """Attach :data:`SECRETS` to every twitchio logger and to :data:`GUARDED_LOGGERS`."""
    names = [n for n in list(logging.Logger.manager.loggerDict) if n.split(".")[0] == "twitchio"]
    for name in [*names, *GUARDED_LOGGERS]:
        lg = logging.getLogger(name)
        if SECRETS not in lg.filters:
            lg.addFilter(SECRETS)


def describe_error(e: BaseException) -> str:
    """One line about ``e`` with no secrets (twitchio puts request URLs with secrets in messages)."""
    if isinstance(e, twitchio.HTTPException):
        where = ""
        if e.route is not None:
            where = f" to {e.route.method} {urllib.parse.urlsplit(e.route.base_url).path}"
        detail = e.extra.get("message", "") if isinstance(e.extra, dict) else ""
        return redact(f"Twitch answered HTTP {e.status}{where}: {detail}")[:300]
    return redact(f"{type(e).__name__}: {e}")[:300]


def redact(text: str) -> str:
    """``text`` with every secret the bot knows about replaced by ``****``."""
    return SECRETS.redact(text)
