"""A bounded queue that wakes its reader on put and ends with a marker, with two backpressure policies.

* :meth:`StageQueue.put` blocks while the queue is full (files: never drop a frame);
* :meth:`StageQueue.put_newest` makes room by dropping the oldest items (live: the newest frame wins);
* :meth:`StageQueue.finish` is the end of stream: :meth:`get` returns ``None`` once the items
  before it are taken, so no frame queued before the end is lost;
* :meth:`StageQueue.close` (stop) wakes every waiting thread at once and discards what is queued.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class StageQueue(Generic[T]):
    """A bounded FIFO between two pipeline stages (one producer, one consumer)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize {maxsize} must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._finished = False
        self._closed = False

    def put(self, item: T) -> bool:
        """Append ``item``, waiting while the queue is full; False if the queue was closed meanwhile."""
        with self._cond:
            while len(self._items) >= self.maxsize and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def put_newest(self, item: T) -> int:
        """Append ``item`` at once, dropping the oldest items to make room; returns how many were dropped."""
        with self._cond:
            if self._closed:
                return 0
            dropped = 0
            while len(self._items) >= self.maxsize:
                self._items.popleft()
                dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return dropped

    def offer(self, item: T) -> bool:
        """Append ``item`` if there is room, without waiting; False (``item`` not queued) when full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self.maxsize:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self) -> T | None:
        """The oldest item, waiting for one; ``None`` after :meth:`finish` once empty, or after :meth:`close`."""
        with self._cond:
            while not self._items and not self._finished and not self._closed:
                self._cond.wait()
            if self._closed or not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def finish(self) -> None:
        """End of stream: the reader gets what is queued, then ``None``."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def close(self) -> None:
        """Stop: wake every waiting thread; queued items are discarded."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
