"""Replies on their way to chat, kept under Twitch's message rate limit."""
from __future__ import annotations

import threading
from collections import deque

from stream.chat.parse import MAX_REPLY, clean_reply


class OutgoingQueue:
    """Replies waiting to be sent, kept under ``max_messages`` per ``per_s`` seconds.

    ``put(text)`` adds a reply; ``pop_ready(now)`` returns the messages that may be sent now.
    When the window is half used or more replies wait than may be sent, the waiting
    replies are merged (``" | "``) into as few messages of at most ``max_len`` as fit.
    At most ``max_pending`` replies wait; older ones are dropped first.
    """

    def __init__(self, max_messages: int = 20, per_s: float = 30.0, max_len: int = MAX_REPLY,
                 max_pending: int = 50) -> None:
        if max_messages < 1 or per_s <= 0 or max_len < 20 or max_pending < 1:
            raise ValueError("OutgoingQueue needs max_messages >= 1, per_s > 0, max_len >= 20, "
                             "max_pending >= 1")
        self.max_messages = max_messages
        self.per_s = per_s
        self.max_len = max_len
        self._pending: deque[str] = deque(maxlen=max_pending)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, text: str) -> None:
        text = clean_reply(text, self.max_len)
        if not text:
            return
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(text)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def sent_in_window(self, now: float) -> int:
        with self._lock:
            self._expire(now)
            return len(self._sent)

    def _expire(self, now: float) -> None:
        while self._sent and (now - self._sent[0] >= self.per_s or self._sent[0] > now):
            self._sent.popleft()

    def pop_ready(self, now: float) -> list[str]:
        with self._lock:
            self._expire(now)
            budget = self.max_messages - len(self._sent)
            if budget <= 0 or not self._pending:
                return []
            busy = len(self._sent) >= self.max_messages // 2 or len(self._pending) > budget
            out: list[str] = []
            if not busy:
                while self._pending and len(out) < budget:
                    out.append(self._pending.popleft())
            else:
                while self._pending and len(out) < budget:
                    msg = self._pending.popleft()
                    while self._pending and len(msg) + 3 + len(self._pending[0]) <= self.max_len:
                        msg += " | " + self._pending.popleft()
                    out.append(msg)
            self._sent.extend([now] * len(out))
            return out
