"""The web panel's JSON API against a running stream: tokens, origins, bad bodies, random traffic."""
from __future__ import annotations

import json
import logging
import random
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest
from panel_rig import TOKEN, start_rig

from engine.errors import ConfigError
from stream.io.binds import parse_bind
from stream.settings.controls import check_controls
from stream.web.panel import PanelServer, panel_token


@pytest.fixture(scope="module")
def rig():
    r = start_rig()
    assert r.outputs_advance(60), "the stream did not start"
    yield r
    r.stop()


@pytest.mark.slow  # a real stream dreams beside the panel
def test_every_route_needs_the_token(rig):
    for method, path in [("GET", "/"), ("GET", "/overlay"), ("GET", "/api/state"), ("GET", "/api/preview.jpg"),
                         ("GET", "/api/events"), ("GET", "/api/classes?q=fish"), ("POST", "/api/command"),
                         ("GET", "/nothing-here")]:
        body = {"text": "!dream banana"} if method == "POST" else None
        for token in (None, "wrong-token-wrong-token"):
            status, answer = rig.http(method, path, body, token=token)
            assert status == 401, (method, path, token)
            assert "token is required" in answer["error"]
    assert rig.board.get().target is None
    status, state = rig.http("GET", "/api/state")
    assert (
        status == 200
        and state["controls"]["layer"] == rig.board.initial.layer
        and state["outputs"][0]["name"] == "null"
    )
    # ?token= works too (OBS browser sources cannot set headers)
    status, page = rig.http("GET", f"/overlay?token={TOKEN}", token=None)
    assert status == 200 and b"EventSource" in page
    status, jpeg = rig.http("GET", "/api/preview.jpg")
    assert status == 200 and jpeg[:2] == b"\xff\xd8"


