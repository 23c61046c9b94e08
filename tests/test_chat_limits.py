"""The chat layer's small rooms on their own: limits with time passed in, roles, handlers, requests."""
from __future__ import annotations

import pytest

from stream.chat.handlers import USAGE, Handlers
from stream.chat.limits import LastSeen, RateLimits, TokenBucket
from stream.chat.requests import Redemption, RequestQueue
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


# ----------------------------------------------------------------------------- the request queue's rules


def request_queue(queue_size: int = 5) -> tuple[ControlBoard, RequestQueue]:
    limits = ChatLimits(hold_s=10.0, queue_size=queue_size)
    board = ControlBoard(LiveControls(layer="block9"), limits)
    return board, RequestQueue(board, limits, board.base_layer)


def paid(rid: str, uid: str) -> Redemption:
    return Redemption(rid, uid, f"n{uid}", deadline=1000.0)


def order(queue: RequestQueue) -> list[str]:
    return [r.label for r in queue.waiting]


def test_joining_a_waiting_request_moves_it_up_one_place_even_past_a_paid_one():
    _, queue = request_queue()
    queue.submit("a", "ann", "layer", "block4", "block4", 0.0)  # active
    queue.submit("b", "bob", "layer", "block6", "block6", 1.0)
    queue.submit("c", "cy", "layer", "block2", "block2", 2.0, paid=paid("r1", "c"), first=True)
    queue.submit("d", "dee", "layer", "block3", "block3", 3.0)
    assert order(queue) == ["block2", "block6", "block3"]
    assert queue.submit("e", "eve", "layer", "block6", "block6", 4.0).reply == "@eve joined block6: #1, 2 asking"
    assert order(queue) == ["block6", "block2", "block3"]  # swapped with the paid one before it
    assert queue.submit("f", "fay", "layer", "block6", "block6", 5.0).reply == "@fay joined block6: #1, 3 asking"
    assert order(queue) == ["block6", "block2", "block3"]  # the first stays first
    # a paid join without first moves up one place too; with first it goes ahead of the free ones instead
    assert queue.submit("g", "gus", "layer", "block3", "block3", 6.0, paid=paid("r2", "g")).accepted
    assert order(queue) == ["block6", "block3", "block2"]
    queue.submit("h", "hal", "layer", "block5", "block5", 7.0)
    queue.submit("i", "ida", "layer", "block5", "block5", 8.0, paid=paid("r3", "i"), first=True)
    assert order(queue) == ["block5", "block6", "block3", "block2"]  # just before the first free one


def test_a_first_redemption_waits_just_before_the_first_free_request():
    _, queue = request_queue()
    queue.submit("a", "ann", "layer", "block4", "block4", 0.0)  # active
    queue.submit("b", "bob", "layer", "block6", "block6", 1.0)
    queue.submit("c", "cy", "layer", "block3", "block3", 2.0)
    assert queue.submit("d", "dee", "layer", "block2", "block2", 3.0, paid=paid("r1", "d"), first=True).reply == (
        "@dee block2 queued #1")
    assert queue.submit("e", "eve", "layer", "block5", "block5", 4.0, paid=paid("r2", "e"), first=True).reply == (
        "@eve block5 queued #2")
    assert queue.submit("f", "fay", "layer", "block7", "block7", 5.0, paid=paid("r3", "f")).reply == (
        "@fay block7 queued #5")  # paid without first: at the end
    assert order(queue) == ["block2", "block5", "block6", "block3", "block7"]


def test_asking_again_for_ones_own_waiting_request():
    _, queue = request_queue()
    queue.submit("a", "ann", "layer", "block4", "block4", 0.0)  # active
    queue.submit("b", "bob", "layer", "block6", "block6", 1.0)
    queue.submit("c", "cy", "layer", "block3", "block3", 2.0)
    again = queue.submit("c", "cy", "layer", "block3", "block3", 3.0)
    assert (again.reply, again.accepted) == ("@cy block3 is already waiting for you at #2", False)
    # a redemption rides on it (not accepted either: no cooldown to stamp) and, with first, moves it ahead
    again = queue.submit("c", "cy", "layer", "block3", "block3", 4.0, paid=paid("r1", "c"), first=True)
    assert (again.reply, again.accepted) == ("@cy block3 is already waiting for you at #1", False)
    assert order(queue) == ["block3", "block6"] and queue.settled == []
    # one redemption per viewer and request: a second one is refunded
    again = queue.submit("c", "cy", "layer", "block3", "block3", 5.0, paid=paid("r2", "c"))
    assert again.reply == "@cy block3 is already waiting for you at #1; points refunded" and not again.accepted
    assert [(r.id, r.status) for r in queue.settled] == [("r2", "CANCELED")]


