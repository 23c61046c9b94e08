"""Progress bars on stderr (tqdm): shown when stderr is a terminal, or when asked for."""
from __future__ import annotations

from typing import Any

from tqdm import tqdm


class Bar(tqdm):
    """A tqdm bar without tqdm's monitor thread (it only tunes ``miniters`` of bars that stall).

    A process that starts other processes later (Ray's start, in a chunked render) must have no
    thread of its own running then: a fork beside a thread can deadlock the child before it execs.
    """

    monitor_interval = 0


def progress_bar(total: int | None, unit: str, *, enabled: bool | None = None, **options: Any) -> Bar:
    """A bar counting ``unit``; ``enabled=None`` shows it only on a terminal. Use it as a context manager."""
    return Bar(total=total, unit=unit, disable=None if enabled is None else not enabled, dynamic_ncols=True, **options)
