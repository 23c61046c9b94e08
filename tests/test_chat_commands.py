"""The pure chat command layer: permissions, scheduling, bounds, rate limits, fuzzing."""
from __future__ import annotations

import dataclasses
import io
import logging
import random
import threading
import unicodedata

import pytest

from engine.errors import ConfigError
from stream.chat import ChatMessage, CommandCenter, OutgoingQueue, clean_reply, echo, parse_command
from stream.chat.console import StdinControl
from stream.live.overlay import overlay_lines
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls, check_controls
from stream.settings.loader import build_section
from stream.settings.names import MOD_COMMANDS

GOLDFISH, ZEBRA, JELLYFISH, BANANA = 1, 340, 107, 954


def limits(**kw) -> ChatLimits:
    base = dict(min_octaves=1, max_octaves=4, min_strength=0.25, max_strength=1.5,
                allowed_models=("efficientnet_lite0",), allowed_presets=("default", "fast"),
                hold_s=45.0, queue_size=5, user_cooldown_s=10.0, global_cooldown_s=2.0, info_cooldown_s=5.0)
    base.update(kw)
    return ChatLimits(**base)


def make(**kw) -> tuple[ControlBoard, CommandCenter]:
    lim = limits(**kw)
    board = ControlBoard(LiveControls(layer="block9", octaves=3), lim)
    return board, CommandCenter(board, lim)


def viewer(n: int, text: str) -> ChatMessage:
    return ChatMessage(f"v{n}", f"viewer{n}", text)


def mod(text: str) -> ChatMessage:
    return ChatMessage("m1", "mod1", text, is_mod=True)


def boss(text: str) -> ChatMessage:
    return ChatMessage("b1", "boss", text, is_broadcaster=True)


# ----------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("command", [f"!{c} 2" for c in MOD_COMMANDS])
def test_viewer_cannot_run_moderator_commands(command):
    board, center = make()
    before = board.snapshot()
    replies = center.handle(viewer(1, command), 0.0)
    assert len(replies) == 1 and "moderators only" in replies[0]
    assert board.snapshot() == before


def test_moderator_and_broadcaster_can_run_moderator_commands():
    board, center = make()
    assert "set to 4" in center.handle(mod("!octaves 4"), 0.0)[0]
    assert board.get().octaves == 4
    assert "set to none" in center.handle(boss("!flow none"), 1.0)[0]
    assert board.get().flow == "none"
    assert "set to fast" in center.handle(mod("!preset fast"), 2.0)[0]


def test_roles_are_configurable():
    board, center = make(roles={"strength": "moderator", "skip": "viewer", "targets": "off",
                                "lock": "broadcaster"})
    assert "moderators only" in center.handle(viewer(1, "!strength 1.2"), 0.0)[0]
    assert board.get().strength == 1.0
    assert center.handle(viewer(2, "!targets fish"), 0.0) == []  # off: silent
    assert "nothing to skip" in center.handle(viewer(3, "!skip"), 0.0)[0]
    assert "broadcaster only" in center.handle(mod("!lock"), 0.0)[0]
    assert "locked" in center.handle(boss("!lock"), 0.0)[0]
    with pytest.raises(ConfigError, match="roles.strength"):
        build_section("chat", ChatLimits, {"roles": {"strength": "admin"}})
    with pytest.raises(ConfigError, match="did you mean dream"):
        build_section("chat", ChatLimits, {"roles": {"dreem": "viewer"}})


def test_locked_refuses_viewer_commands_with_a_reply():
    board, center = make()
    center.handle(mod("!lock"), 0.0)
    assert board.get().locked
    for i, text in enumerate(["!dream goldfish", "!layer eyes", "!strength 1.2", "!status", "!help"]):
        replies = center.handle(viewer(i, text), 1.0)
        assert replies == [f"@viewer{i} chat control is locked right now"]
    assert board.get().target is None and board.get().strength == 1.0
    # moderators still can, and unlocking lets viewers in again
    assert "now: goldfish" in center.handle(mod("!dream goldfish"), 2.0)[0]
    center.handle(mod("!unlock"), 3.0)
    assert "queued #1" in center.handle(viewer(9, "!dream zebra"), 10.0)[0]


# ----------------------------------------------------------------------------- scheduling


