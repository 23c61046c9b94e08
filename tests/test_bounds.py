"""Long-run bounds: a hundred thousand events through each thing that keeps state, its size after, and that it
still works. Time is passed in (or a clock the test moves); nothing sleeps."""
from __future__ import annotations

import asyncio
import io
import logging
import socket
from types import SimpleNamespace
from typing import Any

import mido
import pytest
from test_chat_commands import make, mod

from stream.chat.console import StdinControl
from stream.chat.dispatcher import CommandCenter
from stream.chat.limits import MAX_VIEWERS, LastSeen, RateLimits
from stream.chat.midi import MidiControl
from stream.chat.osc import OscControl
from stream.chat.outgoing import OutgoingQueue
from stream.chat.requests import MAX_ASKERS, MAX_SETTLED, Redemption, RequestQueue
from stream.chat.rewards import MAX_PENDING, PENDING_GRACE_S, RewardDesk
from stream.io.log_limit import MAX_KINDS, FloodFilter, LogLimit
from stream.live.queues import StageQueue
from stream.live.stats import LiveStats
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.midi import MidiSettings
from stream.settings.rewards import RewardSettings
from stream.web.panel import HTTP_LOG, PanelServer
from stream.web.state import RateMeter

N = 100_000


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name]


# ----------------------------------------------------------------------------- the log-flood helper


