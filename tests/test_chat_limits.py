"""The chat layer's small rooms on their own: limits with time passed in, roles, handlers, requests."""
from __future__ import annotations

import pytest

from stream.chat.handlers import USAGE, Handlers
from stream.chat.limits import LastSeen, RateLimits, TokenBucket
from stream.chat.requests import RequestQueue
from stream.chat.roles import commands_for, may_run, refusal
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.names import COMMANDS, MOD_COMMANDS, ROLE_PLURAL, ROLE_RANK, ROLES, VIEWER_COMMANDS


def test_last_seen_cools_down_and_ignores_a_clock_that_went_back():
    seen = LastSeen(10.0)
    assert seen.take("a", 100.0)
    assert not seen.take("a", 105.0) and seen.left("a", 105.0) == pytest.approx(5.0)
    assert seen.left("a", 99.0) == 0.0  # a time before the stamp never blocks
    assert seen.take("b", 105.0)  # per viewer
    assert seen.take("a", 110.0)
    seen.prune(200.0, keep_s=10.0)
    assert len(seen) == 0


def test_token_bucket_bursts_then_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=4.0)
    assert [bucket.take(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert not bucket.take(0.4)  # 0.8 tokens
    assert bucket.take(0.5)  # 1.0 token
    assert not bucket.take(0.5)
    assert [bucket.take(100.0) for _ in range(5)] == [True] * 4 + [False]  # never more than the burst


def test_rate_limits_join_the_viewer_and_the_global_cooldown():
    rates = RateLimits(ChatLimits(user_cooldown_s=10.0, global_cooldown_s=2.0, info_cooldown_s=5.0))
    assert rates.request_wait("a", 0.0) == 0.0
    rates.stamp_request("a", 0.0)
    assert rates.request_wait("a", 1.0) == pytest.approx(9.0)
    assert rates.request_wait("b", 1.0) == pytest.approx(1.0)  # everyone waits for the global cooldown
    assert rates.request_wait("b", 2.0) == 0.0
    assert rates.take_info("a", 0.0) and not rates.take_info("a", 4.9) and rates.take_info("a", 5.0)
    assert rates.take_refusal("a", 0.0) and not rates.take_refusal("a", 1.0)


def test_roles_are_defined_once_and_ranked_in_order():
    assert tuple(ROLE_RANK) == ROLES and list(ROLE_RANK.values()) == list(range(len(ROLES)))
    assert set(ROLE_PLURAL) == set(ROLES)
    assert may_run("moderator", "viewer") and may_run("broadcaster", "moderator")
    assert not may_run("viewer", "moderator") and not may_run("broadcaster", "off")
    assert refusal("ann", "skip", "moderator") == "@ann !skip is for moderators only"
    limits = ChatLimits()
    assert commands_for("viewer", limits) == VIEWER_COMMANDS
    assert commands_for("moderator", limits) == VIEWER_COMMANDS + MOD_COMMANDS
    assert "skip" not in commands_for("broadcaster", ChatLimits(roles={"skip": "off"}))


def test_every_command_has_a_handler_and_a_usage_line():
    limits = ChatLimits()
    board = ControlBoard(LiveControls(), limits)
    requests = RequestQueue(board, limits, board.base_layer)
    handlers = Handlers(board, limits, requests, RateLimits(limits), None, None)  # type: ignore[arg-type]
    for name in COMMANDS:
        assert callable(handlers.get(name)) and name in USAGE
    with pytest.raises(KeyError):
        handlers.get("board")  # an attribute, not a command


def test_request_queue_merges_identical_requests_and_holds_each_for_hold_s():
    limits = ChatLimits(hold_s=10.0, queue_size=2)
    board = ControlBoard(LiveControls(layer="block9"), limits)
    queue = RequestQueue(board, limits, board.base_layer)
    assert queue.submit("a", "ann", "layer", "block4", "block4", 0.0).accepted
    assert board.get().layer == "block4" and board.get().requested_by == ("ann",)
    assert queue.submit("b", "bob", "layer", "block6", "block6", 1.0).reply == "@bob block6 queued #1"
    joined = queue.submit("c", "cy", "layer", "block6", "block6", 2.0)
    assert joined.accepted and "2 asking" in joined.reply and len(queue.waiting) == 1
    queue.advance(9.9)
    assert board.get().layer == "block4"
    queue.advance(10.0)
    assert board.get().layer == "block6" and board.get().requested_by == ("bob", "cy")
    assert list(queue.announcements) == ["@bob @cy your block6 is on now for 10s"]
    queue.advance(20.0)
    assert board.get().layer == "block9" and queue.active is None


def test_chat_resolves_layer_names_through_the_board_only():
    from stream.chat import ChatMessage, CommandCenter
    from stream.settings.controls import registry_layer

    asked: list[str] = []

    def resolve(model: str, layer: str) -> str:
        asked.append(layer)
        return registry_layer(model, layer)

    limits = ChatLimits(user_cooldown_s=0.0, global_cooldown_s=0.0)
    board = ControlBoard(LiveControls(layer="block9"), limits, resolve_layer=resolve)
    center = CommandCenter(board, limits)
    assert center.handle(ChatMessage("v1", "ann", "!layer dogs"), 0.0) == ["@ann now: dogs (block10) for 45s"]
    assert "dogs" in asked
    reply = center.handle(ChatMessage("v2", "bob", "!layer blok4"), 1.0)
    assert reply[0].startswith("@bob no layer 'blok4' (did you mean block4, ") and reply[0].endswith("; see !layers")