def test_request_activates_holds_and_expires_on_tick():
    board, center = make(hold_s=45.0)
    replies = center.handle(viewer(1, "!dream goldfish"), 100.0)
    assert replies == ["@viewer1 now: goldfish for 45s"]
    c = board.get()
    assert (c.target, c.target_name, c.requested_by) == (GOLDFISH, "goldfish", ("viewer1",))
    assert c.active_until == 145.0
    center.handle(viewer(2, "!layer eyes"), 103.0)
    center.tick(144.9)
    assert board.get().target == GOLDFISH
    center.tick(145.0)
    c = board.get()
    assert (c.target, c.layer, c.requested_by, c.active_until) == (None, "block9", ("viewer2",), 190.0)
    assert center.drain_announcements() == ["@viewer2 your eyes (block9) is on now for 45s"]
    assert center.drain_announcements() == []
    center.tick(190.0)
    c = board.get()
    assert (c.target, c.layer, c.requested_by, c.active_until) == (None, "block9", (), None)
    assert center.queue_length() == 0


def test_layer_request_uses_the_alias_and_returns_to_the_base_layer():
    board, center = make(hold_s=10.0)
    assert center.handle(viewer(1, "!layer dogs"), 0.0) == ["@viewer1 now: dogs (block10) for 10s"]
    assert board.get().layer == "block10"
    center.tick(10.0)
    assert board.get().layer == "block9"


def test_queue_is_bounded():
    board, center = make(queue_size=3, user_cooldown_s=0.0, global_cooldown_s=0.0)
    center.handle(viewer(0, "!dream goldfish"), 0.0)  # active
    for i, name in enumerate(["zebra", "banana", "jellyfish"], start=1):
        assert f"queued #{i}" in center.handle(viewer(i, f"!dream {name}"), float(i))[0]
    replies = center.handle(viewer(4, "!dream tabby"), 5.0)
    assert replies == ["@viewer4 the queue is full (3), try again later"]
    assert center.queue_length() == 3
    # joining a waiting request still works when full
    assert "joined banana" in center.handle(viewer(5, "!dream banana"), 6.0)[0]


def test_one_waiting_request_per_viewer():
    board, center = make(user_cooldown_s=0.0, global_cooldown_s=0.0)
    center.handle(viewer(0, "!dream goldfish"), 0.0)
    center.handle(viewer(1, "!dream zebra"), 1.0)
    center.handle(viewer(2, "!dream banana"), 2.0)
    replies = center.handle(viewer(1, "!layer eyes"), 3.0)
    assert replies == ["@viewer1 eyes (block9) queued #2 (replaces zebra)"]
    assert center.waiting() == [("banana", ("viewer2",)), ("eyes (block9)", ("viewer1",))]
    assert "already waiting" in center.handle(viewer(1, "!layer block9"), 4.0)[0]


def test_identical_requests_merge_and_move_up():
    board, center = make(user_cooldown_s=0.0, global_cooldown_s=0.0, hold_s=30.0)
    center.handle(viewer(0, "!dream goldfish"), 0.0)
    center.handle(viewer(1, "!dream zebra"), 1.0)
    center.handle(viewer(2, "!dream banana"), 2.0)
    center.handle(viewer(3, "!dream jellyfish"), 3.0)
    assert center.handle(viewer(4, "!dream Jelly Fish"), 4.0) == ["@viewer4 joined jellyfish: #2, 2 asking"]
    assert center.handle(viewer(5, "!dream jellyfish"), 5.0) == ["@viewer5 joined jellyfish: #1, 3 asking"]
    assert [label for label, _ in center.waiting()] == ["jellyfish", "zebra", "banana"]
    # a viewer who joins leaves their own waiting request (dropped once nobody asks for it)
    center.handle(viewer(2, "!dream jellyfish"), 6.0)
    assert [label for label, _ in center.waiting()] == ["jellyfish", "zebra"]
    center.tick(30.0)
    c = board.get()
    assert c.target == JELLYFISH and c.requested_by == ("viewer3", "viewer4", "viewer5", "viewer2")
    # asking for the active request joins it
    assert "is on now (30s left), you're in" in center.handle(viewer(7, "!dream jellyfish"), 30.0)[0]
    assert board.get().requested_by[-1] == "viewer7"


