"""Twitch chat settings (the ``twitch:`` config section), importable without twitchio."""
from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from stream.settings.rewards import RewardSettings, rewards_from

HELIX_URL = "https://api.twitch.tv/helix/"
OAUTH_URL = "https://id.twitch.tv/"
EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
DEFAULT_TOKEN_FILE = "~/.config/dreamstream/twitch-tokens.json"
BOT_SCOPES = ("user:read:chat", "user:write:chat", "user:bot")
BROADCASTER_SCOPES = ("channel:bot", "channel:manage:redemptions")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TwitchSettings:
    """The ``twitch:`` config section (no secrets here: those come from env or the token file).

    ``bot_id`` and ``broadcaster_id`` are numeric Twitch user ids; ``channel`` the channel's
    login (for messages only).  Endpoints may be ``http``/``ws`` only on 127.0.0.1/localhost
    (tests).  ``token_file`` ``""`` means tokens only from the environment, never saved.
    ``reply`` ``False`` keeps the bot silent in chat (commands still work).
    ``rewards`` are the channel-point rewards the bot owns (see :class:`RewardSettings`);
    ``rewards_first`` puts their requests ahead of free chat requests in the queue.
    """

    client_id: str
    bot_id: str
    broadcaster_id: str
    channel: str = ""
    helix_url: str = HELIX_URL
    oauth_url: str = OAUTH_URL
    eventsub_url: str = EVENTSUB_URL
    token_file: str = DEFAULT_TOKEN_FILE
    client_secret_env: str = "TWITCH_CLIENT_SECRET"
    bot_token_env: str = "TWITCH_BOT_TOKEN"
    bot_refresh_env: str = "TWITCH_BOT_REFRESH_TOKEN"
    reply: bool = True
    rewards: tuple[RewardSettings, ...] = ()
    rewards_first: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rewards", rewards_from(self.rewards))
        if not str(self.client_id).strip():
            raise ConfigError("twitch.client_id is empty; allowed: your app's client id from dev.twitch.tv")
        for key in ("bot_id", "broadcaster_id"):
            value = str(getattr(self, key))
            if not value.isdigit():
                raise ConfigError(f"twitch.{key} = {value!r} is not a numeric Twitch user id")
            object.__setattr__(self, key, value)
        _check_url("helix_url", self.helix_url, ("https",), ("http",))
        _check_url("oauth_url", self.oauth_url, ("https",), ("http",))
        _check_url("eventsub_url", self.eventsub_url, ("wss",), ("ws",))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TwitchSettings:
        """Build from the YAML ``twitch:`` mapping; unknown keys raise :class:`ConfigError`."""
        from stream.settings.checks import check_keys

        check_keys("twitch", cls, data)
        missing = [k for k in ("client_id", "bot_id", "broadcaster_id") if not data.get(k)]
        if missing:
            raise ConfigError(f"twitch.{missing[0]} is not set; put client_id, bot_id and broadcaster_id under "
                              "twitch: in a --config file (see config/twitch.yaml)")
        return cls(**dict(data))

    @property
    def token_path(self) -> Path | None:
        return Path(self.token_file).expanduser() if self.token_file else None

    def client_secret(self) -> str:
        """The client secret from ``client_secret_env``, or :class:`ConfigError` saying how to set it."""
        secret = os.environ.get(self.client_secret_env, "").strip()
        if not secret:
            raise ConfigError(f"environment variable {self.client_secret_env} is not set; "
                              "set it to your Twitch app's client secret")
        return secret


def _check_url(key: str, url: str, secure: tuple[str, ...], loopback_only: tuple[str, ...]) -> None:
    parts = urllib.parse.urlsplit(str(url))
    host = (parts.hostname or "").lower()
    ok = bool(host) and (parts.scheme in secure or (parts.scheme in loopback_only and host in _LOOPBACK))
    if not ok:
        raise ConfigError(f"twitch.{key} = {url!r} is invalid; allowed: a {secure[0]}:// URL "
                          f"({loopback_only[0]}:// only on 127.0.0.1 or localhost)")
