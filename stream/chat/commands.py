"""The chat command layer: parse, authorise, rate-limit, queue and apply chat commands.

Pure code with time passed in (``now``, seconds on any monotonic clock): it knows nothing
of Twitch.  :class:`CommandCenter` turns a :class:`ChatMessage` into changes on a
:class:`~stream.control.ControlBoard` and a list of short replies; :class:`OutgoingQueue`
keeps those replies under Twitch's rate limit; :func:`overlay_lines` is the on-stream text.
"""
from __future__ import annotations

import importlib
import logging
import math
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from engine.errors import DreamError
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.names import COMMANDS, NUM_CLASSES

logger = logging.getLogger(__name__)

MAX_REPLY = 400  # Twitch allows 500; stay well under it
MAX_INPUT = 500  # Twitch chat messages are at most 500 characters
MAX_QUERY = 60  # longest class/layer query looked up (bounds fuzzy-matching cost)
ROLE_RANK = {"viewer": 0, "moderator": 1, "broadcaster": 2, "off": 3}
ROLE_PLURAL = {"moderator": "moderators", "broadcaster": "the broadcaster", "off": "nobody"}
REQUEST_COMMANDS = ("dream", "layer", "strength")  # cooled down per viewer and globally
LOOKUP_COMMANDS = ("dream", "targets")  # class-name lookups, rate-limited for all viewers together
INFO_COMMANDS = ("layers", "targets", "status", "help")  # cooled down per viewer, silently
_ECHO_PUNCT = set(" -'_.,:+()")


class ClassCatalog(Protocol):
    """What the command layer needs from ``engine.imagenet``."""

    def find_class(self, query: str) -> int: ...

    def search(self, query: str, limit: int) -> list[tuple[int, str]]: ...

    def display_name(self, index: int) -> str: ...


