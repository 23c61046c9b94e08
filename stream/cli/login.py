"""The ``twitch-login`` command: chat tokens for the bot or the broadcaster account."""
from __future__ import annotations

import argparse

from engine.errors import ConfigError, DreamError
from stream.settings.loader import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "twitch-login", help="get chat tokens for the bot (or broadcaster) account; saved with mode 0600"
    )
    p.add_argument("--account", choices=("bot", "broadcaster"), default="bot")
    p.add_argument("--config", metavar="FILE", help="a YAML file with the twitch: section (client_id, bot_id, ...)")
    p.add_argument("--preset", default="default")
    p.set_defaults(handler=run_login)


def run_login(args: argparse.Namespace) -> int:
    """``dreamstream twitch-login``: the device-code flow; prints what to open and where tokens went."""
    from stream.chat.login import twitch_login

    settings = load_config(args.preset, args.config).section("twitch")
    secret = settings.client_secret()
    try:
        user_id = twitch_login(settings, print, account=args.account, client_secret=secret)
    except DreamError:
        raise
    except Exception as e:  # noqa: BLE001 - aiohttp/twitchio network failures become one line
        from stream.chat.twitch import describe_error

        raise ConfigError(f"twitch login failed: {describe_error(e)}") from e
    print(f"saved tokens for user {user_id} in {settings.token_file}")
    return 0
