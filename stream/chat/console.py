"""Drive the chat command layer from a text stream (``dreamstream live --control stdin``)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TextIO

from stream.chat.dispatcher import CommandCenter
from stream.chat.message import ChatMessage
from stream.chat.parse import echo
from stream.io.log_limit import LogLimit
from stream.settings.names import COMMANDS

logger = logging.getLogger(__name__)

CONSOLE_USER_ID = "console"
#: Failures in a row after which the console stops reading (a broken stream, not a bad line).
MAX_FAILURES = 20


class StdinControl:
    """Reads lines from ``stream`` and runs them as the broadcaster's chat commands.

    Each line (``!dream goldfish``; the ``!`` may be left out) goes to
    ``center.handle``; every reply goes to ``reply`` (default: the module logger at INFO).
    ``run()`` reads until end of stream or :meth:`stop`; :meth:`start` runs it on a daemon
    thread.  A thread blocked in ``readline`` on a terminal cannot be woken, so ``stop``
    only stops it after the next line; being a daemon it never holds up exit.
    """

    def __init__(
        self,
        center: CommandCenter,
        stream: TextIO,
        *,
        reply: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        user_name: str = "console",
    ) -> None:
        self.center = center
        self.stream = stream
        self.reply = reply or (lambda text: logger.info("%s", text))
        self.clock = clock
        self.user_name = user_name
        self._said = LogLimit(logger)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def feed(self, line: str) -> list[str]:
        """Run one line now; returns (and reports) the replies."""
        text = line.strip()
        if not text:
            return []
        if not text.startswith("!"):
            text = "!" + text
        msg = ChatMessage(CONSOLE_USER_ID, self.user_name, text, is_mod=True, is_broadcaster=True)
        replies = self.center.handle(msg, self.clock())
        if not replies and text.split()[0][1:].lower() not in COMMANDS:
            replies = [f"unknown command '{echo(text.split()[0], 30)}'; try !help"]
        replies += self.center.drain_announcements()
        for r in replies:
            self.reply(r)
        return replies

    def _readline(self) -> str:
        """One line; bytes that are not valid in the stream's encoding become U+FFFD.

        A text stream decoding strictly (``PYTHONIOENCODING=utf-8:strict``) would raise on one bad
        byte and lose its place; its byte buffer is read instead and decoded here with replacement.
        """
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:
            return self.stream.readline()
        raw = buffer.readline()
        return raw.decode(getattr(self.stream, "encoding", None) or "utf-8", errors="replace")

    def run(self) -> None:
        """Read and run lines until end of stream or :meth:`stop`.

        A line that fails in an unexpected way is reported in one line (then once a minute, with a count) and
        reading goes on, so the console is never silently dead; after ``MAX_FAILURES`` failures in a row it
        stops, saying so.
        """
        failures = 0
        while not self._stop.is_set():
            try:
                line = self._readline()
                if not line:
                    break
                self.feed(line)
                failures = 0
            except Exception as e:  # noqa: BLE001 (the console thread must not die silently)
                failures += 1
                if failures >= MAX_FAILURES:
                    logger.error("stdin console: stopped after %d failures in a row (last: %s)", failures,
                                 type(e).__name__)
                    break
                self._said.log(logging.ERROR, "stdin console: lines failed", self.clock(),
                               "stdin console: a line failed (%s: %.80s); still reading", type(e).__name__, e)

    def start(self) -> StdinControl:
        self._thread = threading.Thread(target=self.run, name="stdin-control", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 0.5) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
