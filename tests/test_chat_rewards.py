"""Channel-point rewards: the real twitchio bot against the fake Twitch (Helix rewards, EventSub
redemptions), and the command layer's settling of paid requests on its own."""
from __future__ import annotations

import dataclasses
import logging

import pytest
from fake_twitch import FakeTwitch, poll, restore_twitchio_endpoints  # noqa: F401 - an autouse fixture

from engine.errors import ConfigError
from stream.chat.bot import run_bot_in_thread
from stream.chat.dispatcher import CommandCenter
from stream.chat.message import ChatMessage
from stream.chat.tokens import write_token_file
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.loader import load_config
from stream.settings.rewards import RewardSettings, rewards_from
from stream.settings.twitch import BOT_SCOPES, BROADCASTER_SCOPES, TwitchSettings

BOT_ID, OWNER_ID = "1001", "2002"
REWARDS = [
    {"title": "Dream of ...", "cost": 500, "prompt": "an ImageNet class", "command": "dream", "cooldown_s": 60,
     "max_per_stream": 50, "max_wait_s": 1.5},
    {"title": "Pick the dream layer", "cost": 200, "prompt": "a layer: eyes, dogs, strokes", "command": "layer"},
]


@pytest.fixture
def fake(tmp_path):
    f = FakeTwitch()
    f.add_user(BOT_ID, "dreambot", list(BOT_SCOPES))
    f.add_user(OWNER_ID, "dreamer", list(BROADCASTER_SCOPES))
    f.start()
    f.add_reward(OWNER_ID, "Hydrate!", 100)  # made by hand on the dashboard: not ours, left alone
    yield f
    f.stop()


def settings_for(fake: FakeTwitch, tmp_path) -> TwitchSettings:
    tokens = tmp_path / "tokens.json"
    write_token_file(tokens, {u.user_id: {"user_id": u.user_id, "token": u.token, "refresh": u.refresh,
                                          "last_validated": "2026-01-01T00:00:00"} for u in fake.users.values()})
    return TwitchSettings(client_id=fake.client_id, bot_id=BOT_ID, broadcaster_id=OWNER_ID, channel="dreamer",
                          helix_url=fake.helix_url, oauth_url=fake.oauth_url, eventsub_url=fake.eventsub_url,
                          token_file=str(tokens), rewards=REWARDS, rewards_first=True)  # type: ignore[arg-type]


def said(fake: FakeTwitch, text: str) -> bool:
    return any(text in m["message"] for m in list(fake.messages))


