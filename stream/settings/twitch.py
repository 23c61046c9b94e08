"""Twitch chat settings (the ``twitch:`` config section), importable without twitchio."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from stream.settings.rewards import RewardSettings, rewards_from

HELIX_URL = "https://api.twitch.tv/helix/"
OAUTH_URL = "https://id.twitch.tv/"
EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
DEFAULT_TOKEN_FILE = "~/.config/dreamstream/twitch-tokens.json"
BOT_SCOPES = ("user:read:chat", "user:write:chat", "user:bot")
BROADCASTER_SCOPES = ("channel:bot", "channel:manage:redemptions")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TwitchSettings:
    """The ``twitch:`` config section (no secrets here: those come from env or the token file).

    ``bot_id`` and ``broadcaster_id`` are numeric Twitch user ids; ``channel`` the channel's
    login (for messages only).  Endpoints may be ``http``/``ws`` only on 127.0.0.1/localhost
    (tests); the loader checks them (:data:`stream.settings.loader.SCHEMA`).  ``token_file`` ``""`` means tokens only from the environment, never saved.
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
        # Normalisation only (ids may come as YAML numbers); checks: stream.settings.loader.SCHEMA.
        object.__setattr__(self, "rewards", rewards_from(self.rewards))
        for key in ("bot_id", "broadcaster_id"):
            object.__setattr__(self, key, str(getattr(self, key)))

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
