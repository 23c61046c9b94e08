"""The viewers' request queue: one active request at a time, the others waiting fairly.

A request (``!dream goldfish``, ``!layer eyes``) holds the stream for ``limits.hold_s``
seconds, then the next waiting one starts.  At most ``limits.queue_size`` wait; each viewer
has at most one waiting request (a new one replaces it); asking for a request that is
already waiting joins it and moves it up one place; asking for the active one joins it.
Time is passed in (``now``); the queue writes the active request to the
:class:`~stream.settings.controls.ControlBoard` and nothing else.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import DreamError
from stream.chat.parse import clean_reply, fmt_num
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard

logger = logging.getLogger(__name__)

MAX_ANNOUNCEMENTS = 20  # unsent "your zebra is on now" messages kept


@dataclass
class Request:
    """A dream or layer request and the viewers asking for it (``user_id -> name``, in order of asking)."""

    kind: str  # "dream" or "layer"
    value: int | str  # class index or canonical layer name
    label: str
    users: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int | str]:
        return (self.kind, self.value)

    def names(self) -> tuple[str, ...]:
        return tuple(self.users.values())


@dataclass(frozen=True)
class Submitted:
    """What :meth:`RequestQueue.submit` did: the reply, and whether it counts for the cooldowns."""

    reply: str
    accepted: bool


class RequestQueue:
    """The active request and the waiting ones; ``base_layer()`` is what the board goes back to.

    Not thread-safe by itself: the dispatcher holds its lock around every call.
    """

    def __init__(self, board: ControlBoard, limits: ChatLimits, base_layer: Callable[[], str]) -> None:
        self.board = board
        self.limits = limits
        self.base_layer = base_layer
        self.active: Request | None = None
        self.active_until = 0.0
        self.waiting: list[Request] = []
        self.announcements: deque[str] = deque(maxlen=MAX_ANNOUNCEMENTS)

    # ----------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        """Expire the active request when its time is up; start the next waiting one."""
        if self.active is not None and now >= self.active_until:
            logger.info("chat request %s ended", self.active.label)
            self.active = None
            if not self._activate_next(now):
                self._restore_base()
        elif self.active is None and self.waiting:
            self._activate_next(now)

    def seconds_left(self, now: float) -> int:
        """Whole seconds the active request still holds (0 when none)."""
        return max(0, math.ceil(self.active_until - now)) if self.active is not None else 0

    # ----------------------------------------------------------------- changes

    def submit(self, uid: str, user: str, kind: str, value: int | str, label: str, now: float) -> Submitted:
        """Ask for ``(kind, value)`` as viewer ``uid`` (display name ``user``, already echo-safe)."""
        key = (kind, value)
        if self.active is not None and self.active.key == key:
            self.active.users.setdefault(uid, user)
            self.board.replace(requested_by=self.active.names()[:20])
            return Submitted(f"@{user} {label} is on now ({self.seconds_left(now)}s left), you're in", True)
        mine = self.waiting_of(uid)
        if mine is not None and mine.key == key:
            return Submitted(f"@{user} {label} is already waiting for you at #{self.position(mine)}", False)
        same = next((r for r in self.waiting if r.key == key), None)
        if same is not None:
            if mine is not None:
                self._leave(mine, uid)
            same.users[uid] = user
            i = self.waiting.index(same)
            if i > 0:
                self.waiting[i - 1], self.waiting[i] = self.waiting[i], self.waiting[i - 1]
            return Submitted(f"@{user} joined {label}: #{self.position(same)}, {len(same.users)} asking", True)
        req = Request(kind, value, label, {uid: user})
        if self.active is None and not self.waiting:
            if not self._activate(req, now):
                return Submitted(f"@{user} can't use {label} right now", False)
            return Submitted(f"@{user} now: {label} for {fmt_num(self.limits.hold_s)}s", True)
        freed = 1 if mine is not None and len(mine.users) == 1 else 0
        if len(self.waiting) - freed >= self.limits.queue_size:
            return Submitted(f"@{user} the queue is full ({self.limits.queue_size}), try again later", False)
        if mine is not None:
            self._leave(mine, uid)
        self.waiting.append(req)
        replaced = f" (replaces {mine.label})" if mine is not None else ""
        return Submitted(f"@{user} {label} queued #{self.position(req)}{replaced}", True)

    def end_active(self, now: float) -> str | None:
        """End the active request now (``!skip``); returns its label, or None if there was none."""
        ended = self.active.label if self.active else None
        self.active = None
        if not self._activate_next(now):
            self._restore_base()
        return ended

    def clear(self) -> int:
        """Drop every waiting request; returns how many there were."""
        n = len(self.waiting)
        self.waiting.clear()
        return n

    def forget(self) -> None:
        """Drop the waiting and the active request without touching the board (``!reset`` writes it)."""
        self.waiting.clear()
        self.active = None

    # ----------------------------------------------------------------- lookups

    def position(self, req: Request) -> int:
        return self.waiting.index(req) + 1

    def waiting_of(self, uid: str) -> Request | None:
        return next((r for r in self.waiting if uid in r.users), None)

    # ----------------------------------------------------------------- inside

    def _leave(self, req: Request, uid: str) -> None:
        req.users.pop(uid, None)
        if not req.users:
            self.waiting.remove(req)

    def _activate_next(self, now: float) -> bool:
        while self.waiting:
            req = self.waiting.pop(0)
            if self._activate(req, now):
                mentions = " ".join(f"@{n}" for n in req.names()[:5])
                text = f"{mentions} your {req.label} is on now for {fmt_num(self.limits.hold_s)}s"
                self.announcements.append(clean_reply(text))
                return True
        return False

    def _activate(self, req: Request, now: float) -> bool:
        until = now + self.limits.hold_s
        changes: dict[str, object] = {"requested_by": req.names()[:20], "active_until": until}
        if req.kind == "dream":
            changes.update(target=req.value, target_name=req.label, layer=self.base_layer())
        else:
            changes.update(target=None, target_name="", layer=req.value)
        try:
            self.board.replace(**changes)
        except DreamError as e:
            logger.info("chat request %s dropped: %s", req.label, e)
            return False
        self.active, self.active_until = req, until
        logger.info("chat request %s active for %gs (asked by %s)", req.label, self.limits.hold_s,
                    ", ".join(req.names()[:5]))
        return True

    def _restore_base(self) -> None:
        try:
            self.board.replace(target=None, target_name="", layer=self.base_layer(),
                               requested_by=(), active_until=None)
        except DreamError as e:  # cannot happen with a consistent board; stay safe
            logger.warning("could not restore the base layer: %s", e)
            self.board.replace(target=None, target_name="", requested_by=(), active_until=None)
