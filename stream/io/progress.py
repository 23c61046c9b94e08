"""A small text progress bar on stderr (only when stderr is a terminal, or when forced)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``Progress(total, "frames")``; call :meth:`update` with the count done, :meth:`close` at the end."""

    def __init__(self, total: int | None, unit: str = "steps", stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total, self.unit = total, unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.last = 0.0
        self.done = 0

    def update(self, done: int, extra: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and done != self.total):
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 24)
            left = (self.total - done) / rate if rate > 0 else 0.0
            text = f"\r[{bar:<24}] {done}/{self.total} {self.unit}  {rate:.2f}/s  {left:.0f}s left {extra}"
        else:
            text = f"\r{done} {self.unit}  {rate:.2f}/s {extra}"
        self.stream.write(text[:160])
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
