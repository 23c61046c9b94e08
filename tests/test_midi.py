"""MIDI control through mido's own port objects (``tests/midi_loop.py``; no ALSA sequencer on this machine)."""
from __future__ import annotations

import json

import mido
import pytest
from test_chat_commands import BANANA, GOLDFISH, make
from test_live import FAST
from test_osc import wait_for
from test_web_cli import run_live

from engine.errors import ConfigError
from stream.chat.midi import MidiControl, open_input
from stream.settings.loader import load_config
from stream.settings.midi import DEFAULT_MAP, MidiSettings

LOOP = "DreamStream Loop 1"


@pytest.fixture()
def loop_backend():
    before = mido.backend
    mido.set_backend("midi_loop", load=True)
    yield
    mido.backend = before


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=control, value=value, channel=channel)


def note(number: int, velocity: int = 100, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=number, velocity=velocity, channel=channel)


def control(**kw) -> tuple:
    board, center = make()
    return board, MidiControl(center, None, MidiSettings(**kw))


def test_knobs_spread_their_travel_over_the_allowed_range():
    board, midi = control()
    midi.handle(cc(1, 0))
    assert board.get().strength == 0.25
    midi.handle(cc(1, 127))
    assert board.get().strength == 1.5
    midi.handle(cc(2, 0))
    assert board.get().octaves == 1
    midi.handle(cc(2, 127))
    assert board.get().octaves == 4
    midi.handle(cc(3, 127))  # the deepest layer
    assert board.get().layer == "head" and board.get().target is None
    midi.handle(cc(3, 0))
    assert board.get().layer == "stem"


def test_a_knob_sweep_runs_each_step_once():
    _board, midi = control()
    runs = [bool(midi.handle(cc(2, v))) for v in range(128)]
    assert sum(runs) == 4  # octaves 1, 2, 3, 4: one command each, not 128


def test_pads_dream_classes_and_run_commands():
    board, midi = control(map={"note36": "goldfish", "note37": "banana", "note39": "!skip", "cc20": "!lock"})
    assert midi.handle(note(36)) == ["@midi now: goldfish for 45s"]
    assert board.get().target == GOLDFISH
    midi.handle(note(37))  # the operator's own request: replaced at once
    assert board.get().target == BANANA
    midi.handle(note(36, velocity=0))  # a note-off as note-on with velocity 0: nothing
    assert board.get().target == BANANA
    midi.handle(note(39))
    assert board.get().target is None
    midi.handle(cc(20, 127))  # a pad on a control change: runs when it passes the middle going up
    assert board.get().locked
    midi.handle(cc(20, 0))
    board.replace(locked=False)
    midi.handle(cc(20, 100))
    midi.handle(cc(20, 120))  # still held: once
    assert board.get().locked


def test_unmapped_messages_and_other_channels_change_nothing():
    board, midi = control(channel=2)
    before = board.snapshot()
    for message in (cc(1, 127), note(36), cc(99, 5, channel=1), mido.Message("pitchwheel", pitch=100),
                    mido.Message("sysex", data=[1, 2, 3]), mido.Message("clock")):
        assert midi.handle(message) == []
    assert board.snapshot() == before
    midi.handle(cc(1, 127, channel=1))  # channel 2 (mido counts from 0)
    assert board.get().strength == 1.5


def test_the_map_is_checked_in_the_settings_with_one_line():
    assert load_config().section("midi").map == dict(DEFAULT_MAP)
    for bad, says in (({"note5": "strength"}, "is a knob"), ({"cc500": "strength"}, "unknown key 'cc500'"),
                      ({"cc5": "!bogus"}, "unknown command !bogus"), ({"note4": "  "}, "is empty")):
        with pytest.raises(ConfigError, match=says):
            load_config(overrides={"midi.map": bad})


def test_ports_are_found_by_a_part_of_their_name(loop_backend):
    port = open_input("loop 1")
    assert port.name == LOOP
    port.close()
    with pytest.raises(ConfigError, match=r"no MIDI input of that name.*inputs: 'DreamStream Loop 1', 'Other Synth 2'"):
        open_input("nanoKONTROL")
    with pytest.raises(ConfigError, match="matches 2 inputs"):
        open_input(" ")


def test_no_midi_system_is_one_line():
    before = mido.backend
    mido.set_backend("mido.backends.rtmidi", load=False)
    try:
        try:
            names = mido.get_input_names()
        except Exception:  # noqa: BLE001 - this machine: no ALSA sequencer
            names = None
        if names is not None:
            pytest.skip("this machine has a MIDI system")
        with pytest.raises(ConfigError, match=r"^--midi 'x': MIDI is not available on this machine \("):
            open_input("x")
    finally:
        mido.backend = before


@pytest.mark.slow
def test_live_takes_knobs_and_pads_from_a_port(tmp_path, loop_backend):
    stats = tmp_path / "stats.jsonl"
    cfg = tmp_path / "fast-stats.yaml"
    cfg.write_text("live:\n  stats_interval_s: 0.1\nmidi:\n  map:\n    note40: zebra\n")
    out: dict = {}
    t = run_live(["live", "--input", "testsrc", "--output", "null", "--midi", "loop 1", "--stats-file", str(stats),
                  "--duration", "8", "--config", str(cfg), *FAST], out)

    def last() -> dict:
        lines = stats.read_text().splitlines() if stats.exists() else []
        return json.loads(lines[-1])["controls"] if lines else {}

    wait_for(lambda: last() or not t.is_alive(), timeout=60)
    assert t.is_alive(), f"live stopped: {out}"
    with mido.open_output(LOOP) as keys:
        keys.send(note(40))  # from the --config file's map
        wait_for(lambda: last().get("target") == "zebra", timeout=2)
        keys.send(cc(1, 0))  # the default map's mod wheel
        wait_for(lambda: last().get("strength") == 0.25, timeout=2)
        keys.send(note(39))  # !skip
        wait_for(lambda: last().get("target") is None, timeout=2)
    t.join(60)
    assert out["rc"] == 0
