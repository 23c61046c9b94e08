"""A thread for the network's part of a live frame, so it has a core to itself while the frame around it is made.

A live CPU frame is the network's forward and backward (most of the time) and work around it
(flow, warps, bounds, colours, the step's image priors, the output). :class:`engine.live_dream.LiveDreamer`
given a :class:`StepWorker` hands each frame's gradient to it and uses it a frame later. A process
of its own was tried and dropped: it spares the network Python's lock, but in the live pipeline on
2 cores its steps took as long (40-45 ms a class step against 25-31 alone: the machine is simply
full) and the dreamed rate was the same, at the cost of a second model and a 2.6 s start.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

import torch

T = TypeVar("T")


class StepWorker(Protocol):
    """Runs what it is given in order, away from the asking thread; :meth:`close` waits for it and stops."""

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]: ...

    def close(self) -> None: ...


def _with_threads(threads: int, fn: Callable[..., T], *args: object) -> T:
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)  # torch keeps a thread count per thread
    return fn(*args)


class ThreadSteps:
    """A :class:`StepWorker` on one thread of this process, with as many torch threads as the asking thread has."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="dream-steps")
        return self._pool.submit(_with_threads, torch.get_num_threads(), fn, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
