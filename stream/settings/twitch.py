"""Twitch chat settings (the ``twitch:`` config section), importable without twitchio."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from engine.fields import Rule, setting
from stream.settings.checks import numeric_id, secure_url
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
    (tests); the loader checks them (each field's rule).  ``token_file`` ``""`` means tokens only from the environment,
    never saved. ``reply`` ``False`` keeps the bot silent in chat (commands still work). ``rewards`` are the
    channel-point rewards the bot owns (see :class:`RewardSettings`); ``rewards_first`` puts their requests ahead of
    free chat requests in the queue.
    """

    client_id: str = setting(rule=Rule(nonempty=True), help="your application's client id (dev.twitch.tv/console)")
    bot_id: str = setting(rule=Rule(check=numeric_id), help="the bot account's numeric user id")
    broadcaster_id: str = setting(rule=Rule(check=numeric_id), help="the channel owner's numeric user id")
    channel: str = setting("", help="the channel's login (for messages only)")
    helix_url: str = setting(HELIX_URL, Rule(check=secure_url("https", "http")),
        "Twitch's Helix API (http only on 127.0.0.1: tests)")
    oauth_url: str = setting(OAUTH_URL, Rule(check=secure_url("https", "http")),
        "Twitch's OAuth server (http only on 127.0.0.1: tests)")
    eventsub_url: str = setting(EVENTSUB_URL, Rule(check=secure_url("wss", "ws")),
        "Twitch's EventSub websocket (ws only on 127.0.0.1: tests)")
    token_file: str = setting(DEFAULT_TOKEN_FILE,
        help="where dreamstream twitch-login keeps the tokens (mode 0600); \"\" = only from the environment")
    client_secret_env: str = setting("TWITCH_CLIENT_SECRET",
        help="the environment variable holding the app's client secret")
    bot_token_env: str = setting("TWITCH_BOT_TOKEN",
        help="the environment variable that may hold the bot's access token")
    bot_refresh_env: str = setting("TWITCH_BOT_REFRESH_TOKEN",
        help="the environment variable that may hold the bot's refresh token")
    reply: bool = setting(True, help="false keeps the bot silent in chat (commands still work)")
    rewards: tuple[RewardSettings, ...] = setting((),
        help="channel-point rewards the bot owns (config/twitch.yaml shows one)")
    rewards_first: bool = setting(False, help="rewards' requests go ahead of free chat requests")

    def __post_init__(self) -> None:
        # Normalisation only (ids may come as YAML numbers); checks: each field's rule, in the loader.
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
