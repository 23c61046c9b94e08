"""The viewers' request queue: one active request at a time, the others waiting fairly.

A request (``!dream goldfish``, ``!layer eyes``) holds the stream for ``limits.hold_s``
seconds, then the next waiting one starts.  At most ``limits.queue_size`` wait; each viewer
has at most one waiting request (a new one replaces it); asking for a request that is
already waiting joins it and moves it up one place; asking for the active one joins it.
Time is passed in (``now``); the queue writes the active request to the
:class:`~stream.settings.controls.ControlBoard` and nothing else.

Channel-point redemptions ride on requests (:class:`Redemption`): they skip nothing of the
queue's fairness but may go ahead of free requests (``first``), and each is settled once into
``settled``: FULFILLED when its request goes on screen, CANCELED when the queue refuses it,
it waits past its deadline, its viewer replaces it, the queue is cleared or the stream stops.

Bounded for a stream that runs for hours: at most ``queue_size`` requests wait, each names at most
:data:`MAX_ASKERS` viewers, and at most :data:`MAX_ANNOUNCEMENTS` and :data:`MAX_SETTLED` wait to be drained.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import DreamError
from engine.targets import Target
from stream.chat.parse import clean_reply, fmt_num
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard

logger = logging.getLogger(__name__)

MAX_ANNOUNCEMENTS = 20  # unsent "your zebra is on now" messages kept
#: Viewers remembered on one request; more may join the active one (not named), not a waiting one.
MAX_ASKERS = 1000
#: Settled redemptions kept for the dispatcher to drain (the bot drains them five times a second).
MAX_SETTLED = 10_000


@dataclass
class Redemption:
    """A channel-point redemption riding on a request; settled once: ``FULFILLED`` or ``CANCELED``.

    ``deadline`` is the ``now`` second after which it is cancelled if still waiting;
    ``reason`` the chat line that told the viewer why it was cancelled.
    """

    id: str
    user_id: str
    user_name: str
    deadline: float
    label: str = ""
    status: str = "UNFULFILLED"
    reason: str = ""


@dataclass
class Request:
    """A dream or layer request and the viewers asking for it (``user_id -> name``, in order of asking)."""

    kind: str  # "dream" or "layer"
    value: int | Target | str  # class index, weighted classes or canonical layer name
    label: str
    users: dict[str, str] = field(default_factory=dict)
    paid: dict[str, Redemption] = field(default_factory=dict)  # user_id -> their redemption riding on it

    @property
    def key(self) -> tuple[str, int | Target | str]:
        return (self.kind, self.value)

    def names(self) -> tuple[str, ...]:
        return tuple(self.users.values())


@dataclass(frozen=True)
class Submitted:
    """What :meth:`RequestQueue.submit` did: the reply, and whether it counts for the cooldowns."""

    reply: str
    accepted: bool


@dataclass(frozen=True)
class _Ask:
    """One call of :meth:`RequestQueue.submit`: who asks for what, and how."""

    uid: str
    user: str
    kind: str
    value: int | Target | str
    label: str
    now: float
    paid: Redemption | None
    first: bool
    take_over: bool

    @property
    def key(self) -> tuple[str, int | Target | str]:
        return (self.kind, self.value)

    @property
    def jumps(self) -> bool:
        """A ``first`` redemption: it goes just before the first free request waiting."""
        return self.paid is not None and self.first

    def request(self) -> Request:
        """A new request asked for by this viewer alone, their redemption riding on it."""
        req = Request(self.kind, self.value, self.label, {self.uid: self.user})
        if self.paid is not None:
            req.paid[self.uid] = self.paid
        return req


def ahead_of_free(waiting: list[Request], req: Request) -> None:
    """Move ``req`` just before the first free request in ``waiting`` (to the end when none is free)."""
    waiting.remove(req)
    at = next((i for i, r in enumerate(waiting) if not r.paid), len(waiting))
    waiting.insert(at, req)


def up_one(waiting: list[Request], req: Request) -> None:
    """Swap ``req`` with the request before it in ``waiting`` (paid or not); the first stays first."""
    i = waiting.index(req)
    if i > 0:
        waiting[i - 1], waiting[i] = waiting[i], waiting[i - 1]


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
        self.settled: list[Redemption] = []  # settled since last drained (drain_settled), at most MAX_SETTLED

    # ----------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        """Expire the active request when its time is up; start the next waiting one."""
        self._expire_paid(now)
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

    def submit(self, uid: str, user: str, kind: str, value: int | Target | str, label: str, now: float, *,
               paid: Redemption | None = None, first: bool = False, take_over: bool = False) -> Submitted:
        """Ask for ``(kind, value)`` as viewer ``uid`` (display name ``user``, already echo-safe).

        ``paid`` rides on the request (settled when it is shown or dropped); ``first`` moves it
        just before the first free request waiting (:func:`ahead_of_free`); ``take_over`` is for
        the broadcaster and moderators (a VJ's pads, the panel).  The first of these rules that
        applies decides, one method each:

        1. :meth:`_take_over`: a free ``take_over`` request replaces the active one at once when
           that one is the asker's alone.
        2. :meth:`_join_active`: asking for the active request joins it (named on it while fewer than
           :data:`MAX_ASKERS` are).
        3. :meth:`_already_waiting`: asking again for one's own waiting request changes nothing
           (not accepted) unless a new redemption rides on it.
        4. :meth:`_join_waiting`: asking for another waiting request joins it, leaving one's own,
           and **moves it up one place** (swapped with the one before it, paid or not); a ``first``
           redemption moves it just before the first free request instead; refused (not accepted)
           when :data:`MAX_ASKERS` ask for it already.
        5. :meth:`_start_now`: with nothing active and nothing waiting it goes on screen at once.
        6. :meth:`_enqueue`: otherwise it waits at the end (``first``: just before the first free
           request) and replaces the asker's own waiting request; refused when full.
        """
        if paid is not None:
            paid.label = label
        ask = _Ask(uid, user, kind, value, label, now, paid, first, take_over)
        for rule in (self._take_over, self._join_active, self._already_waiting, self._join_waiting, self._start_now):
            done = rule(ask)
            if done is not None:
                return done
        return self._enqueue(ask)

    def refuse(self, paid: Redemption, text: str) -> str:
        """Cancel a redemption that never reached the queue (bad input, locked chat); returns ``text``."""
        return self._refuse(paid, text).reply

    def cancel_paid(self, reason: str) -> None:
        """Cancel every redemption still waiting (``reason``: "the stream stopped"), telling each viewer."""
        for req in self.waiting:
            for uid in list(req.paid):
                r = req.paid.pop(uid)
                self._cancel(r, f"@{r.user_name} {reason} before your {r.label} came on; points refunded")

    def end_active(self, now: float) -> str | None:
        """End the active request now (``!skip``); returns its label, or None if there was none."""
        ended = self.active.label if self.active else None
        self.active = None
        if not self._activate_next(now):
            self._restore_base()
        return ended

    def clear(self) -> int:
        """Drop every waiting request (their redemptions refunded); returns how many there were."""
        n = len(self.waiting)
        self.cancel_paid("the queue was cleared")
        self.waiting.clear()
        return n

    def forget(self) -> None:
        """Drop the waiting and the active request without touching the board (``!reset`` writes it)."""
        self.cancel_paid("the queue was cleared")
        self.waiting.clear()
        self.active = None

    def drain_settled(self) -> list[Redemption]:
        """The redemptions settled since the last call, in order; clears them."""
        out, self.settled = self.settled, []
        return out

    # ----------------------------------------------------------------- lookups

    def position(self, req: Request) -> int:
        return self.waiting.index(req) + 1

    def waiting_of(self, uid: str) -> Request | None:
        return next((r for r in self.waiting if uid in r.users), None)

    # ----------------------------------------------------------------- submit's rules (in order)

    def _take_over(self, ask: _Ask) -> Submitted | None:
        """A free ``take_over`` request replaces the active one at once when that one is the asker's alone."""
        active = self.active
        if not ask.take_over or ask.paid is not None or active is None:
            return None
        if set(active.users) != {ask.uid} or active.key == ask.key:
            return None
        if not self._activate(ask.request(), ask.now, announce=False):
            return Submitted(f"@{ask.user} can't use {ask.label} right now", False)
        logger.info("chat request %s replaced by %s (asked by %s)", active.label, ask.label, ask.user)
        return self._on_now(ask)

    def _join_active(self, ask: _Ask) -> Submitted | None:
        """Asking for the active request joins it; a redemption riding on it is fulfilled at once."""
        active = self.active
        if active is None or active.key != ask.key:
            return None
        if len(active.users) < MAX_ASKERS:
            active.users.setdefault(ask.uid, ask.user)
        self.board.replace(requested_by=active.names()[:20])
        if ask.paid is not None:
            self._settle(ask.paid, "FULFILLED")
        return Submitted(f"@{ask.user} {ask.label} is on now ({self.seconds_left(ask.now)}s left), you're in", True)

    def _already_waiting(self, ask: _Ask) -> Submitted | None:
        """Asking again for one's own waiting request: not accepted; a new redemption rides on it (one each)."""
        mine = self.waiting_of(ask.uid)
        if mine is None or mine.key != ask.key:
            return None
        if ask.paid is not None:
            if ask.uid in mine.paid:
                return self._refuse(ask.paid, f"@{ask.user} {ask.label} is already waiting for you at "
                                              f"#{self.position(mine)}; points refunded")
            self._ride(mine, ask)
        return Submitted(f"@{ask.user} {ask.label} is already waiting for you at #{self.position(mine)}", False)

    def _join_waiting(self, ask: _Ask) -> Submitted | None:
        """Asking for another waiting request joins it (leaving one's own) and moves it up one place."""
        same = next((r for r in self.waiting if r.key == ask.key), None)
        if same is None:
            return None
        if len(same.users) >= MAX_ASKERS:
            text = f"@{ask.user} {ask.label} is #{self.position(same)} with {len(same.users)} asking already"
            if ask.paid is not None:
                return self._refuse(ask.paid, text + "; points refunded")
            return Submitted(text, False)
        mine = self.waiting_of(ask.uid)
        if mine is not None:
            self._leave(mine, ask.uid)
        same.users[ask.uid] = ask.user
        if ask.paid is not None:
            self._ride(same, ask)
        if not ask.jumps:
            up_one(self.waiting, same)
        return Submitted(f"@{ask.user} joined {ask.label}: #{self.position(same)}, {len(same.users)} asking", True)

    def _start_now(self, ask: _Ask) -> Submitted | None:
        """With nothing active and nothing waiting a new request goes on screen at once."""
        if self.active is not None or self.waiting:
            return None
        if not self._activate(ask.request(), ask.now, announce=False):
            refunded = "; points refunded" if ask.paid is not None else ""
            return Submitted(f"@{ask.user} can't use {ask.label} right now{refunded}", False)
        return self._on_now(ask)

    def _enqueue(self, ask: _Ask) -> Submitted:
        """A new request waits at the end, replacing the asker's own waiting one; refused when the queue is full."""
        mine = self.waiting_of(ask.uid)
        if self._full(mine):
            text = f"@{ask.user} the queue is full ({self.limits.queue_size}), try again later"
            if ask.paid is not None:
                return self._refuse(ask.paid, text + "; points refunded")
            return Submitted(text, False)
        if mine is not None:
            self._leave(mine, ask.uid)
        req = ask.request()
        self.waiting.append(req)
        if ask.jumps:
            ahead_of_free(self.waiting, req)
        replaced = f" (replaces {mine.label})" if mine is not None else ""
        return Submitted(f"@{ask.user} {ask.label} queued #{self.position(req)}{replaced}", True)

    def _full(self, mine: Request | None) -> bool:
        """No room for one more; the asker's own waiting request makes room when nobody else asks for it."""
        freed = 1 if mine is not None and len(mine.users) == 1 else 0
        return len(self.waiting) - freed >= self.limits.queue_size

    def _ride(self, req: Request, ask: _Ask) -> None:
        """Put ``ask``'s redemption on waiting ``req``; with ``first`` move ``req`` just before the first free one."""
        assert ask.paid is not None
        req.paid[ask.uid] = ask.paid
        if ask.jumps:
            ahead_of_free(self.waiting, req)

    def _on_now(self, ask: _Ask) -> Submitted:
        return Submitted(f"@{ask.user} now: {ask.label} for {fmt_num(self.limits.hold_s)}s", True)

    # ----------------------------------------------------------------- inside

    def _leave(self, req: Request, uid: str) -> None:
        r = req.paid.pop(uid, None)
        if r is not None:
            self._cancel(r, f"@{r.user_name} your {r.label} was replaced by your new request; points refunded")
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

    def _expire_paid(self, now: float) -> None:
        for req in list(self.waiting):
            for uid, r in list(req.paid.items()):
                if now >= r.deadline:
                    del req.paid[uid]
                    self._cancel(r, f"@{r.user_name} your {r.label} did not come on in time; points refunded")
                    req.users.pop(uid, None)
            if not req.users:
                self.waiting.remove(req)

    def _settle(self, r: Redemption, status: str, reason: str = "") -> None:
        if r.status == "UNFULFILLED":
            r.status, r.reason = status, reason
            if len(self.settled) >= MAX_SETTLED:  # nobody drains them: the oldest tenth goes
                del self.settled[: MAX_SETTLED // 10]
            self.settled.append(r)

    def _cancel(self, r: Redemption, text: str, announce: bool = True) -> None:
        self._settle(r, "CANCELED", text)
        if announce:
            self.announcements.append(clean_reply(text))

    def _refuse(self, r: Redemption, text: str) -> Submitted:
        self._cancel(r, text, announce=False)  # the reply says it
        return Submitted(text, False)

    def _activate(self, req: Request, now: float, announce: bool = True) -> bool:
        """Put ``req`` on screen; False (its redemptions cancelled) when the board refuses it."""
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
            for r in req.paid.values():
                self._cancel(r, f"@{r.user_name} {req.label} can't be shown right now; points refunded", announce)
            req.paid.clear()
            return False
        self.active, self.active_until = req, until
        for r in req.paid.values():
            self._settle(r, "FULFILLED")
        req.paid.clear()
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
