"""OSC control (``live --osc [HOST:]PORT``): TouchDesigner, Resolume, Max or a phone app drive the stream.

Every address runs through the chat command layer (:class:`~stream.chat.dispatcher.CommandCenter`)
with the broadcaster's role, so OSC can do what chat can, within the same limits::

    /dreamstream/command s    any chat command line ("!dream goldfish"; the "!" may be left out)
    /dreamstream/target s     !dream s        (a class, or "banana*0.7+dog")
    /dreamstream/layer s      !layer s        (a layer or an alias such as "eyes")
    /dreamstream/strength f   a fader, 0-1 onto chat.min_strength..max_strength
    /dreamstream/octaves i    !octaves i      (a float is rounded: TouchOSC sends floats)
    /dreamstream/preset s     !preset s
    /dreamstream/skip [x]     !skip           (a button's release, x = 0, is ignored)
    /dreamstream/lock i       !lock (1) or !unlock (0)

With a reply address the state goes back whenever it changes, so a controller's labels
follow the stream: ``/dreamstream/state/target s`` ("" while dreaming a layer), ``.../layer s``,
``.../strength f`` (the fader's 0-1 position), ``.../octaves i``, ``.../locked i``, and
``.../fps f`` (dreamed frames a second) every second; each command's replies go back as
``/dreamstream/reply s``.

Bad input never stops the stream. Packets that are not OSC, too large, for an unknown
address, with the wrong arguments, or beyond :data:`MAX_RATE` messages a second are counted
by kind (:meth:`OscControl.counts`) and logged once per kind and minute (:class:`~stream.io.log_limit.LogLimit`).
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from stream.chat.dispatcher import CommandCenter
from stream.chat.parse import MAX_INPUT
from stream.io.binds import warn_if_open
from stream.io.log_limit import LogLimit
from stream.settings.controls import LiveControls

log = logging.getLogger(__name__)

PREFIX = "/dreamstream/"
OSC_USER_ID = "osc"
#: Largest packet read (a command line of 500 characters is about 520 bytes).
MAX_PACKET = 2048
#: Messages a second acted on (with bursts of as many); more are dropped and counted as a flood.
MAX_RATE = 200.0
#: How often the state is checked for changes to send back, and how often the fps goes back.
REPLY_PERIOD_S = 0.1
FPS_PERIOD_S = 1.0

PROBLEMS = {
    "malformed": "a packet that is not OSC",
    "oversized": f"a packet over {MAX_PACKET} bytes",
    "unknown": "a message for an unknown address",
    "arguments": "a message with the wrong arguments",
    "flood": f"more than {MAX_RATE:g} messages a second",
    "refused": "a command line the stream does not know",
}


def _not_from_pythonosc(record: logging.LogRecord) -> bool:
    """python-osc logs a warning on the root logger for every odd type tag: one bad packet each. Ours count them."""
    return "pythonosc" not in record.pathname


class BadArguments(ValueError):
    """An OSC message whose arguments do not fit its address."""


def _text(args: tuple[Any, ...]) -> str:
    if len(args) != 1 or not isinstance(args[0], str) or not args[0].strip():
        raise BadArguments("expected one non-empty string")
    return " ".join(args[0][:MAX_INPUT].split())


def _number(args: tuple[Any, ...]) -> float:
    if len(args) != 1 or isinstance(args[0], (str, bytes)) or not isinstance(args[0], (int, float)):
        raise BadArguments("expected one number")
    value = float(args[0])
    if not math.isfinite(value):
        raise BadArguments("expected a finite number")
    return value


def _pressed(args: tuple[Any, ...]) -> bool:
    """A button: no argument or a non-zero one is a press; 0 (its release) is not."""
    if not args:
        return True
    return _number(args) != 0


class OscControl:
    """Listens for OSC on ``host:port`` (UDP) and runs each message as the broadcaster's command.

    ``reply`` (``(host, port)``) gets the state back; ``fps`` returns the dreamed frames a second
    for it. :meth:`start` runs it on a daemon thread; :meth:`stop` ends it. :meth:`handle_packet`
    takes one datagram (what the thread does with each; tests call it directly).
    """

    def __init__(self, center: CommandCenter, host: str = "127.0.0.1", port: int = 0, *,
                 reply: tuple[str, int] | None = None, fps: Callable[[], float | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.center = center
        self.clock = clock
        self.fps = fps
        root = logging.getLogger()
        if _not_from_pythonosc not in root.filters:
            root.addFilter(_not_from_pythonosc)
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(REPLY_PERIOD_S)
        self.host, self.port = host, self._sock.getsockname()[1]
        self._client = SimpleUDPClient(*reply) if reply is not None else None
        self._problems: Counter[str] = Counter()
        self._said = LogLimit(log)
        self.received = 0
        self._tokens = MAX_RATE
        self._filled_at = clock()
        self._sent: dict[str, Any] = {}
        self._fps_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._actions: dict[str, Callable[[tuple[Any, ...]], str | None]] = {
            "command": lambda a: _text(a),
            "target": lambda a: f"!dream {_text(a)}",
            "layer": lambda a: f"!layer {_text(a)}",
            "strength": self._strength,
            "octaves": lambda a: f"!octaves {round(_number(a))}",
            "preset": lambda a: f"!preset {_text(a)}",
            "skip": lambda a: "!skip" if _pressed(a) else None,
            "lock": lambda a: "!lock" if _number(a) else "!unlock",
        }

    # ----------------------------------------------------------------- in

    def handle_packet(self, data: bytes) -> None:
        """Act on one datagram; never raises (a problem is counted and logged once per kind)."""
        self.received += 1
        if len(data) > MAX_PACKET:
            return self._problem("oversized", f"{len(data)} bytes")
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as e:  # noqa: BLE001 - the library's parser on any bytes at all: ParseError, UnicodeError...
            return self._problem("malformed", type(e).__name__)
        for message in messages:
            if not self._take_token():
                self._problem("flood", "dropped")
                continue
            self._message(str(message.address), tuple(message.params))

    def _message(self, address: str, args: tuple[Any, ...]) -> None:
        action = self._actions.get(address[len(PREFIX):]) if address.startswith(PREFIX) else None
        if action is None:
            return self._problem("unknown", address[:60])
        try:
            text = action(args)
        except BadArguments as e:
            return self._problem("arguments", f"{address[:60]}: {e}")
        if text is not None:
            self._run(text)

    def _strength(self, args: tuple[Any, ...]) -> str:
        limits = self.center.limits
        position = min(1.0, max(0.0, _number(args)))
        value = limits.min_strength + position * (limits.max_strength - limits.min_strength)
        return f"!strength {value:.4f}"

    def _run(self, text: str) -> None:
        if not text.startswith("!"):
            text = "!" + text
        replies = self.center.operate(OSC_USER_ID, text, self.clock())
        if not replies:
            self._problem("refused", text[:60])
        for r in replies:
            log.debug("osc %s: %s", text[:60], r)
            self._send("reply", r)

    def _take_token(self) -> bool:
        now = self.clock()
        self._tokens = min(MAX_RATE, self._tokens + (now - self._filled_at) * MAX_RATE)
        self._filled_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _problem(self, kind: str, detail: str) -> None:
        self._problems[kind] += 1
        self._said.warning(f"osc: ignored {PROBLEMS[kind]}", self.clock(), "osc: ignored %s (%s)", PROBLEMS[kind],
                           detail)

    def counts(self) -> dict[str, int]:
        """Packets received and problems by kind (``malformed``, ``oversized``, ``unknown``, ...)."""
        return {"received": self.received, **{k: self._problems[k] for k in PROBLEMS}}

    # ----------------------------------------------------------------- out

    def _send(self, name: str, value: Any) -> None:
        if self._client is None:
            return
        try:
            self._client.send_message(PREFIX + name, value)
        except OSError as e:  # nobody listening yet, or a bad route: the stream goes on
            self._problem_out(e)

    def _problem_out(self, e: OSError) -> None:
        self._problems["reply"] += 1
        self._said.warning("osc: replies not sent", self.clock(), "osc: the reply could not be sent (%s)", e)

    def send_state(self, now: float) -> None:
        """Send what changed since the last call (and the fps once a second) to the reply address."""
        if self._client is None:
            return
        state = self._state(self.center.board.get())
        for name, value in state.items():
            if self._sent.get(name) != value:
                self._send(f"state/{name}", value)
        self._sent = state
        if self.fps is not None and now - self._fps_at >= FPS_PERIOD_S:
            self._fps_at = now
            fps = self.fps()
            if fps is not None:
                self._send("state/fps", float(fps))

    def _state(self, c: LiveControls) -> dict[str, Any]:
        limits = self.center.limits
        span = limits.max_strength - limits.min_strength
        position = (c.strength - limits.min_strength) / span if span > 0 else 1.0
        return {"target": c.target_name, "layer": c.layer, "strength": round(position, 4),
                "octaves": c.octaves, "locked": int(c.locked)}

    # ----------------------------------------------------------------- thread

    def run(self) -> None:
        """Read datagrams until :meth:`stop`; the state goes back between them."""
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                data = None
            except OSError:
                if self._stop.is_set():
                    break
                raise
            if data is not None:
                self.handle_packet(data)
            self.send_state(self.clock())
            self._said.flush(self.clock())

    def start(self) -> OscControl:
        warn_if_open(self.host, "OSC control")
        self._thread = threading.Thread(target=self._guarded, name="osc-control", daemon=True)
        self._thread.start()
        log.info("osc: listening on %s:%d", self.host, self.port)
        return self

    def _guarded(self) -> None:
        try:
            self.run()
        except Exception:  # a bug, not bad input: say so once; the stream goes on without OSC
            log.exception("osc control stopped")

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._sock.close()