def test_cooldowns_per_viewer_and_global():
    board, center = make(user_cooldown_s=10.0, global_cooldown_s=2.0, info_cooldown_s=1.0)
    center.handle(viewer(1, "!dream goldfish"), 0.0)
    assert center.handle(viewer(2, "!dream zebra"), 0.5) == ["@viewer2 please wait 2s"]
    assert "queued #1" in center.handle(viewer(2, "!dream zebra"), 2.0)[0]
    assert center.handle(viewer(1, "!dream banana"), 5.0) == ["@viewer1 please wait 5s"]
    assert center.handle(viewer(1, "!strength 1.2"), 8.0) == ["@viewer1 please wait 2s"]
    assert "queued #2" in center.handle(viewer(1, "!dream banana"), 10.0)[0]
    # moderators skip cooldowns
    assert "queued #3" in center.handle(mod("!dream tabby"), 10.1)[0]
    assert "strength set to 0.5" in center.handle(mod("!strength 0.5"), 10.2)[0]


def test_refusals_are_not_repeated_to_a_spamming_viewer():
    board, center = make(user_cooldown_s=10.0, info_cooldown_s=5.0)
    center.handle(viewer(1, "!dream goldfish"), 0.0)
    assert center.handle(viewer(1, "!dream zebra"), 1.0) == ["@viewer1 please wait 9s"]
    assert center.handle(viewer(1, "!dream zebra"), 2.0) == []
    assert center.handle(viewer(1, "!model x"), 3.0) == []
    assert center.handle(viewer(1, "!dream zebra"), 6.5) == ["@viewer1 please wait 4s"]
    # informational commands are cooled down silently
    assert center.handle(viewer(2, "!status"), 0.0)
    assert center.handle(viewer(2, "!help"), 1.0) == []
    assert center.handle(viewer(2, "!help"), 5.0)


def test_class_lookups_are_rate_limited_for_all_viewers_together():
    board, center = make(lookups_per_s=2.0, info_cooldown_s=0.0)
    replies = [center.handle(viewer(i, "!dream xyzzy"), 0.0)[0] for i in range(6)]
    assert sum("no class 'xyzzy'" in r for r in replies) == 4  # burst of 2 x 2/s
    assert replies[4:] == ["@viewer4 chat is busy, try again in a few seconds",
                           "@viewer5 chat is busy, try again in a few seconds"]
    assert "no class" in center.handle(viewer(7, "!targets xyzzy"), 0.5)[0]  # refilled one
    assert "busy" in center.handle(viewer(8, "!targets xyzzy"), 0.5)[0]
    assert "now: goldfish" in center.handle(mod("!dream goldfish"), 0.5)[0]  # moderators are not limited


def test_skip_clear_and_reset():
    board, center = make(user_cooldown_s=0.0, global_cooldown_s=0.0)
    center.handle(viewer(1, "!dream goldfish"), 0.0)
    center.handle(viewer(2, "!dream zebra"), 1.0)
    center.handle(viewer(3, "!dream banana"), 2.0)
    assert center.handle(mod("!skip"), 3.0) == ["@mod1 skipped goldfish; now zebra"]
    assert board.get().target == ZEBRA and board.get().active_until == 48.0
    assert center.handle(mod("!clear"), 4.0) == ["@mod1 cleared 1 waiting request"]
    center.handle(mod("!octaves 1"), 5.0)
    center.handle(mod("!lock"), 5.0)
    center.handle(mod("!reset"), 6.0)
    c = board.get()
    assert c == dataclasses.replace(board.initial, locked=True)
    assert center.queue_length() == 0
    assert center.handle(mod("!skip"), 7.0) == ["@mod1 nothing to skip"]


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("text, allowed", [
    ("!octaves 9", "from 1 to 4"), ("!octaves 0", "from 1 to 4"), ("!octaves -3", "from 1 to 4"),
    ("!octaves 2.5", "from 1 to 4"), ("!octaves 99999999999999999999", "from 1 to 4"),
    ("!strength 5", "from 0.25 to 1.5"), ("!strength 0.1", "from 0.25 to 1.5"),
    ("!strength nan", "from 0.25 to 1.5"), ("!strength inf", "from 0.25 to 1.5"),
    ("!strength 1e309", "from 0.25 to 1.5"), ("!strength -1", "from 0.25 to 1.5"),
    ("!model vgg16", "allowed: efficientnet_lite0"), ("!flow raft", "allowed: dis, farneback, none"),
    ("!preset ultra", "allowed: default, fast"),
])
def test_out_of_range_values_are_refused_naming_the_allowed_range(text, allowed):
    board, center = make()
    before = board.snapshot()
    replies = center.handle(mod(text), 0.0)
    assert len(replies) == 1 and allowed in replies[0]
    assert board.snapshot() == before


