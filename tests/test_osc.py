"""OSC control: real packets from python-osc's client to :class:`OscControl` and to a running ``live --osc``."""
from __future__ import annotations

import json
import random
import threading
import time

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient
from rtmp_receiver import free_port
from test_chat_commands import BANANA, GOLDFISH, make
from test_live import FAST
from test_web_cli import run_live

from engine.errors import ConfigError
from stream.chat.osc import MAX_PACKET, MAX_RATE, OscControl
from stream.cli.main import main
from stream.io.binds import parse_bind
from stream.io.cpu_share import usable_cores
from stream.settings.controls import check_controls

ADDRESSES = ("command", "target", "layer", "strength", "octaves", "preset", "skip", "lock", "nope")


def wait_for(check, timeout: float = 5.0, step: float = 0.01) -> float:
    """Seconds until ``check()`` is true; fails after ``timeout``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(step)
    return time.monotonic() - start


def _built(address: str, *args):
    b = OscMessageBuilder("/dreamstream/" + address)
    for a in args:
        b.add_arg(a)
    return b.build()


def message(address: str, *args) -> bytes:
    return _built(address, *args).dgram


class StateListener:
    """A python-osc server on 127.0.0.1 that keeps the last value of every address it is sent."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {}
        d = Dispatcher()
        d.set_default_handler(lambda address, *args: self.values.__setitem__(address, list(args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def osc():
    board, center = make()
    listener = StateListener()
    control = OscControl(center, "127.0.0.1", 0, reply=("127.0.0.1", listener.port), fps=lambda: 12.5).start()
    yield board, control, SimpleUDPClient("127.0.0.1", control.port), listener
    control.stop()
    listener.close()


def test_real_packets_change_target_layer_strength_and_state_goes_back(osc):
    board, control, client, listener = osc
    client.send_message("/dreamstream/target", "goldfish")
    wait_for(lambda: board.get().target == GOLDFISH, timeout=2)
    client.send_message("/dreamstream/target", "banana")  # the operator's own request is replaced at once
    wait_for(lambda: board.get().target == BANANA, timeout=2)
    client.send_message("/dreamstream/skip", 0.0)  # a button's release: nothing
    client.send_message("/dreamstream/strength", 1.0)  # the fader at the top: chat.max_strength
    wait_for(lambda: board.get().strength == 1.5, timeout=2)
    assert board.get().target == BANANA
    client.send_message("/dreamstream/skip", 1.0)
    client.send_message("/dreamstream/layer", "dogs")
    wait_for(lambda: board.get().target is None and board.get().layer == "block10", timeout=2)
    client.send_message("/dreamstream/octaves", 2.0)  # TouchOSC sends floats
    client.send_message("/dreamstream/lock", 1)
    client.send_message("/dreamstream/command", "!status")
    wait_for(lambda: board.get().octaves == 2 and board.get().locked, timeout=2)
    wait_for(lambda: listener.values.get("/dreamstream/state/locked") == [1], timeout=2)
    v = listener.values
    assert v["/dreamstream/state/layer"] == [board.get().layer]
    assert v["/dreamstream/state/target"] == [""] and v["/dreamstream/state/octaves"] == [2]
    assert v["/dreamstream/state/strength"] == [1.0]  # the fader's position, not the strength
    assert v["/dreamstream/state/fps"] == [12.5]
    wait_for(lambda: "waiting; model" in str(listener.values.get("/dreamstream/reply")), timeout=2)
    assert control.counts()["unknown"] == control.counts()["arguments"] == 0


def test_strength_fader_maps_onto_the_chat_range():
    board, center = make(min_strength=0.5, max_strength=2.0)
    control = OscControl(center)
    try:
        for position, strength in ((0.0, 0.5), (0.5, 1.25), (1.0, 2.0), (7.0, 2.0), (-3.0, 0.5)):
            control.handle_packet(message("strength", position))
            assert board.get().strength == pytest.approx(strength)
    finally:
        control.stop()


@pytest.mark.parametrize("packet, kind", [
    (message("target", 3), "arguments"),
    (message("target"), "arguments"),
    (message("strength", "loud"), "arguments"),
    (message("strength", float("nan")), "arguments"),
    (message("octaves", "x", "y"), "arguments"),
    (message("nope", 1), "unknown"),
    (OscMessageBuilder("/other/app").build().dgram, "unknown"),
    (b"not osc at all", "malformed"),
    (b"", "malformed"),
    (message("command", "x" * (MAX_PACKET + 10)), "oversized"),
    (message("command", "!frobnicate"), "refused"),
])
def test_bad_messages_are_counted_by_kind_and_change_nothing(packet, kind, caplog):
    board, center = make()
    control = OscControl(center)
    before = board.snapshot()
    try:
        for _ in range(3):
            control.handle_packet(packet)
    finally:
        control.stop()
    assert control.counts()[kind] == 3 and board.snapshot() == before
    said = [r for r in caplog.records if r.name == "stream.chat.osc"]
    assert len(said) == 1 and said[0].levelname == "WARNING"  # once per kind


def test_a_bundle_runs_each_of_its_messages():
    board, center = make()
    control = OscControl(center)
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(_built("octaves", 2))
    bundle.add_content(_built("target", "goldfish"))
    try:
        control.handle_packet(bundle.build().dgram)
    finally:
        control.stop()
    assert board.get().octaves == 2 and board.get().target == GOLDFISH


def test_a_flood_is_cut_to_the_rate_and_counted():
    board, center = make()
    now = [0.0]
    control = OscControl(center, clock=lambda: now[0])
    try:
        for i in range(1000):  # a thousand strength messages within one instant
            control.handle_packet(message("strength", (i % 100) / 100))
        now[0] += 1.0
        control.handle_packet(message("strength", 1.0))
    finally:
        control.stop()
    counts = control.counts()
    assert counts["flood"] == 1000 - MAX_RATE and board.get().strength == 1.5


def random_packet(rng: random.Random) -> bytes:
    """A real message with random arguments, a damaged one, random bytes, a bundle or an oversized one."""
    choice = rng.random()
    if choice < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
    if choice < 0.12:
        return b"#bundle\0" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    if choice < 0.13:
        return message("command", "!dream " + "x" * rng.randrange(MAX_PACKET, 3 * MAX_PACKET))
    args = [
        rng.choice(
            [
                rng.uniform(-5, 5),
                rng.randrange(-10, 200),
                rng.choice(["goldfish", "eyes", "", "!lock", "banana*0.7+dog", "fast", "\x00\x7f"]),
                b"\x01\x02",
                True,
                False,
                None,
                float("inf"),
            ]
        )
        for _ in range(rng.randrange(0, 3))
    ]
    data = message(rng.choice(ADDRESSES), *args)
    if choice < 0.4:
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        data = bytes(damaged)
    return data


def test_ten_thousand_random_packets_leave_valid_controls():
    board, center = make()
    t = [0.0]
    control = OscControl(center, clock=lambda: t[0])
    rng = random.Random(19)
    try:
        for i in range(10_000):
            t[0] = i * 0.01  # 100 a second: under the flood limit, so every packet is looked at
            control.handle_packet(random_packet(rng))
            if i % 500 == 0:
                c = board.get()
                assert check_controls(c, board.limits) == c
        control.handle_packet(message("target", "goldfish"))
        control.handle_packet(message("skip"))
    finally:
        control.stop()
    counts = control.counts()
    assert counts["received"] == 10_002
    assert counts["malformed"] > 500 and counts["arguments"] > 500 and counts["unknown"] > 100
    assert counts["oversized"] > 50 and counts["flood"] == 0
    c = board.get()
    assert check_controls(c, board.limits) == c


def test_bind_flags_parse_and_refuse_plainly():
    assert parse_bind("9000", "--osc") == ("127.0.0.1", 9000)
    assert parse_bind("0.0.0.0:9000", "--osc") == ("0.0.0.0", 9000)
    with pytest.raises(ConfigError, match=r"^--osc 'x:y' is not \[HOST:\]PORT"):
        parse_bind("x:y", "--osc")


def test_osc_reply_without_osc_is_one_line(capsys):
    assert main(["live", "--input", "testsrc", "--output", "null", "--osc-reply", "9001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "dreamstream: error: --osc-reply needs --osc (the state goes back to the controller that sends to --osc)"
    ]


def test_a_busy_osc_port_fails_before_the_model_loads(capsys):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert main(["live", "--input", "testsrc", "--output", "null", "--osc", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--osc 127.0.0.1:{port} cannot listen" in err[0]


def controls_seen(stats_file) -> list[dict]:
    try:
        lines = stats_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line)["controls"] for line in lines if line.strip()]


@pytest.mark.slow
def test_live_takes_osc_and_its_stats_show_it_within_half_a_second(tmp_path):
    port = free_port()
    stats = tmp_path / "stats.jsonl"
    cfg = tmp_path / "fast-stats.yaml"
    cfg.write_text("live:\n  stats_interval_s: 0.1\n")
    out: dict = {}
    t = run_live(["live", "--input", "testsrc", "--output", "null", "--osc", str(port), "--stats-file", str(stats),
                  "--duration", "10", "--config", str(cfg), *FAST], out)
    wait_for(lambda: len(controls_seen(stats)) >= 2 or not t.is_alive(), timeout=60)
    assert t.is_alive(), f"live stopped: {out}"
    quality = json.loads(stats.read_text().splitlines()[-1])["quality"]
    # adaptive quality (on by default) reports in every stats line, with the threads the CPU share chose
    assert quality.keys() >= {"adaptive", "target_fps", "level", "threads"} and quality["adaptive"] is True
    assert quality["target_fps"] == 25 and 0 <= quality["level"] < quality["levels"]
    assert 1 <= quality["threads"] <= max(1, usable_cores() - 1)  # a core kept for the rest of the pipeline
    client = SimpleUDPClient("127.0.0.1", port)
    for address, value, check in (
        ("target", "goldfish", lambda c: c["target"] == "goldfish"),
        ("layer", "animals", lambda c: c["target"] is None and c["layer"] == "block13"),
        ("strength", 0.0, lambda c: c["strength"] == 0.25),
    ):
        before = len(controls_seen(stats))
        client.send_message("/dreamstream/" + address, value)
        seconds = wait_for(lambda check=check, before=before: any(check(c) for c in controls_seen(stats)[before:]),
                           timeout=2.0)
        assert seconds <= 0.5, f"/dreamstream/{address} showed in the stats after {seconds:.2f} s"

    rng = random.Random(7)
    sock = client._sock
    for _ in range(10_000):  # a flood of random packets, far over the rate limit
        sock.sendto(random_packet(rng), ("127.0.0.1", port))
    before = len(controls_seen(stats))
    wait_for(lambda: len(controls_seen(stats)) >= before + 5, timeout=10)  # the stream goes on
    assert t.is_alive()
    time.sleep(0.5)  # the flood's tail is read
    client.send_message("/dreamstream/command", "!reset")
    wait_for(lambda: controls_seen(stats)[-1]["strength"] == 1.0 and controls_seen(stats)[-1]["target"] is None,
             timeout=2)
    last = controls_seen(stats)[-1]
    assert 0.25 <= last["strength"] <= 1.5 and 1 <= last["octaves"] <= 4
    client.send_message("/dreamstream/target", "banana")
    wait_for(lambda: controls_seen(stats)[-1]["target"] == "banana", timeout=2)
    t.join(60)
    assert out["rc"] == 0


def test_listening_beyond_this_machine_warns(caplog):
    _board, center = make()
    control = OscControl(center, "0.0.0.0", 0).start()
    control.stop()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == ["OSC control listens on 0.0.0.0, not 127.0.0.1: anyone who can reach this port controls "
                    "the stream"]
