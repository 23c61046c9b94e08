"""``dreamstream live`` starts its resources as one stack: a start that fails stops everything started before it."""
from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import mido
import pytest

from stream.cli import live as live_cli
from stream.cli.main import main

FAST = ["--size", "160x90", "--dream-scale", "0.25", "--octaves", "1", "--steps", "1", "--steps-per-frame", "1"]


def _children() -> set[int]:
    found: set[int] = set()
    for tasks in Path("/proc/self/task").glob("*/children"):
        try:
            found.update(int(pid) for pid in tasks.read_text().split())
        except OSError:
            continue
    return found


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.usefixtures("restore_signals")
def test_a_panel_port_taken_after_osc_and_midi_started_stops_them_all(monkeypatch, capsys):
    """The panel's port is free when checked, then taken (another program got there first): the panel fails to
    start after the model loaded and OSC and MIDI started. The run ends with one line, exit 2, and leaves no thread,
    no bound port, no open MIDI input, no child and no signal handler of its own."""
    before = mido.backend
    mido.set_backend("midi_loop", load=True)
    opened: list = []
    open_midi = live_cli._open_midi
    monkeypatch.setattr(live_cli, "_open_midi", lambda *a: opened.append(open_midi(*a)) or opened[-1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        osc_port = s.getsockname()[1]
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    panel_port = taken.getsockname()[1]
    check = live_cli.check_bind
    monkeypatch.setattr(live_cli, "check_bind", lambda host, port, *a, **k: None if port == panel_port
                        else check(host, port, *a, **k))  # free when checked
    threads, children = set(threading.enumerate()), _children()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    started: list[str] = []
    start_osc = live_cli._start_remotes
    monkeypatch.setattr(live_cli, "_start_remotes", lambda *a: started.extend(("osc", "midi")) or start_osc(*a))
    try:
        code = main(["live", "--input", "testsrc", "--output", "null", "--osc", str(osc_port), "--midi", "loop 1",
                     "--panel", str(panel_port), *FAST])
    finally:
        taken.close()
        mido.backend = before
    assert started == ["osc", "midi"]  # the panel failed after these started
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("dreamstream:")]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"dreamstream: error: --panel 127.0.0.1:{panel_port} cannot listen")
    assert "address already in use" in lines[0].lower()
    deadline = time.monotonic() + 5  # threads told to stop end within their join timeouts
    while set(threading.enumerate()) - threads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [t.name for t in set(threading.enumerate()) - threads]
    assert _udp_port_free(osc_port)
    assert opened and opened[0].closed
    assert _children() <= children
    assert {s: signal.getsignal(s) for s in handlers} == handlers