@pytest.mark.slow  # a real stream dreams beside the panel
def test_events_push_the_state_when_it_changes(rig):
    req = urllib.request.Request(rig.base + "/api/events", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")

        def next_state() -> dict:
            event = None
            for raw in stream:
                line = raw.decode().strip()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "state":
                    return json.loads(line[6:])
            raise AssertionError("the event stream ended")

        assert next_state()["controls"]["strength"] == 1.0
        rig.http("POST", "/api/command", {"text": "!strength 0.75"})
        for _ in range(20):  # stats change too; the new strength comes within a few events
            if next_state()["controls"]["strength"] == 0.75:
                break
        else:
            raise AssertionError("the strength change was not pushed")
    rig.http("POST", "/api/command", {"text": "!strength 1"})


@pytest.mark.slow  # a real stream dreams beside the panel
def test_cross_origin_posts_are_refused(rig):
    before = rig.board.version
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": rig.base.replace("127.0.0.1", "localhost")}):
        status, answer = rig.http("POST", "/api/command", {"text": "!lock"}, headers=headers)
        assert status == 403 and "cross-origin request refused" in answer["error"]
    assert rig.board.version == before and not rig.board.get().locked
    status, answer = rig.http("POST", "/api/command", {"text": "!strength 0.5"}, headers={"Origin": rig.base})
    assert status == 200 and answer["reply"] == "strength set to 0.5" and rig.board.get().strength == 0.5
    rig.http("POST", "/api/command", {"text": "!strength 1"})


@pytest.mark.slow  # a real stream dreams beside the panel
def test_malformed_bodies_get_json_errors_and_the_stream_carries_on(rig):
    cases = [
        (b"{not json", "application/json", 400, "not JSON"),
        (b'["!dream banana"]', "application/json", 400, 'needs "text"'),
        (b'{"text": 5}', "application/json", 400, 'needs "text"'),
        (b'{"text": "dream banana"}', "application/json", 400, "not a command; allowed: !dream"),
        (b'{"text": "!nope"}', "application/json", 400, "not a command"),
        (json.dumps({"text": "!dream " + "a" * 600}).encode(), "application/json", 400, "at most 500"),
        (b"\xff\xfe\x00", "application/json", 400, "not JSON"),
        (b"text=!lock", "application/x-www-form-urlencoded", 415, "send application/json"),
        (b'{"text": "' + b"x" * 20000 + b'"}', "application/json", 413, "too large"),
    ]
    for body, kind, status, message in cases:
        got, answer = rig.http("POST", "/api/command", body, headers={"Content-Type": kind})
        assert got == status and message in answer["error"], (body[:30], answer)
    got, answer = rig.http("DELETE", "/api/state")
    assert got == 405 and "allowed: GET" in answer["error"]
    got, answer = rig.http("GET", "/api/classes?q=fish&limit=lots")
    assert got == 400 and "limit 'lots'" in answer["error"]
    assert rig.running() and rig.outputs_advance()
    # a bad class is a reply, as in chat
    got, answer = rig.http("POST", "/api/command", {"text": "!dream zzzzqqq"})
    assert got == 200 and answer["reply"].startswith("no class 'zzzzqqq'")


@pytest.mark.slow  # a real stream dreams beside the panel
def test_a_thousand_random_requests_leave_the_stream_running_and_settings_valid(rig, caplog):
    caplog.set_level(logging.WARNING)
    rng = random.Random(9)
    words = ["!dream", "!layer", "!strength", "!octaves", "!flow", "!model", "!lock", "!unlock", "!skip",
             "!clear", "!reset", "!status", "!targets", "!help", "!preset", "dream", "", "!"]
    args = ["goldfish", "eyes", "block3", "0.5", "1.5", "9", "-1", "nan", "inf", "1e308", "dis", "none",
            "farneback", "efficientnet_lite0", "resnet", "💥", "\x00", "' OR 1=1 --", "#999", "#1000", "banana"]
    statuses: dict[int, int] = {}
    for _ in range(1000):
        roll = rng.random()
        if roll < 0.6:
            text = " ".join([rng.choice(words)] + [rng.choice(args) for _ in range(rng.randint(0, 2))])
            status, _ = rig.http("POST", "/api/command", {"text": text})
        elif roll < 0.75:
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
            status, _ = rig.http("POST", "/api/command", junk, headers={"Content-Type": "application/json"})
        elif roll < 0.85:
            status, _ = rig.http(
                rng.choice(["GET", "PUT", "PATCH", "DELETE"]),
                rng.choice(
                    [
                        "/api/state",
                        "/api/command",
                        "/api/classes?q=" + urllib.parse.quote(rng.choice(args)),
                        "/x/../api/state",
                        "/api/preview.jpg",
                        "/%00",
                    ]
                ),
            )
        else:
            status, _ = rig.http("POST", "/api/command", {"text": rng.choice(words) + " x"},
                                 token=rng.choice([None, "", TOKEN[:-1]]))
        statuses[status] = statuses.get(status, 0) + 1
    assert 500 not in statuses, statuses
    assert statuses.get(200, 0) > 300 and statuses.get(401, 0) > 50
    assert rig.running() and rig.outputs_advance()
    c = rig.board.get()
    assert check_controls(c, rig.board.limits) == c
    status, state = rig.http("GET", "/api/state")
    assert status == 200 and state["running"] and state["stats"]["output_fps"] > 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_bind_and_token_settings(monkeypatch, caplog):
    assert parse_bind("8080") == ("127.0.0.1", 8080)
    assert parse_bind("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("", "http://x:80", "99999", "host:", ":80x"):
        with pytest.raises(ConfigError, match=r"is not \[HOST:\]PORT"):
            parse_bind(bad)
    monkeypatch.setenv("DREAMSTREAM_PANEL_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 12 characters"):
        panel_token()
    monkeypatch.setenv("DREAMSTREAM_PANEL_TOKEN", "a-long-enough-token")
    assert panel_token() == "a-long-enough-token"
    monkeypatch.delenv("DREAMSTREAM_PANEL_TOKEN")
    assert len(panel_token()) >= 20 and panel_token() != panel_token()
    # a port in use is one line; a bind beyond 127.0.0.1 warns
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="cannot listen"):
            PanelServer(None, "127.0.0.1", s.getsockname()[1], token=TOKEN).start()  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING)
    server = PanelServer(None, "0.0.0.0", 0, token=TOKEN).start()  # type: ignore[arg-type]
    try:
        assert "not 127.0.0.1" in caplog.text and TOKEN not in caplog.text
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/state", timeout=5)
        assert e.value.code == 401
    finally:
        server.stop()



def test_a_mix_of_classes_is_json_in_the_state_and_named_in_the_label():
    """Found by the soak: a two-class target made /api/state, /api/command and the events a 500 (TargetTerm)."""
    import json

    from engine.targets import TargetTerm
    from stream.settings.controls import LiveControls
    from stream.web.state import dreaming_label, target_json

    mix = (TargetTerm(107, 1.0), TargetTerm(980, 0.5))
    assert json.loads(json.dumps(target_json(mix))) == [{"index": 107, "weight": 1.0}, {"index": 980, "weight": 0.5}]
    assert target_json(1) == 1 and target_json(None) is None
    c = LiveControls(target=mix, target_name="jellyfish + volcano*0.5")
    assert dreaming_label(c) == "class jellyfish + volcano*0.5 (107+980)"
    assert dreaming_label(LiveControls(target=1, target_name="goldfish")) == "class goldfish (1)"
