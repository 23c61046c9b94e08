"""How often chat may act: cooldowns, the lookup token bucket and refusal throttling.

Pure bookkeeping with time passed in (``now``, seconds on any monotonic clock), in the manner
of ``twitchio/ext/commands/cooldowns.py``: nothing here reads a clock, so every limit is
testable by handing it the seconds you want.  A time from the future (a clock that went
back) never blocks anyone.  Each cooldown table forgets viewers once their cooldown is over
(:meth:`RateLimits.prune`) and holds at most :data:`MAX_VIEWERS` meanwhile.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from stream.settings.chat import ChatLimits

REQUEST_COMMANDS = ("dream", "layer", "strength")  # cooled down per viewer and globally
LOOKUP_COMMANDS = ("dream", "targets")  # class-name lookups, rate-limited for all viewers together
INFO_COMMANDS = ("layers", "targets", "status", "help")  # cooled down per viewer, silently


#: Viewers one cooldown table remembers; past that the least recently stamped is forgotten (it may act again
#: early: only when this many viewers act within one cooldown).
MAX_VIEWERS = 10_000


class LastSeen:
    """When each viewer last did something, for one cooldown of ``seconds``; at most ``max_viewers`` remembered."""

    def __init__(self, seconds: float, max_viewers: int = MAX_VIEWERS) -> None:
        self.seconds = seconds
        self.max_viewers = max_viewers
        self._last: dict[str, float] = {}  # in the order they were stamped, the oldest first

    def left(self, uid: str, now: float) -> float:
        """Seconds ``uid`` still has to wait (0 when free)."""
        last = self._last.get(uid)
        if last is None or now < last:
            return 0.0
        return max(0.0, self.seconds - (now - last))

    def stamp(self, uid: str, now: float) -> None:
        self._last.pop(uid, None)
        self._last[uid] = now
        if len(self._last) > self.max_viewers:
            del self._last[next(iter(self._last))]

    def take(self, uid: str, now: float) -> bool:
        """Stamp and return True when ``uid`` is free; False (and no stamp) while cooling down."""
        if self.left(uid, now) > 0:
            return False
        self.stamp(uid, now)
        return True

    def prune(self, now: float, keep_s: float) -> None:
        """Forget viewers last seen more than ``keep_s`` ago (or in the future)."""
        for uid in [u for u, t in self._last.items() if now - t > keep_s or t > now]:
            del self._last[uid]

    def __len__(self) -> int:
        return len(self._last)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved; ``take(now)`` spends one if there is one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._time = -math.inf

    def take(self, now: float) -> bool:
        if now > self._time:
            self._tokens = min(self.burst, self._tokens + (now - self._time) * self.rate)
            self._time = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RateLimits:
    """Every chat limit of one channel, from :class:`ChatLimits`.

    ``request_wait`` is the cooldown of a request or ``!strength`` (per viewer and for
    everyone); ``stamp_request`` starts both.  ``take_info`` lets an informational command
    through at most once per viewer per ``info_cooldown_s``; ``take_refusal`` does the same
    for refusal replies (no reply spam); ``take_lookup`` spends a class-lookup token
    (``lookups_per_s``, bursts of twice that, for the whole chat).
    """

    PRUNE_EVERY_S = 60.0

    def __init__(self, limits: ChatLimits) -> None:
        self.limits = limits
        self.requests = LastSeen(limits.user_cooldown_s)
        self.info = LastSeen(limits.info_cooldown_s)
        self.refusals = LastSeen(limits.info_cooldown_s)
        self.lookups = TokenBucket(limits.lookups_per_s, 2.0 * limits.lookups_per_s)
        self._global_last = -math.inf
        self._last_prune = -math.inf

    def request_wait(self, uid: str, now: float) -> float:
        """Seconds before ``uid`` may make a request: the longer of its own and the global cooldown."""
        left = self.requests.left(uid, now)
        if now >= self._global_last:
            left = max(left, self.limits.global_cooldown_s - (now - self._global_last))
        return left

    def stamp_request(self, uid: str, now: float) -> None:
        self.requests.stamp(uid, now)
        self._global_last = now

    def take_info(self, uid: str, now: float) -> bool:
        return self.info.take(uid, now)

    def take_refusal(self, uid: str, now: float) -> bool:
        return self.refusals.take(uid, now)

    def take_lookup(self, now: float) -> bool:
        return self.lookups.take(now)

    def prune(self, now: float) -> None:
        """Forget old stamps, at most once a minute (keeps the tables as small as the active chat)."""
        if now - self._last_prune <= self.PRUNE_EVERY_S:
            return
        self._last_prune = now
        keep = max(self.limits.user_cooldown_s, self.limits.info_cooldown_s)
        tables: Iterable[LastSeen] = (self.requests, self.info, self.refusals)
        for table in tables:
            table.prune(now, keep)
