"""The one redaction helper (stream/io/redact.py), as the chat bot and the outputs use it."""
from __future__ import annotations

import logging

import pytest

from stream.chat import bot, login, tokens, twitch
from stream.io.redact import SecretFilter, redact_url, scrub, secrets_of

TOKEN = "oauthtoken0123456789abcdef"


def test_bot_logs_go_through_the_shared_filter(caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(twitch.SECRETS, SecretFilter)
    twitch.SECRETS.add(TOKEN)
    twitch.guard_loggers()
    for module in (bot, login, tokens):  # the modules that handle tokens
        assert twitch.SECRETS in logging.getLogger(module.__name__).filters
    logger = logging.getLogger(bot.__name__)
    with caplog.at_level(logging.INFO, logger=bot.__name__):
        logger.info("refreshed token %s for %s", TOKEN, "bot")
        try:
            raise RuntimeError(f"GET /oauth2/validate?token={TOKEN} failed")
        except RuntimeError:
            logger.exception("validate failed")
    text = caplog.text
    assert TOKEN not in text
    assert "refreshed token **** for bot" in text
    assert "token=****" in text
    assert twitch.redact(f"Bearer {TOKEN}") == "Bearer ****"


def test_secret_filter_scrubs_quoted_forms_and_urls() -> None:
    url = "rtmp://live.twitch.tv/app/live_123_abcdef"
    secrets = SecretFilter([TOKEN, None, "abc", *secrets_of(url)], noise=("noisy",))
    assert secrets.redact(f"connect {url} failed") == f"connect {redact_url(url)} failed"
    assert secrets.redact("abc stays") == "abc stays"  # too short to be a secret
    quoted = SecretFilter(["key/with space"])
    assert quoted.redact("q=key%2Fwith%20space") == "q=****"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "noisy line %s", (TOKEN,), None)
    assert not secrets.filter(record)
    assert scrub(f"{url} {TOKEN}", secrets_of(url, [TOKEN])) == f"{redact_url(url)} ****"
