"""``dreamstream twitch-login``: user tokens from Twitch's device code flow, saved to the token file.

The account that logs in (the bot's or the broadcaster's) is checked against the settings
and for the scopes it needs before its tokens are written (mode 0600, :mod:`~stream.chat.tokens`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import twitchio
from twitchio.authentication import OAuth, Scopes

from engine.errors import ConfigError
from stream.chat.tokens import read_token_file, write_token_file
from stream.chat.twitch import SECRETS, apply_endpoints, guard_loggers, redact
from stream.settings.twitch import BOT_SCOPES, BROADCASTER_SCOPES, TwitchSettings

logger = logging.getLogger(__name__)


def twitch_login(settings: TwitchSettings, announce: Callable[[str], None], *, account: str = "bot",
                 client_secret: str | None = None, timeout_s: float = 900.0) -> str:
    """Get user tokens with Twitch's device code flow and save them to the token file (0600).

    For ``dreamstream twitch-login [--account bot|broadcaster]``.  ``announce`` shows the
    user what to do (the CLI passes ``print``): open the verification URL, enter the code
    while logged in as that account.  ``account="bot"`` asks for ``user:read:chat
    user:write:chat user:bot``; ``"broadcaster"`` for ``channel:bot`` (not needed when the bot
    is a moderator of the channel) and ``channel:manage:redemptions`` (channel-point rewards).
    Checks that the account that logged in is ``settings.bot_id`` / ``settings.broadcaster_id``
    and has the scopes; returns its user id.
    Raises :class:`ConfigError` when Twitch refuses or the user takes longer than the code
    lives (or ``timeout_s``).
    """
    if account not in ("bot", "broadcaster"):
        raise ConfigError(f"account {account!r} is invalid; allowed: bot, broadcaster")
    if settings.token_path is None:
        raise ConfigError("twitch.token_file is empty; set it to where the tokens should be saved")
    return asyncio.run(_login(settings, announce, account, client_secret, timeout_s))


async def _login(settings: TwitchSettings, announce: Callable[[str], None], account: str,
                 client_secret: str | None, timeout_s: float) -> str:
    apply_endpoints(settings)
    guard_loggers()
    SECRETS.add(client_secret)
    wanted = BOT_SCOPES if account == "bot" else BROADCASTER_SCOPES
    expected = settings.bot_id if account == "bot" else settings.broadcaster_id
    scopes = Scopes(list(wanted))
    oauth = OAuth(client_id=settings.client_id, client_secret=client_secret)
    try:
        flow = await oauth.device_code_flow(scopes=scopes)
        announce(f"Log in to Twitch as the {account} account (user id {expected}), open "
                 f"{flow['verification_uri']} and enter the code {flow['user_code']}. "
                 f"Scopes asked: {' '.join(wanted)}. Waiting...")
        async with asyncio.timeout(min(float(flow.get("expires_in", 1800)), timeout_s)):
            resp = await oauth.device_code_authorization(scopes=scopes, device_code=flow["device_code"],
                                                         interval=int(flow.get("interval", 5)))
        SECRETS.add(resp["access_token"], resp.get("refresh_token"))
        valid = await oauth.validate_token(resp["access_token"])
    except TimeoutError:
        raise ConfigError("Twitch login timed out before the code was entered; run it again") from None
    except twitchio.HTTPException as e:
        detail = e.extra.get("message", "") if isinstance(e.extra, dict) else ""
        raise ConfigError(f"Twitch refused the login (HTTP {e.status} {redact(str(detail))[:80]}); "
                          "check twitch.client_id and that the app allows the device flow") from None
    finally:
        await oauth.close()
    if valid.user_id != expected:
        key = "bot_id" if account == "bot" else "broadcaster_id"
        raise ConfigError(f"logged in as {valid.login} (id {valid.user_id}) but twitch.{key} is {expected}; "
                          "log in with that account or fix the config")
    missing = [s for s in wanted if s not in valid.scopes]
    if missing:
        raise ConfigError(f"the token lacks the scopes {', '.join(missing)}; "
                          "run the login again and accept them")
    tokens = read_token_file(settings.token_path)
    tokens[str(valid.user_id)] = {
        "user_id": str(valid.user_id),
        "token": resp["access_token"],
        "refresh": resp.get("refresh_token", ""),
        "last_validated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    assert settings.token_path is not None
    write_token_file(settings.token_path, tokens)
    logger.info("saved the Twitch token of %s (%s) to %s", valid.login, valid.user_id, settings.token_path)
    return str(valid.user_id)
