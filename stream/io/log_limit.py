"""A flood of bad input logs one line per kind and period, with a count of the lines left out.

Pure bookkeeping with time passed in (``now``, seconds on any monotonic clock), like
``stream/chat/limits.py``. The first hit of a kind (an OSC packet that is not OSC, a failing
panel request) is written, saying so; its repeats within ``period_s`` are only counted; the first hit
after that is written again with the count (``...; 9,999 more like it in the last 60 s``);
:meth:`LogLimit.flush` writes the count of a flood that stopped. A clock that went back never
silences anything. Kinds are a fixed set named by the code, never by the input; past
``max_kinds`` the others share one tally.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

#: Seconds between two lines of one kind.
PERIOD_S = 60.0
#: Kinds tallied apart; more share the tally ``OTHER``.
MAX_KINDS = 64
OTHER = "(other kinds)"


@dataclass
class _Tally:
    last: float  # when the kind's last line was written
    level: int
    left_out: int = 0  # hits since then, not written


class LogLimit:
    """Writes to ``logger`` at most one line per kind every ``period_s`` seconds; counts the rest. Thread-safe."""

    def __init__(self, logger: logging.Logger, period_s: float = PERIOD_S, *, max_kinds: int = MAX_KINDS) -> None:
        self.logger = logger
        self.period_s = period_s
        self.max_kinds = max_kinds
        self._tallies: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    def admit(self, kind: str, now: float, level: int = logging.WARNING) -> str | None:
        """None: count this hit, write nothing; else the note its line ends with ("; N more like it in ...")."""
        with self._lock:
            if kind not in self._tallies and len(self._tallies) >= self.max_kinds:
                kind = OTHER
            tally = self._tallies.get(kind)
            if tally is None:
                self._tallies[kind] = _Tally(now, level)
                return f"; more like it are counted, a line every {self.period_s:g} s at most"
            if 0 <= now - tally.last < self.period_s:
                tally.left_out += 1
                return None
            note = _note(tally.left_out, now - tally.last)
            tally.last, tally.left_out = now, 0
            return note

    def log(self, level: int, kind: str, now: float, msg: str, *args: object, exc_info: bool = False) -> bool:
        """``logger.log(level, msg, *args)``, with its note, when :meth:`admit` lets ``kind`` through; True if so."""
        note = self.admit(kind, now, level)
        if note is None:
            return False
        self.logger.log(level, msg + "%s", *args, note, exc_info=exc_info)
        return True

    def warning(self, kind: str, now: float, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, now, msg, *args)

    def flush(self, now: float) -> int:
        """Write the count of each kind left out whose last line is ``period_s`` old (a flood that stopped)."""
        with self._lock:
            due = [(kind, t) for kind, t in self._tallies.items()
                   if t.left_out and not 0 <= now - t.last < self.period_s]
            lines = [(t.level, kind, t.left_out, now - t.last) for kind, t in due]
            for _, t in due:
                t.last, t.left_out = now, 0
        for level, kind, count, elapsed in lines:
            self.logger.log(level, "%s: %s more in the last %.0f s", kind, f"{count:,}", max(0.0, elapsed))
        return len(lines)

    def left_out(self, kind: str) -> int:
        """Hits of ``kind`` counted since its last line."""
        with self._lock:
            tally = self._tallies.get(kind)
            return tally.left_out if tally is not None else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._tallies)


class FloodFilter(logging.Filter):
    """A :class:`logging.Filter` for a library's logger: each message (by its format string) through once a period.

    A record's time is its own ``created``; a record let through after others were dropped says how many.
    """

    def __init__(self, period_s: float = PERIOD_S, *, max_kinds: int = MAX_KINDS) -> None:
        super().__init__()
        self.limit = LogLimit(logging.getLogger(__name__), period_s, max_kinds=max_kinds)

    def filter(self, record: logging.LogRecord) -> bool:
        note = self.limit.admit(f"{record.name}: {record.msg}", record.created, record.levelno)
        if note is None:
            return False
        if note:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken record is logging's to report, not ours
                return True
            record.msg, record.args = message + note, ()
        return True


def _note(left_out: int, elapsed: float) -> str:
    return f"; {left_out:,} more like it in the last {max(0.0, elapsed):.0f} s" if left_out else ""
