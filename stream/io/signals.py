"""Signal handlers for the length of a block: the one way the commands take SIGINT, SIGTERM and SIGALRM."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

Handler = Callable[[int, Any], None] | int


@contextlib.contextmanager
def handling(handler: Handler, *signums: int) -> Iterator[bool]:
    """Within the block, ``handler`` (a function, or ``signal.SIG_IGN``) takes ``signums``; the old handlers come
    back after. Python runs handlers in the main thread only: elsewhere nothing changes and the block gets False."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    old = {s: signal.signal(s, handler) for s in signums}
    try:
        yield True
    finally:
        for s, h in old.items():
            signal.signal(s, h)