def test_redemptions_end_to_end(fake, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    settings = settings_for(fake, tmp_path)
    limits = ChatLimits(user_cooldown_s=0, global_cooldown_s=0, hold_s=45)
    board = ControlBoard(LiveControls(), limits)
    center = CommandCenter(board, limits)
    center.classes.find_class("goldfish")  # build the lookup tables before the timed part

    def ours() -> dict[str, dict]:
        return {r["title"]: r for r in fake.rewards.values() if r["_client_id"] == fake.client_id}

    runner = run_bot_in_thread(settings, center, client_secret=fake.client_secret, pump_s=0.05)
    try:
        assert runner.wait_ready(10), runner.error
        assert fake.wait_for(lambda: len(fake.subscriptions) == 2, 5)
        kinds = {s["type"]: s["condition"] for s in fake.subscriptions}
        assert kinds["channel.channel_points_custom_reward_redemption.add"]["broadcaster_user_id"] == OWNER_ID
        rewards = ours()
        assert set(rewards) == {"Dream of ...", "Pick the dream layer"} and fake.reward_posts == 2
        dream = rewards["Dream of ..."]
        assert dream["cost"] == 500 and dream["prompt"] == "an ImageNet class" and dream["is_user_input_required"]
        assert dream["global_cooldown_setting"] == {"is_enabled": True, "global_cooldown_seconds": 60}
        assert dream["max_per_stream_setting"] == {"is_enabled": True, "max_per_stream": 50}

        # a valid redemption goes on screen and is FULFILLED
        first = fake.redeem(dream["id"], "3003", "viewer1", "goldfish")
        assert poll(lambda: board.get().target == 1, 2)
        assert board.get().requested_by == ("viewer1",)
        assert fake.wait_for(lambda: fake.status_of(first) == "FULFILLED", 3)
        assert fake.wait_for(lambda: said(fake, "@viewer1 now: goldfish for 45s"), 3)

        # an invalid one is CANCELED (refunded) with a reply
        bad = fake.redeem(dream["id"], "3004", "viewer2", "qqqzzzxx")
        assert fake.wait_for(lambda: fake.status_of(bad) == "CANCELED", 3)
        assert fake.wait_for(lambda: said(fake, "@viewer2 no class 'qqqzzzxx'") and said(fake, "points refunded"), 3)

        # a queued one that waits past max_wait_s (1.5 s) is CANCELED
        late = fake.redeem(dream["id"], "3005", "viewer3", "zebra")
        assert fake.wait_for(lambda: said(fake, "@viewer3 zebra queued #1"), 3)
        assert fake.status_of(late) == "UNFULFILLED"
        assert fake.wait_for(lambda: fake.status_of(late) == "CANCELED", 5)
        assert fake.wait_for(lambda: said(fake, "@viewer3 your zebra did not come on in time; points refunded"), 3)
        assert center.waiting() == []

        # paid requests go ahead of free chat requests (rewards_first); the stream stopping refunds them
        fake.send_chat("3006", "viewer4", "!layer strokes", broadcaster_id=OWNER_ID)
        assert fake.wait_for(lambda: said(fake, "@viewer4 strokes"), 3)
        layer = fake.redeem(rewards["Pick the dream layer"]["id"], "3007", "viewer5", "eyes")
        assert fake.wait_for(lambda: said(fake, "@viewer5 eyes (block9) queued #1"), 3)
        assert [label for label, _ in center.waiting()] == ["eyes (block9)", "strokes (block0)"]
    finally:
        runner.stop(5)
    assert runner.error is None
    assert fake.status_of(layer) == "CANCELED"
    assert said(fake, "@viewer5 the stream stopped before your eyes (block9) came on; points refunded")
    assert [s for _, s in fake.status_updates] == ["FULFILLED", "CANCELED", "CANCELED", "CANCELED"]

    # the next start reuses the rewards it made: created once; a changed cost is updated in place
    changed = dataclasses.replace(settings, rewards=(dataclasses.replace(settings.rewards[0], cost=650),
                                                     settings.rewards[1]))
    runner = run_bot_in_thread(changed, CommandCenter(board, limits), client_secret=fake.client_secret)
    try:
        assert runner.wait_ready(10), runner.error
        assert fake.wait_for(lambda: len(fake.subscriptions) == 4, 5)
    finally:
        runner.stop(5)
    assert fake.reward_posts == 2 and len(ours()) == 2 and len(fake.rewards) == 3
    assert ours()["Dream of ..."]["cost"] == 650 and ours()["Dream of ..."]["id"] == dream["id"]
    assert "updated the channel-point reward 'Dream of ...' (650 points)" in caplog.text
    assert "reusing the channel-point reward 'Pick the dream layer'" in caplog.text


def test_a_broadcaster_token_without_the_scope_leaves_chat_working(fake, tmp_path, caplog):
    fake.users[OWNER_ID].scopes = ["channel:bot"]
    limits = ChatLimits(user_cooldown_s=0, global_cooldown_s=0)
    board = ControlBoard(LiveControls(), limits)
    runner = run_bot_in_thread(settings_for(fake, tmp_path), CommandCenter(board, limits),
                               client_secret=fake.client_secret, pump_s=0.05)
    try:
        assert runner.wait_ready(10), runner.error
        fake.send_chat("3003", "viewer1", "!dream goldfish", broadcaster_id=OWNER_ID)
        assert poll(lambda: board.get().target == 1, 3)
    finally:
        runner.stop(5)
    assert "channel-point rewards are off" in caplog.text and "channel:manage:redemptions" in caplog.text
    assert fake.reward_posts == 0


def test_paid_requests_in_the_command_layer():
    limits = ChatLimits(user_cooldown_s=30, global_cooldown_s=10, hold_s=10, queue_size=2)
    board = ControlBoard(LiveControls(), limits)
    c = CommandCenter(board, limits)
    assert c.redeem("r1", "1", "ann", "dream", "goldfish", 0.0) == ["@ann now: goldfish for 10s"]
    # no cooldown for a paid request (the viewer paid), queued behind the active one
    assert c.redeem("r2", "1", "ann", "dream", "zebra", 0.5) == ["@ann zebra queued #1"]
    assert c.handle(ChatMessage("2", "bob", "!dream volcano"), 1.0) == ["@bob volcano queued #2"]
    assert c.redeem("r3", "3", "cy", "dream", "lemon", 1.5) == [("@cy the queue is full (2), try again later; "
                                                                  "points refunded")]
    assert c.redeem("r4", "4", "dee", "dream", "", 1.5)[0].endswith("points refunded")
    assert c.redeem("r5", "5", "eve", "layer", "nosuchlayer", 1.5)[0].startswith("@eve no layer 'nosuchlayer'")
    settled = [(r.id, r.status) for r in c.drain_settled()]
    assert settled == [("r1", "FULFILLED"), ("r3", "CANCELED"), ("r4", "CANCELED"), ("r5", "CANCELED")]
    c.tick(10.0)  # goldfish ends, zebra comes on
    assert board.get().target_name == "zebra" and [(r.id, r.status) for r in c.drain_settled()] == [("r2", "FULFILLED")]
    # the same viewer asking again replaces their waiting request: the old one is refunded
    c.tick(20.0)
    assert c.redeem("r6", "6", "fay", "dream", "lemon", 20.0, first=True) == ["@fay lemon queued #1"]
    assert c.redeem("r7", "6", "fay", "dream", "banana", 21.0, first=True) == ["@fay banana queued #1 (replaces lemon)"]
    assert [(r.id, r.status) for r in c.drain_settled()] == [("r6", "CANCELED")]
    assert "@fay your lemon was replaced by your new request; points refunded" in c.drain_announcements()
    # a moderator's !clear refunds what waits; a locked chat refuses new ones
    c.handle(ChatMessage("9", "mod", "!clear", is_mod=True), 22.0)
    assert [(r.id, r.status) for r in c.drain_settled()] == [("r7", "CANCELED")]
    c.handle(ChatMessage("9", "mod", "!lock", is_mod=True), 22.0)
    assert c.redeem("r8", "7", "gus", "dream", "lemon", 23.0) == [("@gus chat control is locked right now; "
                                                                   "points refunded")]


def test_rewards_load_from_a_config_file(tmp_path):
    cfg = tmp_path / "rewards.yaml"
    cfg.write_text("twitch:\n  client_id: abc\n  bot_id: '1'\n  broadcaster_id: '2'\n  rewards_first: true\n"
                   "  rewards:\n    - {title: 'Dream of ...', cost: 500, prompt: an ImageNet class, command: dream,"
                   " cooldown_s: 60, max_per_stream: 50}\n")
    twitch = load_config(user_file=cfg).section("twitch")
    assert twitch.rewards_first and twitch.rewards == (RewardSettings("Dream of ...", 500, "an ImageNet class",
                                                                      "dream", 60, 50),)
    cfg.write_text("twitch:\n  client_id: abc\n  bot_id: '1'\n  broadcaster_id: '2'\n"
                   "  rewards:\n    - {title: 'Dream of ...', cost: many}\n")
    with pytest.raises(ConfigError, match="cost"):
        load_config(user_file=cfg).section("twitch")


def test_reward_settings_are_checked():
    assert rewards_from(None) == ()
    r = RewardSettings.from_mapping({"title": "Dream of ...", "cost": 500})
    assert r.command == "dream" and r.max_wait_s == 300.0
    for data, message in [
        ({"title": "x" * 46, "cost": 1}, "title"),
        ({"title": "a", "cost": 0}, "cost"),
        ({"title": "a", "cost": 5, "command": "dreem"}, "did you mean dream"),
        ({"title": "a", "cost": 5, "cooldwn_s": 3}, "unknown key twitch.rewards.cooldwn_s"),
        ({"cost": 5}, "needs title"),
        ({"title": "a", "cost": 5, "max_wait_s": 0}, "max_wait_s"),
    ]:
        with pytest.raises(ConfigError, match=message):
            RewardSettings.from_mapping(data)
    with pytest.raises(ConfigError, match="used twice"):
        rewards_from([{"title": "A", "cost": 1}, {"title": "a", "cost": 2}])
    with pytest.raises(ConfigError, match="must be a list"):
        rewards_from({"title": "A"})


def test_a_hostile_reward_is_one_short_line():
    """A huge value in ``twitch.rewards``: the error names the key with a short repr of the value."""
    huge = "x" * 100_000
    for bad, key in (([{"title": "Dream", "cost": huge}], "cost"), ([{"title": huge, "cost": 5}], "title"),
                     ([[list(range(5000))]], "each reward is a mapping")):
        with pytest.raises(ConfigError) as e:
            rewards_from(bad)
        text = str(e.value)
        assert key in text and len(text) < 300 and "\n" not in text, text