class LayerCatalog(Protocol):
    """What the command layer needs from ``engine.models.registry.get_spec(model)``."""

    default_layer: str
    aliases: dict[str, str]

    @property
    def layer_names(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ChatMessage:
    """One chat line, already stripped of the transport (Twitch, console, tests)."""

    user_id: str
    user_name: str
    text: str
    is_mod: bool = False
    is_broadcaster: bool = False

    @property
    def role(self) -> str:
        if self.is_broadcaster:
            return "broadcaster"
        return "moderator" if self.is_mod else "viewer"


# --------------------------------------------------------------------------- text safety


def _drop_controls(text: str) -> str:
    """Replace every control/format/unassigned/private/surrogate character by a space."""
    return "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text)


def clean_reply(text: str, limit: int = MAX_REPLY) -> str:
    """One line of at most ``limit`` characters, no control characters, not a chat command."""
    text = " ".join(_drop_controls(text).split())
    text = text.lstrip("/.")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def echo(value: str, limit: int = 32) -> str:
    """A user-supplied value made safe to repeat: letters, digits and plain punctuation only."""
    value = unicodedata.normalize("NFKC", value[: limit * 4])
    kept = "".join(ch if ch in _ECHO_PUNCT or unicodedata.category(ch)[0] in "LN" else " " for ch in value)
    kept = " ".join(kept.split())
    if len(kept) > limit:
        kept = kept[: limit - 1].rstrip() + "…"
    return kept or "?"


def parse_command(text: str) -> tuple[str, str] | None:
    """``"!Dream  gold fish"`` -> ``("dream", "gold fish")``; ``None`` for anything else."""
    text = " ".join(_drop_controls(text[: MAX_INPUT * 2]).split())[:MAX_INPUT]
    if not text.startswith("!"):
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.lower()
    if name not in COMMANDS:
        return None
    return name, rest.strip()


_INT = re.compile(r"[+-]?\d{1,9}")
_FLOAT = re.compile(r"[+-]?(\d{1,9}(\.\d{0,9})?|\.\d{1,9})x?")


def _parse_int(arg: str) -> int | None:
    return int(arg) if _INT.fullmatch(arg) else None


def _parse_float(arg: str) -> float | None:
    if not _FLOAT.fullmatch(arg):
        return None
    value = float(arg.rstrip("x"))
    return value if math.isfinite(value) else None


def _suggestions(error: Exception) -> str:
    """The ``"did you mean ..."`` part of an engine error, made safe to echo."""
    found = re.search(r"did you mean (.{1,200}?)\?", str(error))
    if not found:
        return ""
    names = [echo(n, 40) for n in found.group(1).split(", ")[:3]]
    return f" (did you mean {', '.join(names)}?)"


def _fmt_num(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------- requests


@dataclass
class _Request:
    kind: str  # "dream" or "layer"
    value: int | str  # class index or canonical layer name
    label: str
    users: dict[str, str] = field(default_factory=dict)  # user_id -> name, in order of asking

    @property
    def key(self) -> tuple[str, int | str]:
        return (self.kind, self.value)

    def names(self) -> tuple[str, ...]:
        return tuple(self.users.values())


class CommandCenter:
    """Turns chat messages into board changes and replies; fair, bounded and thread-safe.

    ``handle(msg, now)`` returns the replies for one message (maybe none) and never raises;
    ``tick(now)`` expires the active request after ``limits.hold_s`` and activates the next
    one.  Viewer requests (``!dream``, ``!layer``) wait in a queue of at most
    ``limits.queue_size``; each viewer has at most one waiting request (a new one replaces
    it); asking for a request that is already waiting joins it and moves it up one place.
    Moderators and the broadcaster skip cooldowns and the lock.

    ``classes`` defaults to the ``engine.imagenet`` module; ``model_spec`` to the model
    registry's ``get_spec``.
    """

    def __init__(
        self,
        board: ControlBoard,
        limits: ChatLimits | None = None,
        *,
        classes: ClassCatalog | None = None,
        model_spec: Callable[[str], LayerCatalog] | None = None,
    ) -> None:
        self.board = board
        self.limits = limits or board.limits
        self._classes = classes
        self._model_spec = model_spec
        self._lock = threading.RLock()
        self._active: _Request | None = None
        self._active_until = 0.0
        self._queue: list[_Request] = []
        self._user_last: dict[str, float] = {}
        self._info_last: dict[str, float] = {}
        self._refusal_last: dict[str, float] = {}
        self._global_last = -math.inf
        self._last_prune = -math.inf
        self._lookup_tokens = 2.0 * self.limits.lookups_per_s
        self._lookup_time = -math.inf
        self._announcements: deque[str] = deque(maxlen=20)

    # ----------------------------------------------------------------- public API

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
            except Exception:
                # A bug, not bad input: bad input is answered inside _dispatch.
                logger.exception("chat command from user %s failed", echo(str(msg.user_id)))
                return []

    def tick(self, now: float) -> None:
        """Expire the active request when its time is up and activate the next waiting one."""
        with self._lock:
            try:
                self._advance(now)
            except Exception:
                logger.exception("chat request scheduling failed")

    def drain_announcements(self) -> list[str]:
        """Messages for chat that no command asked for ("@a @b your zebra is on now"); clears them.

        Made when a waiting request becomes active (in ``tick``, ``handle`` or ``!skip``);
        at most the last 20 are kept.  The bot posts them; other callers may log or drop them.
        """
        with self._lock:
            out = list(self._announcements)
            self._announcements.clear()
            return out

    def queue_length(self) -> int:
        with self._lock:
            return len(self._queue)

    def waiting(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(label, requesters)`` of the waiting requests, next first."""
        with self._lock:
            return [(r.label, r.names()) for r in self._queue]

    # ----------------------------------------------------------------- catalogs

    @property
    def classes(self) -> ClassCatalog:
        if self._classes is None:
            self._classes = importlib.import_module("engine.imagenet")  # type: ignore[assignment]
        return self._classes  # type: ignore[return-value]

    def _spec(self, model: str) -> LayerCatalog:
        if self._model_spec is None:
            from engine.models.registry import get_spec

            self._model_spec = get_spec
        return self._model_spec(model)

    # ----------------------------------------------------------------- scheduling

    def _advance(self, now: float) -> None:
        if self._active is not None and now >= self._active_until:
            logger.info("chat request %s ended", self._active.label)
            self._active = None
            if not self._activate_next(now):
                self._restore_base()
        elif self._active is None and self._queue:
            self._activate_next(now)
        if now - self._last_prune > 60.0:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._last_prune = now
        keep = max(self.limits.user_cooldown_s, self.limits.info_cooldown_s)
        for table in (self._user_last, self._info_last, self._refusal_last):
            for uid in [u for u, t in table.items() if now - t > keep or t > now]:
                del table[uid]

    def _activate_next(self, now: float) -> bool:
        while self._queue:
            req = self._queue.pop(0)
            if self._activate(req, now):
                mentions = " ".join(f"@{n}" for n in req.names()[:5])
                text = f"{mentions} your {req.label} is on now for {_fmt_num(self.limits.hold_s)}s"
                self._announcements.append(clean_reply(text))
                return True
        return False

    def _activate(self, req: _Request, now: float) -> bool:
        until = now + self.limits.hold_s
        changes: dict[str, object] = {"requested_by": req.names()[:20], "active_until": until}
        if req.kind == "dream":
            changes.update(target=req.value, target_name=req.label, layer=self._base_layer())
        else:
            changes.update(target=None, target_name="", layer=req.value)
        try:
            self.board.replace(**changes)
        except DreamError as e:
            logger.info("chat request %s dropped: %s", req.label, e)
            return False
        self._active, self._active_until = req, until
        logger.info("chat request %s active for %gs (asked by %s)", req.label, self.limits.hold_s,
                    ", ".join(req.names()[:5]))
        return True

    def _base_layer(self) -> str:
        model = self.board.get().model
        initial = self.board.initial
        if model == initial.model:
            return initial.layer
        return self._spec(model).default_layer

    def _restore_base(self) -> None:
        try:
            self.board.replace(target=None, target_name="", layer=self._base_layer(),
                               requested_by=(), active_until=None)
        except DreamError as e:  # cannot happen with a consistent board; stay safe
            logger.warning("could not restore the base layer: %s", e)
            self.board.replace(target=None, target_name="", requested_by=(), active_until=None)

    def _end_active(self, now: float) -> str | None:
        ended = self._active.label if self._active else None
        self._active = None
        if not self._activate_next(now):
            self._restore_base()
        return ended

    def _position(self, req: _Request) -> int:
        return self._queue.index(req) + 1

    def _waiting_of(self, uid: str) -> _Request | None:
        for req in self._queue:
            if uid in req.users:
                return req
        return None

    def _leave(self, req: _Request, uid: str) -> None:
        req.users.pop(uid, None)
        if not req.users:
            self._queue.remove(req)

    def _submit(self, msg: ChatMessage, kind: str, value: int | str, label: str, now: float) -> list[str]:
        uid, user = str(msg.user_id), echo(msg.user_name, 25)
        key = (kind, value)
        if self._active is not None and self._active.key == key:
            self._active.users.setdefault(uid, user)
            self.board.replace(requested_by=self._active.names()[:20])
            left = max(0, math.ceil(self._active_until - now))
            self._stamp(uid, now)
            return [f"@{user} {label} is on now ({left}s left), you're in"]
        mine = self._waiting_of(uid)
        if mine is not None and mine.key == key:
            return [f"@{user} {label} is already waiting for you at #{self._position(mine)}"]
        same = next((r for r in self._queue if r.key == key), None)
        if same is not None:
            if mine is not None:
                self._leave(mine, uid)
            same.users[uid] = user
            i = self._queue.index(same)
            if i > 0:
                self._queue[i - 1], self._queue[i] = self._queue[i], self._queue[i - 1]
            self._stamp(uid, now)
            return [f"@{user} joined {label}: #{self._position(same)}, {len(same.users)} asking"]
        req = _Request(kind, value, label, {uid: user})
        if self._active is None and not self._queue:
            if not self._activate(req, now):
                return [f"@{user} can't use {label} right now"]
            self._stamp(uid, now)
            return [f"@{user} now: {label} for {_fmt_num(self.limits.hold_s)}s"]
        freed = 1 if mine is not None and len(mine.users) == 1 else 0
        if len(self._queue) - freed >= self.limits.queue_size:
            return [f"@{user} the queue is full ({self.limits.queue_size}), try again later"]
        if mine is not None:
            self._leave(mine, uid)
        self._queue.append(req)
        self._stamp(uid, now)
        replaced = f" (replaces {mine.label})" if mine is not None else ""
        return [f"@{user} {label} queued #{self._position(req)}{replaced}"]

    def _stamp(self, uid: str, now: float) -> None:
        self._user_last[uid] = now
        self._global_last = now

    # ----------------------------------------------------------------- dispatch

    def _dispatch(self, msg: ChatMessage, name: str, args: str, now: float) -> list[str]:
        user = echo(msg.user_name, 25)
        required = self.limits.roles.get(name, "moderator")
        role = msg.role
        if required == "off":
            return []
        if ROLE_RANK[role] < ROLE_RANK[required]:
            return self._refuse(msg, now, f"@{user} !{name} is for {ROLE_PLURAL[required]} only")
        privileged = role != "viewer"
        if not privileged and self.board.get().locked:
            return self._refuse(msg, now, f"@{user} chat control is locked right now")
        uid = str(msg.user_id)
        if not privileged and name in INFO_COMMANDS:
            last = self._info_last.get(uid)
            if last is not None and 0 <= now - last < self.limits.info_cooldown_s:
                return []
            self._info_last[uid] = now
        if not privileged and name in REQUEST_COMMANDS and args:
            wait = self._cooldown_left(uid, now)
            if wait > 0:
                return self._refuse(msg, now, f"@{user} please wait {math.ceil(wait)}s")
        if not privileged and name in LOOKUP_COMMANDS and args and not self._take_lookup(now):
            return self._refuse(msg, now, f"@{user} chat is busy, try again in a few seconds")
        handler = getattr(self, f"_cmd_{name}")
        return handler(msg, user, args, now)

    def _take_lookup(self, now: float) -> bool:
        """Token bucket: ``lookups_per_s`` refill, ``2 * lookups_per_s`` burst."""
        rate = self.limits.lookups_per_s
        if now > self._lookup_time:
            elapsed = now - self._lookup_time
            self._lookup_tokens = min(2.0 * rate, self._lookup_tokens + elapsed * rate)
            self._lookup_time = now
        if self._lookup_tokens >= 1.0:
            self._lookup_tokens -= 1.0
            return True
        return False

    def _cooldown_left(self, uid: str, now: float) -> float:
        left = 0.0
        last = self._user_last.get(uid)
        if last is not None and now >= last:
            left = max(left, self.limits.user_cooldown_s - (now - last))
        if now >= self._global_last:
            left = max(left, self.limits.global_cooldown_s - (now - self._global_last))
        return left

    def _refuse(self, msg: ChatMessage, now: float, text: str) -> list[str]:
        """A refusal reply, at most one per viewer per ``info_cooldown_s`` (no reply spam)."""
        uid = str(msg.user_id)
        if msg.role == "viewer":
            last = self._refusal_last.get(uid)
            if last is not None and 0 <= now - last < self.limits.info_cooldown_s:
                return []
            self._refusal_last[uid] = now
        return [text]

    # ----------------------------------------------------------------- viewer commands

    def _cmd_dream(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [f"@{user} usage: !dream <class>, e.g. !dream goldfish (see !targets <word>)"]
        query = args[:MAX_QUERY]
        try:
            index = int(self.classes.find_class(query))
        except DreamError as e:
            return [f"@{user} no class '{echo(query)}'{_suggestions(e)}; try !targets <word>"]
        if not 0 <= index < NUM_CLASSES:
            return [f"@{user} no class '{echo(query)}'"]
        label = echo(self.classes.display_name(index), 60)
        return self._submit(msg, "dream", index, label, now)

    def _cmd_layer(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [f"@{user} usage: !layer <name>, e.g. !layer eyes (see !layers)"]
        query = args[:MAX_QUERY].strip().lower()
        model = self.board.get().model
        spec = self._spec(model)
        try:
            canonical = self._resolve_layer(model, query)
        except DreamError as e:
            return [f"@{user} no layer '{echo(query)}'{_suggestions(e)}; see !layers"]
        label = f"{query} ({canonical})" if query in spec.aliases else canonical
        return self._submit(msg, "layer", canonical, echo(label, 40), now)

    def _resolve_layer(self, model: str, layer: str) -> str:
        spec = self._spec(model)
        name = spec.aliases.get(layer, layer)
        if name in spec.layer_names:
            return name
        from engine.errors import ModelError, did_you_mean

        choices = list(spec.layer_names) + list(spec.aliases)
        raise ModelError(f"unknown layer {layer!r}{did_you_mean(layer, choices)}")

    def _cmd_layers(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        spec = self._spec(self.board.get().model)
        names = spec.layer_names
        aliases = ", ".join(f"{a}={n}" for a, n in spec.aliases.items())
        span = f"{names[0]}..{names[-1]}" if len(names) > 6 else ", ".join(names)
        if not aliases:
            return [f"@{user} layers: {span}"]
        return [f"@{user} !layer <name>: {aliases}; or any of {span}"]

    def _cmd_targets(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [f"@{user} !targets <word> lists classes, e.g. !targets fish; "
                    "try !dream goldfish, zebra, jellyfish, strawberry"]
        query = args[:MAX_QUERY]
        try:
            found = self.classes.search(query, 8)
        except DreamError:
            found = []
        if not found:
            return [f"@{user} no classes match '{echo(query)}'"]
        return [f"@{user} " + ", ".join(echo(name, 40) for _, name in found)]

    def _cmd_strength(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        lo, hi = self.limits.min_strength, self.limits.max_strength
        if not args:
            current = _fmt_num(self.board.get().strength)
            return [f"@{user} strength is {current} (allowed {_fmt_num(lo)}-{_fmt_num(hi)})"]
        value = _parse_float(args.split()[0])
        if value is None or not lo <= value <= hi:
            return [f"@{user} strength must be a number from {_fmt_num(lo)} to {_fmt_num(hi)}"]
        self.board.replace(strength=value)
        self._stamp(str(msg.user_id), now)
        return [f"@{user} strength set to {_fmt_num(value)}"]

    def _cmd_status(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        c = self.board.get()
        if self._active is not None:
            left = max(0, math.ceil(self._active_until - now))
            who = ", ".join(self._active.names()[:3]) + (" +" if len(self._active.users) > 3 else "")
            head = f"{self._active.label} ({left}s left, asked by {who})"
        else:
            head = f"free dreaming layer {c.layer}"
        lock = ", chat locked" if c.locked else ""
        return [f"@{user} {head}; {len(self._queue)} waiting; model {c.model}, strength "
                f"{_fmt_num(c.strength)}, octaves {c.octaves}, flow {c.flow}, preset {c.preset}{lock}"]

    def _cmd_help(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        usage = {
            "dream": "!dream <class>", "layer": "!layer <name>", "layers": "!layers",
            "targets": "!targets [word]", "strength": "!strength <n>", "status": "!status",
            "help": "!help", "model": "!model <name>", "preset": "!preset <name>",
            "octaves": "!octaves <n>", "flow": "!flow <dis|farneback|none>", "lock": "!lock",
            "unlock": "!unlock", "skip": "!skip", "reset": "!reset", "clear": "!clear",
        }
        rank = ROLE_RANK[msg.role]
        allowed = [usage[c] for c in COMMANDS if ROLE_RANK[self.limits.roles.get(c, "moderator")] <= rank]
        return [f"@{user} " + ", ".join(allowed)]

    # ----------------------------------------------------------------- moderator commands

    def _choose(self, user: str, what: str, field_name: str, args: str, allowed: Sequence[str]) -> list[str]:
        current = getattr(self.board.get(), field_name)
        if not args:
            return [f"@{user} {what} is {current}; allowed: {', '.join(allowed)}"]
        wanted = args.split()[0]
        value = next((a for a in allowed if a.lower() == wanted.lower()), None)
        if value is None:
            return [f"@{user} {what} '{echo(wanted)}' is not allowed; allowed: {', '.join(allowed)}"]
        try:
            self.board.replace(**{field_name: value})
        except DreamError as e:
            logger.info("chat %s change refused: %s", what, e)
            return [f"@{user} can't switch {what} to {value} now"]
        return [f"@{user} {what} set to {value}"]

    def _cmd_model(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        replies = self._choose(user, "model", "model", args, self.limits.allowed_models)
        active = self._active
        if active is not None and active.kind == "layer" and self.board.get().layer != active.value:
            self._end_active(now)  # the requested layer does not exist in the new model
        return replies

    def _cmd_preset(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        return self._choose(user, "preset", "preset", args, self.limits.allowed_presets)

    def _cmd_flow(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        return self._choose(user, "flow", "flow", args, self.limits.allowed_flows)

    def _cmd_octaves(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        lo, hi = self.limits.min_octaves, self.limits.max_octaves
        if not args:
            return [f"@{user} octaves is {self.board.get().octaves} (allowed {lo}-{hi})"]
        value = _parse_int(args.split()[0])
        if value is None or not lo <= value <= hi:
            return [f"@{user} octaves must be a whole number from {lo} to {hi}"]
        self.board.replace(octaves=value)
        return [f"@{user} octaves set to {value}"]

    def _cmd_lock(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self.board.replace(locked=True)
        return [f"@{user} chat control locked"]

    def _cmd_unlock(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self.board.replace(locked=False)
        return [f"@{user} chat control unlocked"]

    def _cmd_skip(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        ended = self._end_active(now)
        if ended is None:
            return [f"@{user} nothing to skip"]
        after = f"; now {self._active.label}" if self._active is not None else ""
        return [f"@{user} skipped {ended}{after}"]

    def _cmd_clear(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        n = len(self._queue)
        self._queue.clear()
        return [f"@{user} cleared {n} waiting request{'s' if n != 1 else ''}"]

    def _cmd_reset(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self._queue.clear()
        self._active = None
        initial = self.board.initial
        locked = self.board.get().locked
        fields = {f: getattr(initial, f) for f in LiveControls.__dataclass_fields__ if f != "locked"}
        self.board.replace(**fields, locked=locked)
        return [f"@{user} everything back to the start settings, queue cleared"]


# --------------------------------------------------------------------------- outgoing


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


# --------------------------------------------------------------------------- overlay