def test_values_in_range_are_applied():
    board, center = make()
    assert center.handle(viewer(1, "!strength 1.25x"), 0.0) == ["@viewer1 strength set to 1.25"]
    assert center.handle(mod("!octaves 1"), 0.0) == ["@mod1 octaves set to 1"]
    c = board.get()
    assert (c.strength, c.octaves) == (1.25, 1)


def test_board_validates_and_swaps_atomically():
    lim = limits()
    board = ControlBoard(LiveControls(layer="eyes"), lim)
    assert board.get().layer == "block9"  # aliases become layer names
    for bad in [dict(octaves=5), dict(strength=2.0), dict(strength=float("nan")), dict(model="nope"),
                dict(flow="raft"), dict(layer="block99"), dict(target=1000), dict(target=True),
                dict(colour=1)]:
        with pytest.raises(ConfigError):
            board.replace(**bad)
    assert board.version == 0
    board.replace(octaves=2, target=GOLDFISH, target_name="goldfish")
    assert board.version == 1 and board.get().octaves == 2
    with pytest.raises(ConfigError, match="octaves 7 out of range; allowed: 1-4"):
        ControlBoard(LiveControls(octaves=7), lim)
    with pytest.raises(ConfigError, match="unknown key chat.hold"):
        build_section("chat", ChatLimits, {"hold": 3})
    assert build_section("chat", ChatLimits, {"allowed_flows": ["dis"], "hold_s": 30}).allowed_flows == ("dis",)


def test_chat_section_gets_the_loaders_conversions_and_checks():
    """A string for a tuple field is one item (it was a tuple of characters), ranges from SCHEMA."""
    assert build_section("chat", ChatLimits, {"allowed_models": "efficientnet_lite0"}).allowed_models == (
        "efficientnet_lite0",)
    with pytest.raises(ConfigError, match=r"chat.allowed_models: 'efficientnet_lite9' is not allowed \(did you mean"):
        build_section("chat", ChatLimits, {"allowed_models": "efficientnet_lite9"})
    with pytest.raises(ConfigError, match="chat.roles: expected a mapping"):
        build_section("chat", ChatLimits, {"roles": ["dream"]})
    with pytest.raises(ConfigError, match="chat.roles: unknown key 'dreem'"):
        build_section("chat", ChatLimits, {"roles": {"dreem": "viewer"}})
    with pytest.raises(ConfigError, match="chat.roles.dream: 'admin' is not allowed"):
        build_section("chat", ChatLimits, {"roles": {"dream": "admin"}})
    assert build_section("chat", ChatLimits, {"roles": {"!dream": "moderator"}}).roles["dream"] == "moderator"
    with pytest.raises(ConfigError, match="chat.max_octaves: 1000000000 is out of range; allowed 1 to 12"):
        build_section("chat", ChatLimits, {"max_octaves": 1_000_000_000})
    with pytest.raises(ConfigError, match="chat.max_octaves: 2 is below chat.min_octaves"):
        build_section("chat", ChatLimits, {"min_octaves": 3, "max_octaves": 2})
    with pytest.raises(ConfigError, match="chat.queue_size: expected a whole number"):
        build_section("chat", ChatLimits, {"queue_size": "ten"})


def test_board_snapshots_are_consistent_across_threads():
    lim = limits()
    board = ControlBoard(LiveControls(octaves=4, strength=1.0), lim)
    stop = threading.Event()
    bad: list[LiveControls] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            o = rng.randint(1, 4)
            board.replace(octaves=o, strength=0.25 * o)  # invariant: strength == octaves / 4

    def reader() -> None:
        for _ in range(20000):
            c = board.get()
            if c.strength != 0.25 * c.octaves:
                bad.append(c)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    reader()
    stop.set()
    for t in threads:
        t.join()
    assert not bad and board.version > 0


# ----------------------------------------------------------------------------- outgoing queue


def test_outgoing_queue_sends_separately_when_idle():
    q = OutgoingQueue(max_messages=20, per_s=30.0)
    for i in range(5):
        q.put(f"reply {i}")
    assert q.pop_ready(0.0) == [f"reply {i}" for i in range(5)]
    assert q.pop_ready(0.1) == []


