"""Chat control of the live pipeline: the real twitchio bot against a fake Twitch on 127.0.0.1, and stdin."""
from __future__ import annotations

import io
import logging
import threading
import time

import av
import pytest
import twitchio.backoff
from fake_twitch import FakeTwitch, poll, restore_twitchio_endpoints  # noqa: F401 - an autouse fixture
from test_live import FAST

from stream.chat.tokens import write_token_file
from stream.cli.main import main
from stream.settings.twitch import BOT_SCOPES

BOT_ID, OWNER_ID = "1001", "2002"


def logged(caplog, text: str) -> bool:
    return any(text in r.getMessage() for r in list(caplog.records))


@pytest.mark.slow
def test_viewer_changes_the_dream_from_twitch_chat(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(twitchio.backoff.Backoff, "calculate", lambda self: 0.2)
    fake = FakeTwitch()
    bot = fake.add_user(BOT_ID, "dreambot", list(BOT_SCOPES))
    fake.add_user(OWNER_ID, "dreamer", ["channel:bot"])
    fake.start()
    try:
        tokens = tmp_path / "tokens.json"
        write_token_file(tokens, {BOT_ID: {"user_id": BOT_ID, "token": bot.token, "refresh": bot.refresh,
                                           "last_validated": "2026-01-01T00:00:00"}})
        cfg = tmp_path / "chat.yaml"
        cfg.write_text(
            "chat:\n  user_cooldown_s: 0\n  global_cooldown_s: 0\n"
            f"twitch:\n  client_id: {fake.client_id}\n  bot_id: '{BOT_ID}'\n  broadcaster_id: '{OWNER_ID}'\n"
            f"  channel: dreamer\n  helix_url: {fake.helix_url}\n  oauth_url: {fake.oauth_url}\n"
            f"  eventsub_url: {fake.eventsub_url}\n  token_file: {tokens}\n"
        )
        monkeypatch.setenv("TWITCH_CLIENT_SECRET", fake.client_secret)
        out = tmp_path / "live.mp4"
        result: dict[str, int] = {}
        argv = ["live", "--input", "testsrc", "--output", str(out), "--control", "twitch", "--config", str(cfg),
                "--duration", "12", *FAST]
        runner = threading.Thread(target=lambda: result.setdefault("rc", main(argv)))
        runner.start()
        assert fake.wait_for(lambda: len(fake.subscriptions) == 1 and fake.sessions(), 15)

        t0 = time.monotonic()
        assert fake.send_chat("3003", "viewer1", "!dream goldfish", broadcaster_id=OWNER_ID) == 1
        assert poll(lambda: logged(caplog, "now dreaming class goldfish"), 1.0)
        assert time.monotonic() - t0 < 1.0
        assert fake.wait_for(lambda: any("now: goldfish" in m["message"] for m in fake.messages), 2)

        assert fake.drop_websockets() == 1
        assert fake.wait_for(lambda: len(fake.subscriptions) == 2 and fake.sessions(), 8)
        fake.send_chat("4004", "amod", "!layer eyes", broadcaster_id=OWNER_ID, badges=("moderator",))
        fake.send_chat("4004", "amod", "!skip", broadcaster_id=OWNER_ID, badges=("moderator",))
        assert poll(lambda: logged(caplog, "now dreaming layer block9"), 2.0)
        fake.send_chat("3005", "viewer3", "!lock", broadcaster_id=OWNER_ID)
        assert fake.wait_for(
            lambda: any("@viewer3 !lock is for moderators only" in m["message"] for m in fake.messages), 2
        )
        runner.join(60)
    finally:
        fake.stop()
    assert result["rc"] == 0
    with av.open(str(out)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert abs(frames - 12 * 30) <= 2, frames  # 12 s at a constant 30 fps (a loaded machine may end a frame early)
    assert fake.client_secret not in caplog.text and bot.token not in caplog.text


@pytest.mark.slow
def test_stdin_control_drives_the_same_command_layer(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr("sys.stdin", io.StringIO("!dream zebra\n!octaves 99\n"))
    rc = main(["live", "--input", "testsrc", "--output", "null", "--control", "stdin", "--duration", "3", *FAST])
    assert rc == 0
    assert logged(caplog, "now dreaming class zebra")
