"""The thin dispatcher: one chat message through roles, the lock, the limits and one handler.

Pure code with time passed in (``now``, seconds on any monotonic clock); it knows nothing of
Twitch.  :class:`CommandCenter` turns a :class:`~stream.chat.message.ChatMessage` into
changes on a :class:`~stream.settings.controls.ControlBoard` and a list of short replies.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from engine.errors import DreamError
from stream.chat.catalogs import Catalogs, ClassCatalog, LayerCatalog, TargetProblem
from stream.chat.handlers import Handlers
from stream.chat.limits import INFO_COMMANDS, LOOKUP_COMMANDS, REQUEST_COMMANDS, RateLimits
from stream.chat.message import ChatMessage
from stream.chat.parse import MAX_INPUT, MAX_QUERY, clean_reply, echo, parse_command, suggestions
from stream.chat.requests import Redemption, RequestQueue
from stream.chat.roles import is_privileged, may_run, refusal, required_role
from stream.io.log_limit import LogLimit
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard
from stream.settings.presets import PresetLoader, load_dream_preset

logger = logging.getLogger(__name__)


class CommandCenter:
    """Turns chat messages into board changes and replies; fair, bounded and thread-safe.

    ``handle(msg, now)`` returns the replies for one message (maybe none) and never raises;
    ``tick(now)`` expires the active request after ``limits.hold_s`` and activates the next
    one.  The parts: :class:`~stream.chat.requests.RequestQueue` (the fair queue),
    :class:`~stream.chat.limits.RateLimits` (cooldowns, lookups, refusals) and
    :class:`~stream.chat.handlers.Handlers` (the commands).  Moderators and the broadcaster
    skip cooldowns and the lock.

    Channel-point redemptions (:meth:`redeem`) become the same requests with no cooldown (the
    viewer paid); each is settled once (:meth:`drain_settled`): FULFILLED when on screen,
    CANCELED when its input is no class or layer, chat is locked, the queue refuses it, it
    waits too long, the queue is cleared or the stream stops (:meth:`cancel_redemptions`).

    ``classes`` defaults to the ``engine.imagenet`` module, ``model_spec`` to the model
    registry's ``get_spec``; ``load_preset`` (``!preset``) to :func:`load_dream_preset`.
    """

    def __init__(
        self,
        board: ControlBoard,
        limits: ChatLimits | None = None,
        *,
        classes: ClassCatalog | None = None,
        model_spec: Callable[[str], LayerCatalog] | None = None,
        load_preset: PresetLoader | None = None,
    ) -> None:
        self.board = board
        self.limits = limits or board.limits
        self._lock = threading.RLock()
        self.requests = RequestQueue(board, self.limits, board.base_layer)
        self.rates = RateLimits(self.limits)
        self.catalogs = Catalogs(classes, model_spec)
        self.handlers = Handlers(board, self.limits, self.requests, self.rates, self.catalogs,
                                 load_preset or load_dream_preset)
        self._said = LogLimit(logger)  # a bug that chat can trigger again and again: a line a minute

    @property
    def classes(self) -> ClassCatalog:
        """The class catalog (touch it once to build its lookup tables before chat starts)."""
        return self.catalogs.classes

    def handle(self, msg: ChatMessage, now: float) -> list[str]:
        """Replies (each at most 400 characters) to one chat message; never raises."""
        with self._lock:
            try:
                self._advance(now)
                parsed = parse_command(str(msg.text))
                if parsed is None:
                    return []
                replies = self._dispatch(msg, parsed[0], parsed[1], now)
                return [r for r in (clean_reply(x) for x in replies) if r]
            except Exception:  # noqa: BLE001 - logged (a line a minute)
                # A bug, not bad input: bad input is answered by the handlers.
                self._said.log(logging.ERROR, "chat commands failed", now, "chat command from user %s failed",
                               echo(str(msg.user_id)), exc_info=True)
                return []

    def operate(self, user_id: str, text: str, now: float) -> list[str]:
        """One command line from the operator's own controls (OSC, MIDI) with the broadcaster's role:
        its replies, then the announcements it caused ("... your zebra is on now"); never raises."""
        msg = ChatMessage(user_id, user_id, text, is_mod=True, is_broadcaster=True)
        return self.handle(msg, now) + self.drain_announcements()

    def tick(self, now: float) -> None:
        """Expire the active request when its time is up and activate the next waiting one."""
        with self._lock:
            try:
                self._advance(now)
            except Exception:  # noqa: BLE001 - logged (a line a minute)
                self._said.log(logging.ERROR, "chat scheduling failed", now, "chat request scheduling failed",
                               exc_info=True)

    def drain_announcements(self) -> list[str]:
        """Messages for chat that no command asked for ("@a @b your zebra is on now"); clears them.

        Made when a waiting request becomes active (in ``tick``, ``handle`` or ``!skip``);
        at most the last 20 are kept.  The bot posts them; other callers may log or drop them.
        """
        with self._lock:
            out = list(self.requests.announcements)
            self.requests.announcements.clear()
            return out

    def redeem(self, redemption_id: str, user_id: str, user_name: str, command: str, text: str, now: float, *,
               max_wait_s: float = 300.0, first: bool = False) -> list[str]:
        """A channel-point redemption: ``text`` (the viewer's input) as ``!command text``; the replies.

        ``first`` puts it ahead of the free requests waiting (after other paid ones). Never
        raises: a bug cancels the redemption (points refunded).
        """
        with self._lock:
            r = Redemption(str(redemption_id), str(user_id), echo(str(user_name), 25), now + max_wait_s)
            try:
                self._advance(now)
                replies = [self._redeem(r, command, str(text), now, first)]
            except Exception:  # noqa: BLE001 - logged (a line a minute)
                self._said.log(logging.ERROR, "redemptions failed", now, "channel-point redemption from user %s failed",
                               echo(str(user_id)), exc_info=True)
                replies = [self.requests.refuse(r, f"@{r.user_name} something went wrong; points refunded")]
            return [x for x in (clean_reply(y) for y in replies) if x]

    def cancel_redemptions(self, reason: str = "the stream stopped") -> None:
        """Cancel every redemption still waiting (e.g. the stream stops), telling each viewer."""
        with self._lock:
            self.requests.cancel_paid(reason)

    def drain_settled(self) -> list[Redemption]:
        """Redemptions settled (FULFILLED or CANCELED) since the last call, in order; clears them."""
        with self._lock:
            return self.requests.drain_settled()

    def waiting_paid(self) -> list[int]:
        """How many channel-point redemptions ride on each waiting request, next first."""
        with self._lock:
            return [len(r.paid) for r in self.requests.waiting]

    def queue_length(self) -> int:
        with self._lock:
            return len(self.requests.waiting)

    def waiting(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(label, requesters)`` of the waiting requests, next first."""
        with self._lock:
            return [(r.label, r.names()) for r in self.requests.waiting]

    def _advance(self, now: float) -> None:
        self.requests.advance(now)
        self.rates.prune(now)

    def _dispatch(self, msg: ChatMessage, name: str, args: str, now: float) -> list[str]:
        user = echo(msg.user_name, 25)
        required = required_role(self.limits, name)
        if required == "off":
            return []
        if not may_run(msg.role, required):
            return self._refuse(msg, now, refusal(user, name, required))
        privileged = is_privileged(msg.role)
        if not privileged and self.board.get().locked:
            return self._refuse(msg, now, f"@{user} chat control is locked right now")
        uid = str(msg.user_id)
        if not privileged and name in INFO_COMMANDS and not self.rates.take_info(uid, now):
            return []
        if not privileged and name in REQUEST_COMMANDS and args:
            wait = self.rates.request_wait(uid, now)
            if wait > 0:
                return self._refuse(msg, now, f"@{user} please wait {math.ceil(wait)}s")
        if not privileged and name in LOOKUP_COMMANDS and args and not self.rates.take_lookup(now):
            return self._refuse(msg, now, f"@{user} chat is busy, try again in a few seconds")
        return self.handlers.get(name)(msg, user, args, now)

    def _redeem(self, r: Redemption, command: str, text: str, now: float, first: bool) -> str:
        user, refuse = r.user_name, self.requests.refuse
        if self.board.get().locked:
            return refuse(r, f"@{user} chat control is locked right now; points refunded")
        query = " ".join(clean_reply(text[: MAX_INPUT * 2], MAX_INPUT).split())[:MAX_QUERY]
        r.label = echo(query)
        if not query:
            return refuse(r, f"@{user} type what to dream when you redeem (e.g. goldfish); points refunded")
        if command == "dream":
            try:
                value, label = self.catalogs.target(query, self.limits.max_targets)
            except TargetProblem as e:
                return refuse(r, f"@{user} {e}; points refunded")
            kind = "dream"
        elif command == "layer":
            model = self.board.get().model
            try:
                canonical = self.board.resolve_layer(model, query.lower())
            except DreamError as e:
                return refuse(r, f"@{user} no layer '{echo(query)}'{suggestions(e)}; points refunded")
            alias = query.lower() in self.catalogs.spec(model).aliases
            kind, value, label = "layer", canonical, echo(f"{query.lower()} ({canonical})" if alias else canonical, 40)
        else:
            return refuse(r, f"@{user} this reward is not set up right; points refunded")
        return self.requests.submit(r.user_id, user, kind, value, label, now, paid=r, first=first).reply

    def _refuse(self, msg: ChatMessage, now: float, text: str) -> list[str]:
        """A refusal reply, at most one per viewer per ``info_cooldown_s`` (no reply spam)."""
        if msg.role == "viewer" and not self.rates.take_refusal(str(msg.user_id), now):
            return []
        return [text]