def test_outgoing_queue_merges_when_busy_and_respects_the_rate_limit():
    q = OutgoingQueue(max_messages=20, per_s=30.0, max_len=400)
    for i in range(10):  # use half the window
        q.put(f"r{i}")
        assert q.pop_ready(float(i)) == [f"r{i}"]
    for i in range(6):
        q.put(f"late {i}")
    assert q.pop_ready(10.0) == ["late 0 | late 1 | late 2 | late 3 | late 4 | late 5"]
    # long replies cannot be merged; the window caps what goes out
    for i in range(15):
        q.put(f"{i:02d}" + "x" * 300)
    out = q.pop_ready(11.0)
    assert len(out) == 9 and q.sent_in_window(11.0) == 20 and all(len(m) <= 400 for m in out)
    assert q.pop_ready(29.9) == []
    assert len(q.pop_ready(30.0)) == 1  # r0's slot came free at 30 s
    assert len(q) == 5


def test_outgoing_queue_never_exceeds_the_limit_in_any_window():
    rng = random.Random(7)
    q = OutgoingQueue(max_messages=20, per_s=30.0, max_pending=40)
    sent: list[float] = []
    now, put = 0.0, 0
    for _ in range(3000):
        now += rng.expovariate(4.0)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 8])):
            q.put("m" * rng.randint(1, 450))
            put += 1
        for msg in q.pop_ready(now):
            assert 1 <= len(msg) <= 400
            sent.append(now)
    assert put > 3000 and len(sent) > 400
    j = 0
    for i, t in enumerate(sent):
        while sent[j] <= t - 30.0:
            j += 1
        assert i - j + 1 <= 20


# ----------------------------------------------------------------------------- text safety


def test_replies_never_echo_markup_or_control_characters():
    board, center = make()
    hostile = "<script>alert(1)</script>\u202e\u0000\n/ban @everyone"
    replies = center.handle(viewer(1, f"!dream {hostile}"), 0.0)
    assert len(replies) == 1
    text = replies[0]
    assert text == "@viewer1 no class 'script alert(1) script ban ever…'; try !targets <word>"
    assert all(unicodedata.category(ch)[0] != "C" for ch in text)
    assert parse_command("hello !dream x") is None and parse_command("!") is None
    assert parse_command("!DrEaM\tgold\u200bfish") == ("dream", "gold fish")
    assert echo("a" * 100, 10) == "aaaaaaaaa…"
    assert clean_reply("/me " + "x" * 600).startswith("me x") and len(clean_reply("x" * 600)) == 400


def test_overlay_lines():
    board, center = make(user_cooldown_s=0.0, global_cooldown_s=0.0)
    c = LiveControls()
    assert overlay_lines(c, 0, 0.0) == ["layer: block10", "!dream <class> !layer <name>"]
    center.handle(ChatMessage("u1", "Zoë_名前", "!dream goldfish"), 10.0)
    for i in range(2, 6):
        center.handle(viewer(i, "!dream goldfish"), 11.0)
    lines = overlay_lines(board.get(), 2, 20.2)
    assert lines == ["dreaming: goldfish", "asked by Zoe_, viewer2, viewer3 +",
                     "35s left | 2 waiting | !dream <class> !layer <name>"]
    center.handle(mod("!lock"), 21.0)
    assert overlay_lines(board.get(), 0, 21.0)[-1] == "34s left | chat locked"
    assert all(line.isascii() and len(line) <= 60 for line in lines)


def test_stdin_control_drives_the_same_command_layer():
    board, center = make()
    got: list[str] = []
    clock = iter([0.0, 1.0, 2.0, 3.0, 4.0]).__next__
    lines = io.StringIO("!dream goldfish\noctaves 2\n\n!nonsense\n")
    ctl = StdinControl(center, lines, reply=got.append, clock=clock)
    ctl.run()
    assert board.get().target == GOLDFISH and board.get().octaves == 2
    assert got == ["@console now: goldfish for 45s", "@console octaves set to 2",
                   "unknown command 'nonsense'; try !help"]


# ----------------------------------------------------------------------------- fuzzing

_COMMANDS = ["dream", "layer", "layers", "targets", "strength", "status", "help", "model", "preset",
             "octaves", "flow", "lock", "unlock", "skip", "reset", "clear",
             "DREAM", "Layer", "dreams", "ban", ""]
