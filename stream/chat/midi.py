"""MIDI control (``live --midi PORT``): knobs set strength, octaves and layer; pads dream classes or run commands.

What each control does comes from ``midi.map`` (:class:`~stream.settings.midi.MidiSettings`):
a knob (``ccN: strength``) spreads its 0-127 travel over the allowed range; a pad (``note36:
goldfish``, ``note39: "!skip"``, or a ``ccN`` that is not a knob) runs its command when struck
(a note-on with velocity) or when the control passes the middle (64) going up. Everything runs
through the chat command layer with the broadcaster's role, as the panel and OSC do.

Ports come from mido (``pip install 'dreamstream[midi]'``: mido with python-rtmidi). Any object
with mido's input-port interface (``poll()``, ``close()``) works; :meth:`MidiControl.open` finds
one by name.

A flood (a stuck pad, a knob swept back and forth, messages that fail) logs one line per control
and minute (:class:`~stream.io.log_limit.LogLimit`); only the controls ``midi.map`` names are remembered.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.errors import ConfigError, did_you_mean
from stream.chat.dispatcher import CommandCenter
from stream.io.log_limit import LogLimit
from stream.settings.midi import KNOBS, MidiSettings, pad_command

log = logging.getLogger(__name__)

MIDI_USER_ID = "midi"
#: How often the port is polled for messages (seconds).
POLL_S = 0.005


def open_input(name: str) -> Any:
    """The mido input port whose name is ``name`` or contains it (case-insensitive); ConfigError if none."""
    try:
        import mido
    except ImportError:
        raise ConfigError("--midi needs mido and python-rtmidi: pip install 'dreamstream[midi]'") from None
    try:
        names = list(mido.get_input_names())
    except Exception as e:  # noqa: BLE001 - the backend's own error (no ALSA sequencer, no CoreMIDI...)
        raise ConfigError(f"--midi {name!r}: MIDI is not available on this machine ({type(e).__name__}: "
                          f"{' '.join(str(e).split())[:120]})") from None
    exact = [n for n in names if n == name]
    found = exact or [n for n in names if name.lower() in n.lower()]
    if not found:
        listed = ", ".join(repr(n) for n in names) if names else "none"
        raise ConfigError(f"--midi {name!r}: no MIDI input of that name{did_you_mean(name, names)}; inputs: {listed}")
    if len(found) > 1:
        raise ConfigError(f"--midi {name!r} matches {len(found)} inputs ({', '.join(map(repr, found))}); "
                          "give more of the name")
    return mido.open_input(found[0])


class MidiControl:
    """Reads ``port`` (a mido input) and turns its messages into the broadcaster's chat commands.

    :meth:`handle` takes one mido message (what the thread does with each); :meth:`start` polls
    the port on a daemon thread; :meth:`stop` ends it and closes the port.
    """

    def __init__(self, center: CommandCenter, port: Any, settings: MidiSettings, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.center = center
        self.port = port
        self.settings = settings
        self.clock = clock
        self.handled = 0
        self._knob_at: dict[str, str] = {}  # knob -> the command it last ran (a knob's sweep runs each step once)
        self._cc_value: dict[int, int] = {}  # the mapped controls' last values (at most midi.map's size)
        self._said = LogLimit(log, max_kinds=len(settings.map) + 1)  # a tally per control, one for failures
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def remembered(self) -> int:
        """Controls whose last value is kept (only those ``midi.map`` names)."""
        return len(self._cc_value)

    def handle(self, message: Any) -> list[str]:
        """Act on one mido message; returns the replies (none for messages the map does not name)."""
        channel = getattr(message, "channel", None)
        if self.settings.channel and channel is not None and channel + 1 != self.settings.channel:
            return []
        kind = getattr(message, "type", "")
        if kind == "control_change":
            return self._control(int(message.control), int(message.value))
        if kind == "note_on" and int(message.velocity) > 0:
            action = self.settings.map.get(f"note{int(message.note)}")
            return self._run(pad_command(action), f"note{int(message.note)}") if action else []
        return []

    def _control(self, number: int, value: int) -> list[str]:
        key = f"cc{number}"
        action = self.settings.map.get(key)
        if action is None:
            return []
        before = self._cc_value.get(number, 0)
        self._cc_value[number] = value
        if action not in KNOBS:
            return self._run(pad_command(action), key) if before < 64 <= value else []
        text = self._knob(action, value / 127)
        if text is None or self._knob_at.get(key) == text:
            return []
        self._knob_at[key] = text
        return self._run(text, key)

    def _knob(self, action: str, position: float) -> str | None:
        """The command a knob at ``position`` (0-1) runs."""
        limits = self.center.limits
        if action == "strength":
            value = limits.min_strength + position * (limits.max_strength - limits.min_strength)
            return f"!strength {value:.3f}"
        if action == "octaves":
            return f"!octaves {round(limits.min_octaves + position * (limits.max_octaves - limits.min_octaves))}"
        names = self.center.catalogs.spec(self.center.board.get().model).layer_names
        return f"!layer {names[min(len(names) - 1, int(position * len(names)))]}" if names else None

    def _run(self, text: str, control: str) -> list[str]:
        now = self.clock()
        replies = self.center.operate(MIDI_USER_ID, text, now)
        self.handled += 1
        for r in replies:
            self._said.log(logging.INFO, f"midi {control}", now, "midi %s: %s", text, r)
        return replies

    def run(self) -> None:
        """Poll the port until :meth:`stop` (or until the port fails, saying so once)."""
        while not self._stop.is_set():
            try:
                message = self.port.poll()
            except Exception as e:  # noqa: BLE001 - a port unplugged mid-stream: the stream goes on without it
                log.error("midi: input %s failed (%s: %s); MIDI control stopped", getattr(self.port, "name", "?"),
                          type(e).__name__, e)
                return
            if message is None:
                self._said.flush(self.clock())
                self._stop.wait(POLL_S)
                continue
            try:
                self.handle(message)
            except Exception:  # noqa: BLE001 - a bug or a broken port's message: said once a minute; the next is read
                self._said.log(logging.ERROR, "midi: messages failed", self.clock(), "midi: message %.80s failed",
                               message, exc_info=True)

    def start(self) -> MidiControl:
        self._thread = threading.Thread(target=self.run, name="midi-control", daemon=True)
        self._thread.start()
        log.info("midi: reading %s", getattr(self.port, "name", self.port))
        return self

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.port.close()
