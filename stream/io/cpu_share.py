"""Torch's thread count kept to the CPU this process can have: fewer threads while other processes are busy.

With ``model.threads: 0`` (auto) the dream runs on as many threads as the cores other processes
leave it. Why: torch splits each operation evenly over its threads and waits for the last one, so
beside a busy process one thread's share is late at every operation. OpenMP threads that wait
passively for it stop that wait from burning a core, but passive waits cost 12-20% on an idle
machine (a futex wake per operation); spinning waits cost nothing there but, beside a busy
process, made a ``video`` run 6.6x slower. Measured here instead: the other processes' CPU use
(``/proc/stat`` minus this process's own time) each ``interval_s``; beside one busy process on
2 cores the dream drops to one thread (no waits at all) and goes back to two when it ends
(``scripts/bench_contention.py``).

Linux only (``/proc/stat``); elsewhere the thread count stays as set. torch keeps a thread count
per calling thread, so :meth:`CpuShare.update` is called from the thread that dreams.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")
#: The fields of /proc/stat's ``cpu`` line that are work (user, nice, system, irq, softirq, steal):
#: not idle (3) or iowait (4). guest time is already in user.
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def busy_seconds(path: Path = PROC_STAT) -> float | None:
    """CPU seconds the whole machine has worked since boot, summed over its cores; None off Linux."""
    try:
        first = path.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    ticks = [int(v) for v in first[1:]]
    return sum(ticks[i] for i in BUSY_FIELDS if i < len(ticks)) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds this process has used, all its threads (not its children)."""
    t = os.times()
    return t.user + t.system


def machine_cores() -> int:
    """The cores /proc/stat counts (every core of the machine, whatever this process may use)."""
    return os.cpu_count() or 1


def fair_threads(cores: int, others: float, most: int) -> int:
    """Threads for this process: the ``cores`` that ``others`` busy cores leave, rounded, 1 to ``most``."""
    return max(1, min(most, int(cores - others + 0.5)))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return machine_cores()


class CpuShare:
    """Keeps torch at :func:`fair_threads` for the CPU other processes leave; ``most`` threads when alone.

    :meth:`update` (from the dreaming thread, each frame) measures every ``interval_s`` and sets
    the new count when it changes; ``threads`` is the current one and ``others`` the other
    processes' busy cores in the last interval. The clock and the two CPU counters are
    parameters, so the rule is testable without a busy machine.
    """

    def __init__(
        self,
        most: int,
        interval_s: float = 1.0,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[], float | None] = busy_seconds,
        own: Callable[[], float] = own_seconds,
        set_threads: Callable[[int], None] = torch.set_num_threads,
    ) -> None:
        self.most = max(1, most)
        self.interval_s = interval_s
        self.cores = cores or machine_cores()
        self.clock, self.busy, self.own, self.set_threads = clock, busy, own, set_threads
        self.threads = self.most
        self.others = 0.0
        self.changes = 0
        self._last: tuple[float, float, float] | None = None  # clock, machine's and own CPU seconds at the last reading
        self._started = False
        self._readable = True  # False once /proc/stat could not be read (not Linux): never tried again

    @property
    def available(self) -> bool:
        """Whether the machine's CPU use can be read here (Linux)."""
        return self.busy() is not None

    def update(self) -> int:
        """Measure if an interval has passed, set torch's threads if the fair count changed; the count."""
        if not self._started:
            self._started = True
            self.set_threads(self.threads)  # the calling thread's own count (torch keeps one per thread)
        now = self.clock()
        if not self._readable or (self._last is not None and now - self._last[0] < self.interval_s):
            return self.threads  # /proc/stat is read once an interval, not every frame
        busy = self.busy()
        if busy is None:
            self._readable = False
            return self.threads
        own = self.own()
        if self._last is None:
            self._last = (now, busy, own)
            return self.threads
        then, busy0, own0 = self._last
        self._last = (now, busy, own)
        self.others = max(0.0, ((busy - busy0) - (own - own0)) / (now - then))
        wanted = fair_threads(self.cores, self.others, self.most)
        if wanted != self.threads:
            log.info("other processes keep %.1f of %d cores busy: dreaming on %d thread%s", self.others, self.cores,
                     wanted, "" if wanted == 1 else "s")
            self.threads = wanted
            self.changes += 1
            self.set_threads(wanted)
        return self.threads


def cpu_share(threads: int, reserve: int = 0) -> CpuShare | None:
    """The share for ``model.threads``: with 0 (auto) at most the usable cores less ``reserve`` (at least 1);
    None for a fixed count (set once, by :func:`stream.io.dreaming.load_model`)."""
    if threads:
        return None
    return CpuShare(max(1, usable_cores() - reserve))