def test_a_flood_logs_one_line_per_kind_and_period_with_the_count(caplog):
    caplog.set_level(logging.INFO)
    said = LogLimit(logging.getLogger("bounds.flood"), period_s=60.0)
    for i in range(N):  # three kinds, 1000 s
        said.warning(f"kind{i % 3}", i * 0.01, "bad thing %d", i)
    got = lines(caplog, "bounds.flood")
    assert 3 <= len(got) <= 3 * (1000 // 60 + 1)
    assert got[0] == "bad thing 0; more like it are counted, a line every 60 s at most"
    counted = sum(int(line.split("; ")[1].split()[0].replace(",", "")) for line in got if "more like it in" in line)
    assert said.flush(1e9) <= 3
    flushed = [r.getMessage() for r in caplog.records if r.name == "bounds.flood"][len(got):]
    counted += sum(int(line.split(": ")[1].split()[0].replace(",", "")) for line in flushed)
    assert counted + len(got) == N  # every hit is written or counted, none lost
    caplog.clear()
    assert said.warning("kind0", 2e9, "quiet for long: %s", "written again")  # a new burst is written in full
    assert said.warning("kind0", 1e9, "a clock that went back: %s", "written")  # never silences
    assert lines(caplog, "bounds.flood") == ["quiet for long: written again", "a clock that went back: written"]


def test_a_flood_of_kinds_keeps_at_most_max_kinds_tallies(caplog):
    said = LogLimit(logging.getLogger("bounds.kinds"))
    for i in range(N):
        said.warning(f"kind{i}", 0.0, "kind %d", i)
    assert len(said) == MAX_KINDS + 1  # the others share one
    assert len(lines(caplog, "bounds.kinds")) == MAX_KINDS + 1


def test_a_flood_filter_lets_a_message_through_once_a_period():
    flood = FloodFilter(period_s=60.0)
    passed = []
    for i in range(N):
        record = logging.LogRecord("aiohttp", logging.ERROR, __file__, 1, "Error handling request from %s",
                                   (f"10.0.{i // 256 % 256}.{i % 256}",), None)
        record.created = i * 0.01
        if flood.filter(record):
            passed.append(record.getMessage())
    assert len(passed) == 1000 // 60 + 1 and len(flood.limit) == 1
    assert passed[0].startswith("Error handling request from 10.0.0.0")
    assert passed[1].endswith("; 5,999 more like it in the last 60 s")


# ----------------------------------------------------------------------------- log floods of bad input


def test_a_flood_of_bad_osc_packets_logs_a_line_a_minute(caplog):
    clock = Clock()
    _, center = make()
    control = OscControl(center, clock=clock)
    try:
        for i in range(N):
            clock.now = i * 0.01  # 1000 s
            control.handle_packet(b"not osc at all" if i % 2 else b"x" * 4096)
    finally:
        control.stop()
    assert control.counts()["malformed"] == control.counts()["oversized"] == N // 2
    got = lines(caplog, "stream.chat.osc")
    assert 2 <= len(got) <= 2 * (1000 // 60 + 1)
    assert any(line.endswith("more like it in the last 60 s") for line in got)


def test_a_flood_of_failing_midi_messages_and_a_stuck_pad_log_a_line_a_minute(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    board, center = make()
    port = SimpleNamespace(name="flood", close=lambda: None)
    midi = MidiControl(center, port, MidiSettings(map={"note36": "!octaves 2"}), clock=clock)
    broken = SimpleNamespace(type="control_change", control="x", value=1, channel=0)  # a port's bad message
    pad = mido.Message("note_on", note=36, velocity=100)
    messages = iter([broken if i % 10 else pad for i in range(N)])

    def poll():
        clock.now += 0.01
        message = next(messages, None)
        if message is None:
            midi.stop()
        return message

    port.poll = poll
    midi.run()
    assert midi.handled == N // 10 and board.get().octaves == 2
    got = lines(caplog, "stream.chat.midi")
    assert 2 <= len(got) <= 2 * (1000 // 60 + 2)
    assert sum("failed" in line for line in got) <= 1000 // 60 + 2


def test_a_flood_of_failing_console_lines_logs_a_line_a_minute(caplog):
    clock = Clock()
    seen = []

    class Center:
        def handle(self, msg, now):
            if "boom" in msg.text:
                raise RuntimeError("a bug")
            seen.append(msg.text)
            return []

        def drain_announcements(self):
            clock.now += 0.01
            return []

    text = "".join("!boom\n!status\n" for _ in range(N // 2))
    StdinControl(Center(), io.StringIO(text), reply=lambda _: None, clock=clock).run()  # type: ignore[arg-type]
    assert len(seen) == N // 2
    assert 1 <= len([line for line in lines(caplog, "stream.chat.console") if "failed" in line]) <= 1000 // 60 + 2


def test_a_flood_of_failing_chat_commands_logs_a_line_a_minute(caplog):
    def broken(name):
        raise RuntimeError("a bug in the preset loader")

    lim = ChatLimits()
    board = ControlBoard(LiveControls(layer="block9", octaves=3), lim)
    center = CommandCenter(board, lim, load_preset=broken)
    for i in range(N):
        assert center.handle(mod("!preset default"), i * 0.01) == []
    got = lines(caplog, "stream.chat.dispatcher")
    assert 1 <= len(got) <= 1000 // 60 + 1
    assert center.handle(mod("!octaves 2"), N * 0.01) and board.get().octaves == 2  # still answers


def test_a_flood_of_unparsable_panel_requests_logs_a_line_a_minute(caplog):
    """aiohttp writes a traceback for each request it cannot parse; the panel's FloodFilter lets one through."""
    class State:
        def snapshot(self):
            return {}

    server = PanelServer(State()).start()  # type: ignore[arg-type]
    try:
        for _ in range(50):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
                s.recv(4096)
    finally:
        server.stop()
    assert len(lines(caplog, HTTP_LOG)) == 1


# ----------------------------------------------------------------------------- per-viewer records


def test_cooldown_tables_keep_at_most_max_viewers_and_still_cool_down():
    seen = LastSeen(30.0)
    for i in range(N):  # a hundred thousand viewers within 10 s: no pruning can help
        assert seen.take(f"v{i}", i * 1e-4)
    assert len(seen) == MAX_VIEWERS
    assert not seen.take(f"v{N - 1}", 11.0) and seen.left(f"v{N - 1}", 11.0) == pytest.approx(29.0, abs=0.01)
    assert seen.take("v0", 11.0)  # forgotten: the least recently stamped go first
    assert not seen.take("v0", 12.0)


def test_rate_limits_forget_viewers_as_the_chat_moves_on():
    rates = RateLimits(ChatLimits(user_cooldown_s=30.0, global_cooldown_s=0.0, info_cooldown_s=10.0))
    for i in range(N):  # a new viewer each second for 28 hours
        now = float(i)
        rates.prune(now)
        assert rates.request_wait(f"v{i}", now) == 0.0
        rates.stamp_request(f"v{i}", now)
        assert rates.take_info(f"v{i}", now) and rates.take_refusal(f"v{i}", now)
    assert max(len(rates.requests), len(rates.info), len(rates.refusals)) <= 30 + 60 + 1
    assert rates.request_wait(f"v{N - 1}", N - 1 + 10.0) == pytest.approx(20.0)


def test_midi_remembers_only_the_controls_its_map_names():
    _, center = make()
    midi = MidiControl(center, None, MidiSettings(map={"cc20": "!octaves 2"}))
    for i in range(N):  # a hundred thousand control numbers (a broken port's; mido's stop at 127)
        assert midi.handle(SimpleNamespace(type="control_change", control=i, value=i % 128, channel=0)) == [] or i == 20
    assert midi.remembered == 1
    midi.handle(SimpleNamespace(type="control_change", control=20, value=0, channel=0))
    assert midi.handle(SimpleNamespace(type="control_change", control=20, value=100, channel=0))  # still a pad


def queue(**kw) -> RequestQueue:
    lim = ChatLimits(user_cooldown_s=0, global_cooldown_s=0, hold_s=45.0, **kw)
    board = ControlBoard(LiveControls(), lim)
    return RequestQueue(board, lim, lambda: "block9")


def test_a_request_names_at_most_max_askers_viewers():
    q = queue()
    q.submit("a", "ann", "layer", "block4", "block4", 0.0)  # active
    q.submit("b", "bob", "layer", "block6", "block6", 0.0)  # waiting
    on, waiting = N // 10, N - N // 10
    joined_active = sum(q.submit(f"x{i}", f"x{i}", "layer", "block4", "block4", 1.0).accepted for i in range(on))
    waits = [q.submit(f"y{i}", f"y{i}", "layer", "block6", "block6", 1.0) for i in range(waiting)]
    assert q.active is not None and len(q.active.users) == MAX_ASKERS and joined_active == on
    assert len(q.waiting[0].users) == MAX_ASKERS and sum(w.accepted for w in waits) == MAX_ASKERS - 1
    assert waits[-1].reply == f"@y{waiting - 1} block6 is #1 with {MAX_ASKERS} asking already"
    q.advance(45.0)  # still works: the waiting one comes on, its viewers announced
    assert q.active is not None and q.active.label == "block6" and q.announcements[-1].startswith("@bob @y0")
    assert len(q.announcements) <= 20


def test_settled_redemptions_nobody_drains_are_bounded():
    q = queue(queue_size=1000)
    for i in range(N):  # each refused at once: settled (CANCELED) and never drained
        q.refuse(Redemption(f"r{i}", f"v{i}", f"v{i}", deadline=1.0), "no")
    assert len(q.settled) <= MAX_SETTLED
    drained = q.drain_settled()
    assert drained[-1].id == f"r{N - 1}" and drained[-1].status == "CANCELED" and q.settled == []


def test_the_reward_desk_forgets_redemptions_never_settled():
    clock = Clock()
    asked = []

    class Center:
        def redeem(self, rid, uid, name, command, text, now, **kw):
            asked.append(rid)
            return []

        def drain_settled(self):
            return []

    cfg = RewardSettings(title="Dream of ...", cost=500, command="dream", max_wait_s=60.0)
    center: Any = Center()
    desk = RewardDesk(None, center, (cfg,), broadcaster_id="1", rewards_first=False, clock=clock, describe=str)
    desk.by_id["reward"] = cfg
    user = SimpleNamespace(id="7", name="ann", display_name="Ann")
    for i in range(N):
        clock.now = i * 0.001
        desk.redeemed(SimpleNamespace(id=f"r{i}", reward=SimpleNamespace(id="reward"), user=user, user_input="fish"))
        assert desk.pending <= MAX_PENDING
    assert desk.pending == MAX_PENDING and len(asked) == N
    clock.now = N * 0.001 + 60.0 + PENDING_GRACE_S + 1
    asyncio.run(desk.settle())
    assert desk.pending == 0


# ----------------------------------------------------------------------------- queues and histories


def test_outgoing_replies_and_their_window_are_bounded():
    out = OutgoingQueue(max_messages=20, per_s=30.0, max_pending=50)
    sent = 0
    for i in range(N):
        out.put(f"reply {i}")
        if i % 100 == 0:
            sent += len(out.pop_ready(i * 0.01))
        assert len(out) <= 50 and out.sent_in_window(i * 0.01) <= 20
    assert sent > 0 and out.dropped > N - 50 - 20 * 1000


def test_the_panel_keeps_at_most_max_samples_reads():
    stats = LiveStats()
    clock = Clock()
    meter = RateMeter(stats, clock=clock)
    for _ in range(N // 2):  # every page at once, within one instant
        meter.read()
    assert meter.samples == RateMeter.MAX_SAMPLES
    for i in range(N // 2):  # 30 frames a second, read 10 times a second for almost 1.5 hours
        clock.now = 1.0 + i * 0.1
        stats.add(captured=3, dreamed=2)
        got = meter.read()
    assert meter.samples <= RateMeter.MAX_SAMPLES and got["input_fps"] == pytest.approx(30.0)


def test_run_latencies_keep_a_bounded_number_of_bins():
    stats = LiveStats()
    for i in range(N):  # a hundred thousand different latencies, 0 to 120 s
        stats.latency(i * 0.0012)
    assert len(stats.latency_bins) <= 20_001 + 5_800 + 1
    assert len(stats.latencies) <= 2000 and len(stats.recent) <= 90
    assert stats.run_latency_ms(50) == pytest.approx(60_000.0)  # everything past a minute counts as a minute
    assert stats.run_latency_ms(1) == pytest.approx(1200.0, abs=0.051)  # fine below 2 s


def test_stage_queues_keep_their_size():
    q: StageQueue[int] = StageQueue(4)
    dropped = sum(q.put_newest(i) for i in range(N))
    assert len(q) == 4 and dropped == N - 4 and q.get() == N - 4


def test_a_dreamer_keeps_the_colours_of_the_newest_targets_only() -> None:
    """A new mix of classes every minute for hours: the dreamer's colour ramps stay at MAX_RAMPS."""
    import torch

    from engine.dream import MAX_RAMPS, Dreamer, DreamSettings
    from engine.models.registry import build_model
    from engine.objectives import layer

    model = build_model("efficientnet_lite0")  # random weights: only its bookkeeping is tested
    dreamer = Dreamer(model, layer("block4"), DreamSettings())
    for i in range(100_000):
        dreamer.remember_ramp(f"class({i}*0.7+{i + 1})", torch.zeros(8, 3))
    assert len(dreamer.ramps) == MAX_RAMPS and "class(99999*0.7+100000)" in dreamer.ramps
    dreamer.remember_ramp("class(99936*0.7+99937)", torch.ones(8, 3))  # known again: the newest, not doubled
    assert len(dreamer.ramps) == MAX_RAMPS and list(dreamer.ramps)[-1] == "class(99936*0.7+99937)"
