"""The twitchio bot against a fake Twitch on 127.0.0.1: EventSub in, Helix replies out."""
from __future__ import annotations

import json
import logging
import os
import stat
import time

import pytest
import twitchio.backoff
from fake_twitch import FakeTwitch, poll, restore_twitchio_endpoints  # noqa: F401 - an autouse fixture

from engine.errors import ConfigError
from stream.chat import CommandCenter
from stream.chat.bot import run_bot_in_thread
from stream.chat.login import twitch_login
from stream.chat.tokens import read_token_file, write_token_file
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.twitch import BOT_SCOPES, TwitchSettings

BOT_ID, OWNER_ID = "1001", "2002"


@pytest.fixture
def fake():
    f = FakeTwitch()
    f.add_user(BOT_ID, "dreambot", list(BOT_SCOPES))
    f.add_user(OWNER_ID, "dreamer", ["channel:bot"])
    f.start()
    yield f
    f.stop()


def settings_for(fake: FakeTwitch, token_file: str) -> TwitchSettings:
    return TwitchSettings(client_id=fake.client_id, bot_id=BOT_ID, broadcaster_id=OWNER_ID, channel="dreamer",
                          helix_url=fake.helix_url, oauth_url=fake.oauth_url, eventsub_url=fake.eventsub_url,
                          token_file=token_file)


def replies_with(fake: FakeTwitch, text: str) -> list[dict]:
    return [m for m in list(fake.messages) if text in m["message"]]


def test_bot_end_to_end_with_reconnect(fake, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="twitchio")  # a CLI run earlier in the process set it to WARNING
    monkeypatch.setattr(twitchio.backoff.Backoff, "calculate", lambda self: 0.2)  # real delays: 0-6 s, growing
    bot_user = fake.users[BOT_ID]
    token_file = tmp_path / "tokens.json"
    write_token_file(token_file, {BOT_ID: {"user_id": BOT_ID, "token": bot_user.token,
                                           "refresh": bot_user.refresh, "last_validated": "2026-01-01T00:00:00"}})
    limits = ChatLimits(user_cooldown_s=0.0, global_cooldown_s=0.0, hold_s=45.0)
    board = ControlBoard(LiveControls(), limits)
    center = CommandCenter(board, limits)
    center.classes.find_class("goldfish")  # build the lookup tables outside the timed part

    runner = run_bot_in_thread(settings_for(fake, str(token_file)), center, client_secret=fake.client_secret,
                               pump_s=0.05)
    try:
        assert runner.wait_ready(10), runner.error
        assert fake.wait_for(lambda: len(fake.subscriptions) == 1, 5)
        first_session = fake.subscriptions[0]["transport"]["session_id"]

        t0 = time.monotonic()
        assert fake.send_chat("3003", "viewer1", "!dream goldfish", broadcaster_id=OWNER_ID) == 1
        assert poll(lambda: board.get().target == 1, 1.0)
        assert time.monotonic() - t0 < 1.0
        assert board.get().requested_by == ("viewer1",)
        assert fake.wait_for(lambda: replies_with(fake, "now: goldfish"), 2)
        reply = replies_with(fake, "now: goldfish")[0]
        assert reply == {"broadcaster_id": OWNER_ID, "sender_id": BOT_ID, "message": "@viewer1 now: goldfish for 45s"}

        # the bot's own messages and plain chat are ignored
        fake.send_chat(BOT_ID, "dreambot", "!dream zebra", broadcaster_id=OWNER_ID)
        fake.send_chat("3003", "viewer1", "nice stream", broadcaster_id=OWNER_ID)

        # Twitch drops the websocket: the bot reconnects and subscribes again on the new session
        assert fake.drop_websockets() == 1
        assert fake.wait_for(lambda: len(fake.subscriptions) == 2 and fake.sessions(), 8)
        assert fake.subscriptions[1]["transport"]["session_id"] != first_session

        assert fake.send_chat("3004", "viewer2", "!layer eyes", broadcaster_id=OWNER_ID) == 1
        assert fake.wait_for(lambda: replies_with(fake, "@viewer2 eyes (block9) queued #1"), 2)
        fake.send_chat("4004", "amod", "!skip", broadcaster_id=OWNER_ID, badges=("moderator",))
        assert poll(lambda: board.get().requested_by == ("viewer2",), 1.0)
        assert board.get().target is None and board.get().layer == "block9"
        assert fake.wait_for(lambda: replies_with(fake, "@amod skipped goldfish; now eyes (block9)")
                             and replies_with(fake, "@viewer2 your eyes (block9) is on now for 45s"), 2)
        # an outage: the first two reconnects fail, twitchio backs off (made short here) and retries
        fake.refuse_websockets = 2
        assert fake.drop_websockets() == 1
        assert fake.wait_for(lambda: len(fake.subscriptions) == 3 and fake.sessions(), 8)
        assert fake.refuse_websockets == 0
        fake.send_chat("3005", "viewer3", "!octaves 1", broadcaster_id=OWNER_ID)
        assert fake.wait_for(lambda: replies_with(fake, "@viewer3 !octaves is for moderators only"), 2)
        assert board.get().octaves == 4  # unchanged: the default
        assert not replies_with(fake, "zebra")
    finally:
        runner.stop(5)
    assert not runner.running and runner.error is None

    # tokens saved on close, in twitchio's format, readable only by us
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    saved = read_token_file(token_file)
    assert saved[BOT_ID]["token"] == bot_user.token and saved[BOT_ID]["refresh"] == bot_user.refresh
    # secrets never reach the logs
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "twitchio" in {r.name.split(".")[0] for r in caplog.records}
    for secret in (fake.client_secret, bot_user.token, bot_user.refresh, fake.app_token):
        assert secret not in text
    assert fake.client_secret not in repr(runner) + repr(runner.bot)


