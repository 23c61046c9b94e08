"""Hand the newest frames to a thread that consumes them, dropping the oldest when it falls behind."""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestFrameThread(Generic[T]):
    """A worker thread fed through a small mailbox: ``put`` never blocks, a slow consumer skips frames.

    ``put`` queues an item; when ``keep`` items already wait, the oldest is dropped (``keep=1``: only the
    newest waits). ``consume(item)`` runs on the thread in the order put; it returns False when the consumer
    has gone (a closed window, a failed camera): the thread ends, and what waits or comes later is dropped.
    ``close`` lets the thread consume what waits, then joins it. ``consumed`` and ``dropped`` count items.
    """

    def __init__(self, consume: Callable[[T], bool], *, name: str, keep: int = 1) -> None:
        self._consume = consume
        self._keep = keep
        self._cond = threading.Condition()
        self._items: deque[T] = deque()
        self._closing = False
        self._gone = False  # the consumer returned False
        self.consumed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Queue ``item`` for the thread (dropped if closing or the consumer has gone); never blocks."""
        with self._cond:
            if self._closing or self._gone:
                self.dropped += 1
                return
            if len(self._items) >= self._keep:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items:
                    return
                item = self._items.popleft()
            if not self._consume(item):
                with self._cond:
                    self._gone = True
                    self.dropped += len(self._items)
                    self._items.clear()
                return
            self.consumed += 1

    def close(self, timeout_s: float) -> bool:
        """Let the thread consume what waits and end; wait up to ``timeout_s``. True once it has ended."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()