_WEIGHTS = [8, 6, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0.3, 2, 1, 0.5, 0.5, 1, 1, 1, 1, 1]
_WORDS = ["goldfish", "zebra", "banana", "jellyfish", "tabby", "eyes", "dogs", "textures", "block4", "head",
          "efficientnet_lite0", "dis", "none", "farneback", "fast", "default", "999", "-1", "1000", "#285",
          "1e309", "nan", "-inf", "0.0001", "1.5", "0.25", "4", "99999999999999999999", "0x10", "½", "٣",
          "<script>alert(1)</script>", "**bold**", "[a](javascript:x)", "@everyone", "/ban me", ".timeout x",
          "\u202egnp.exe", "\u200b", "\x00", "\r\n", "\t", "🐟", "🏳️‍🌈", "Ｚｅｂｒａ", "\ud800",
          "ﷺ" * 30]


def _random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 40)))
    if kind < 0.2:
        return rng.choice(["", "!", "! ", "!!", "!!dream", " ", "!\u0000", "!" * 600])
    if kind < 0.25:
        return "!" + rng.choice(_COMMANDS) + " " + "x" * rng.randint(400, 5000)
    if rng.random() < 0.5:
        args = rng.choice(_WORDS[:10])  # a valid class or layer: exercises the queue
    else:
        args = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 3)))
    if rng.random() < 0.2:
        args += "".join(chr(rng.randint(0x20, 0x3000)) for _ in range(rng.randint(1, 12)))
    command = rng.choices(_COMMANDS, weights=_WEIGHTS)[0]
    return f"{rng.choice(['!', '!', '!', ' !', ''])}{command} {args}"


@pytest.mark.slow
def test_fuzz_10000_hostile_messages(caplog):
    rng = random.Random(20261101)
    lim = limits(queue_size=4, hold_s=20.0, user_cooldown_s=4.0, global_cooldown_s=0.5, info_cooldown_s=2.0)
    board = ControlBoard(LiveControls(), lim)
    center = CommandCenter(board, lim)
    out = OutgoingQueue()
    users = [ChatMessage(f"v{i}", f"viewer{i}", "") for i in range(40)]
    users += [ChatMessage("m1", "mod1", "", is_mod=True), ChatMessage("b1", "boss", "", is_broadcaster=True),
              ChatMessage("x", "\u202e<b>evil</b>\n", "", is_mod=rng.random() < 0.5)]
    now, replies_seen, versions = 1000.0, 0, set()
    caplog.set_level(logging.WARNING)
    for i in range(10_000):
        now += rng.choice([0.0, 0.05, 0.2, 1.0, 3.0]) + (30.0 if rng.random() < 0.01 else 0.0)
        who = rng.choice(users) if rng.random() < 0.92 else users[rng.randint(40, 42)]
        msg = dataclasses.replace(who, text=_random_text(rng))
        replies = center.handle(msg, now)
        if rng.random() < 0.3:
            center.tick(now)
        c = board.get()
        assert check_controls(c, lim) == c, (i, msg.text)
        assert center.queue_length() <= lim.queue_size
        for r in replies:
            assert 0 < len(r) <= 400 and r.isprintable(), r
            out.put(r)
        replies_seen += len(replies)
        versions.add(board.version)
        for sent in out.pop_ready(now):
            assert len(sent) <= 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert replies_seen > 1000 and len(versions) > 100  # the fuzz really reached the commands


def test_the_broadcasters_own_request_is_replaced_at_once_a_viewers_waits():
    board, center = make()
    center.handle(boss("!dream goldfish"), 0.0)
    assert center.handle(boss("!dream banana"), 1.0) == ["@boss now: banana for 45s"]
    assert board.get().target == BANANA and center.queue_length() == 0
    assert center.handle(viewer(1, "!dream zebra"), 5.0) == ["@viewer1 zebra queued #1"]
    center.handle(viewer(1, "!dream jellyfish"), 20.0)  # a viewer's own waiting request is replaced, not shown
    assert board.get().target == BANANA
    center.tick(46.0)
    assert board.get().target == JELLYFISH
    center.handle(viewer(1, "!dream zebra"), 60.0)  # a viewer's own active request: the new one waits
    assert board.get().target == JELLYFISH and center.queue_length() == 1
    center.handle(boss("!dream goldfish"), 61.0)  # not the broadcaster's request: it waits its turn
    assert board.get().target == JELLYFISH and center.queue_length() == 2
