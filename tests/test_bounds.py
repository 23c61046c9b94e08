"""Long-run bounds: a hundred thousand events through each thing that keeps state, its size after, and that it
still works. Time is passed in (or a clock the test moves); nothing sleeps."""
from __future__ import annotations

import logging

import pytest

from stream.io.log_limit import MAX_KINDS, FloodFilter, LogLimit

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
