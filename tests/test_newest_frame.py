"""NewestFrameThread: the mailbox between an output and the thread that feeds a window or a camera."""
from __future__ import annotations

import threading

from stream.io.newest_frame import NewestFrameThread


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_the_newest_wins_while_the_consumer_is_busy():
    busy, got = threading.Event(), []
    started = threading.Event()

    def consume(item: int) -> bool:
        started.set()
        busy.wait(5)
        got.append(item)
        return True

    feed = NewestFrameThread(consume, name="test newest")
    feed.put(0)
    assert started.wait(5)  # the thread holds 0; what comes now waits in the one slot
    for i in range(1, 6):
        feed.put(i)  # never blocks
    busy.set()
    assert feed.close(5.0)
    assert got == [0, 5] and (feed.consumed, feed.dropped) == (2, 4)


def test_keep_holds_the_newest_few_in_order():
    gate, got = threading.Event(), []

    def consume(item: int) -> bool:
        gate.wait(5)
        got.append(item)
        return True

    feed = NewestFrameThread(consume, name="test keep", keep=3)
    for i in range(10):
        feed.put(i)
    gate.set()
    assert feed.close(5.0)
    assert got[-3:] == [7, 8, 9] and got == sorted(got) and feed.consumed + feed.dropped == 10


def test_close_wakes_the_idle_thread_and_joins_it():
    feed = NewestFrameThread(lambda item: True, name="test idle")
    assert len(_threads("test idle")) == 1
    assert feed.close(5.0)
    assert _threads("test idle") == []
    feed.put(1)  # after close: dropped, no thread started
    assert (feed.consumed, feed.dropped) == (0, 1) and feed.close(1.0)


def test_a_consumer_that_has_gone_ends_the_thread_and_later_items_are_dropped():
    feed = NewestFrameThread(lambda item: item < 2, name="test gone", keep=10)
    for i in range(5):
        feed.put(i)
    assert feed.close(5.0)
    feed.put(5)
    assert feed.consumed == 2 and feed.dropped == 3  # 2 reached no one; 3 and 4 waited, 5 came after
    assert _threads("test gone") == []