def test_a_full_queue_counts_the_askers_own_request_as_room_when_nobody_else_asks_for_it():
    _, queue = request_queue(queue_size=1)
    queue.submit("a", "ann", "layer", "block4", "block4", 0.0)  # active
    queue.submit("b", "bob", "layer", "block6", "block6", 1.0)
    replaced = queue.submit("b", "bob", "layer", "block3", "block3", 2.0)
    assert replaced.reply == "@bob block3 queued #1 (replaces block6)"
    full = queue.submit("c", "cy", "layer", "block5", "block5", 3.0)
    assert (full.reply, full.accepted) == ("@cy the queue is full (1), try again later", False)
    queue.submit("c", "cy", "layer", "block3", "block3", 4.0)  # joins bob's
    assert queue.submit("b", "bob", "layer", "block6", "block6", 5.0).reply == (
        "@bob the queue is full (1), try again later")  # cy still asks for block3: no room
    refused = queue.submit("d", "dee", "layer", "block5", "block5", 6.0, paid=paid("r1", "d"), first=True)
    assert refused.reply == "@dee the queue is full (1), try again later; points refunded"
    assert [(r.id, r.status) for r in queue.settled] == [("r1", "CANCELED")] and order(queue) == ["block3"]


def test_take_over_replaces_only_the_askers_own_active_request_with_a_free_one():
    board, queue = request_queue()
    queue.submit("m", "mod", "layer", "block4", "block4", 0.0, take_over=True)
    taken = queue.submit("m", "mod", "layer", "block6", "block6", 1.0, take_over=True)
    assert (taken.reply, taken.accepted) == ("@mod now: block6 for 10s", True)
    assert board.get().layer == "block6" and queue.waiting == []
    refused = queue.submit("m", "mod", "layer", "nosuchlayer", "nosuchlayer", 2.0, take_over=True)
    assert (refused.reply, refused.accepted) == ("@mod can't use nosuchlayer right now", False)
    assert board.get().layer == "block6" and queue.active is not None and queue.active.label == "block6"
    # a paid request waits its turn, as does any request while someone else shares the active one
    assert queue.submit("m", "mod", "layer", "block3", "block3", 3.0, paid=paid("r1", "m"), take_over=True).reply == (
        "@mod block3 queued #1")
    queue.submit("v", "viv", "layer", "block6", "block6", 4.0)
    assert queue.submit("m", "mod", "layer", "block2", "block2", 5.0, take_over=True).reply == (
        "@mod block2 queued #1 (replaces block3)")
    assert board.get().layer == "block6"


def test_a_redemption_for_the_active_request_is_fulfilled_at_once():
    board, queue = request_queue()
    queue.submit("a", "ann", "layer", "block4", "block4", 0.0)
    joined = queue.submit("b", "bob", "layer", "block4", "block4", 3.0, paid=paid("r1", "b"))
    assert (joined.reply, joined.accepted) == ("@bob block4 is on now (7s left), you're in", True)
    assert board.get().requested_by == ("ann", "bob")
    assert [(r.id, r.status, r.label) for r in queue.settled] == [("r1", "FULFILLED", "block4")]


def test_a_request_the_board_refuses_when_nothing_waits_is_refused_and_refunded():
    _, queue = request_queue()
    refused = queue.submit("a", "ann", "layer", "nosuchlayer", "nosuchlayer", 0.0)
    assert (refused.reply, refused.accepted) == ("@ann can't use nosuchlayer right now", False)
    refused = queue.submit("a", "ann", "layer", "nosuchlayer", "nosuchlayer", 1.0, paid=paid("r1", "a"))
    assert refused.reply == "@ann can't use nosuchlayer right now; points refunded"
    assert [(r.id, r.status) for r in queue.settled] == [("r1", "CANCELED")]
    assert list(queue.announcements) == [] and queue.active is None and queue.waiting == []