def test_bot_start_failure_is_reported_not_raised(fake, tmp_path):
    limits = ChatLimits()
    center = CommandCenter(ControlBoard(LiveControls(), limits), limits)
    runner = run_bot_in_thread(settings_for(fake, str(tmp_path / "t.json")), center, client_secret="wrong-secret")
    try:
        assert not runner.wait_ready(5)
    finally:
        runner.stop(5)
    assert str(runner.error) == ("Twitch chat bot stopped: Twitch answered HTTP 403 to POST /oauth2/token: "
                                 "invalid client secret")
    assert not (tmp_path / "t.json").exists()  # nothing loaded, nothing written


def test_twitch_login_device_flow_saves_tokens_0600(fake, tmp_path):
    token_file = tmp_path / "cfg" / "tokens.json"
    settings = settings_for(fake, str(token_file))
    fake.device_user = BOT_ID
    shown: list[str] = []
    assert twitch_login(settings, shown.append, account="bot") == BOT_ID
    assert fake.device_polls == 2  # polled once while "authorization_pending"
    assert "ABCDWXYZ" in shown[0] and "user:write:chat" in shown[0]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    data = json.loads(token_file.read_text())
    assert data[BOT_ID]["token"] == fake.users[BOT_ID].token
    # the wrong account is refused and nothing is written for it
    fake.device_user, fake.device_polls = OWNER_ID, 0
    with pytest.raises(ConfigError, match="twitch.bot_id is 1001"):
        twitch_login(settings, shown.append, account="bot")
    assert list(read_token_file(token_file)) == [BOT_ID]


def test_settings_validation(monkeypatch):
    from stream.settings.loader import build_section

    def twitch(**kw):
        return build_section("twitch", TwitchSettings, {"client_id": "c", "bot_id": "1", "broadcaster_id": "2", **kw})

    with pytest.raises(ConfigError, match="helix_url"):
        twitch(helix_url="http://api.example.com/helix/")
    with pytest.raises(ConfigError, match="bot_id"):
        twitch(bot_id="dreambot")
    with pytest.raises(ConfigError, match="unknown key twitch.chanel"):
        twitch(chanel="x")
    with pytest.raises(ConfigError, match="twitch.client_id: is empty"):
        twitch(client_id=" ")
    with pytest.raises(ConfigError, match="twitch.client_id is not set; put client_id"):
        build_section("twitch", TwitchSettings, {"bot_id": "1", "broadcaster_id": "2"})
    s = twitch(bot_id=1, broadcaster_id=2, eventsub_url="ws://localhost:1/ws")
    assert s.bot_id == "1"
    monkeypatch.delenv("TWITCH_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="TWITCH_CLIENT_SECRET"):
        run_bot_in_thread(s, None)  # type: ignore[arg-type]
    monkeypatch.setenv("TWITCH_CLIENT_SECRET", "s3cr3t-value")
    assert s.client_secret() == "s3cr3t-value" and "s3cr3t" not in repr(s)


def test_token_file_format_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"1": {"refresh": "x"}}')
    with pytest.raises(ConfigError, match="not twitchio's token JSON"):
        read_token_file(bad)
    assert read_token_file(tmp_path / "missing.json") == {}
