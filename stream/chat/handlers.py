"""The chat commands themselves: one method per command, named after it (``!dream`` -> ``dream``).

Each handler gets the message, the sender's echo-safe name, the text after the command and
``now``; it has already passed the dispatcher's role, lock and rate checks, and returns the
replies.  Bad input is answered here, never raised.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.errors import DreamError
from engine.targets import Target
from stream.chat.catalogs import Catalogs, TargetProblem
from stream.chat.limits import RateLimits
from stream.chat.message import ChatMessage
from stream.chat.parse import MAX_QUERY, echo, fmt_num, parse_float, parse_int, suggestions
from stream.chat.requests import RequestQueue
from stream.chat.roles import commands_for, is_privileged
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.names import COMMANDS
from stream.settings.presets import PresetLoader

logger = logging.getLogger(__name__)

Handler = Callable[[ChatMessage, str, str, float], list[str]]

USAGE: Mapping[str, str] = {
    "dream": "!dream <class>", "layer": "!layer <name>", "layers": "!layers",
    "targets": "!targets [word]", "strength": "!strength <n>", "status": "!status",
    "help": "!help", "model": "!model <name>", "preset": "!preset <name>",
    "octaves": "!octaves <n>", "flow": "!flow <dis|farneback|none>", "lock": "!lock",
    "unlock": "!unlock", "skip": "!skip", "reset": "!reset", "clear": "!clear",
}


class Handlers:
    """The 16 commands of :data:`stream.settings.names.COMMANDS` over one board and request queue."""

    def __init__(self, board: ControlBoard, limits: ChatLimits, requests: RequestQueue, rates: RateLimits,
                 catalogs: Catalogs, load_preset: PresetLoader) -> None:
        self.board = board
        self.limits = limits
        self.requests = requests
        self.rates = rates
        self.catalogs = catalogs
        self.load_preset = load_preset

    def get(self, name: str) -> Handler:
        """The handler of command ``name`` (one of :data:`COMMANDS`)."""
        if name not in COMMANDS:
            raise KeyError(name)
        return getattr(self, name)

    # ----------------------------------------------------------------- viewer commands

    def dream(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [
                f"@{user} usage: !dream <class>, e.g. !dream goldfish or !dream banana*0.7+dog (see !targets <word>)"
            ]
        try:
            value, label = self.catalogs.target(args[:MAX_QUERY], self.limits.max_targets)
        except TargetProblem as e:
            return [f"@{user} {e}; try !targets <word>"]
        return self._submit(msg, user, "dream", value, label, now)

    def layer(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [f"@{user} usage: !layer <name>, e.g. !layer eyes (see !layers)"]
        query = args[:MAX_QUERY].strip().lower()
        model = self.board.get().model
        try:
            canonical = self.board.resolve_layer(model, query)
        except DreamError as e:
            return [f"@{user} no layer '{echo(query)}'{suggestions(e)}; see !layers"]
        label = f"{query} ({canonical})" if query in self.catalogs.spec(model).aliases else canonical
        return self._submit(msg, user, "layer", canonical, echo(label, 40), now)

    def layers(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        spec = self.catalogs.spec(self.board.get().model)
        names = spec.layer_names
        aliases = ", ".join(f"{a}={n}" for a, n in spec.aliases.items())
        span = f"{names[0]}..{names[-1]}" if len(names) > 6 else ", ".join(names)
        if not aliases:
            return [f"@{user} layers: {span}"]
        return [f"@{user} !layer <name>: {aliases}; or any of {span}"]

    def targets(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        if not args:
            return [(f"@{user} !targets <word> lists classes, e.g. !targets fish; "
                     "try !dream goldfish, zebra, jellyfish, strawberry")]
        query = args[:MAX_QUERY]
        try:
            found = self.catalogs.classes.search(query, 8)
        except DreamError:
            found = []
        if not found:
            return [f"@{user} no classes match '{echo(query)}'"]
        return [f"@{user} " + ", ".join(echo(name, 40) for _, name in found)]

    def strength(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        """Scales the steps and the step size of the dream (``with_strength``), within the chat limits."""
        lo, hi = self.limits.min_strength, self.limits.max_strength
        if not args:
            current = fmt_num(self.board.get().strength)
            return [(f"@{user} strength is {current}: it scales steps and step size "
                     f"(allowed {fmt_num(lo)}-{fmt_num(hi)})")]
        value = parse_float(args.split()[0])
        if value is None or not lo <= value <= hi:
            return [f"@{user} strength must be a number from {fmt_num(lo)} to {fmt_num(hi)}"]
        self.board.replace(strength=value)
        self.rates.stamp_request(str(msg.user_id), now)
        return [f"@{user} strength set to {fmt_num(value)}"]

    def status(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        c = self.board.get()
        active = self.requests.active
        if active is not None:
            who = ", ".join(active.names()[:3]) + (" +" if len(active.users) > 3 else "")
            head = f"{active.label} ({self.requests.seconds_left(now)}s left, asked by {who})"
        else:
            head = f"free dreaming layer {c.layer}"
        lock = ", chat locked" if c.locked else ""
        return [(f"@{user} {head}; {len(self.requests.waiting)} waiting; model {c.model}, strength "
                 f"{fmt_num(c.strength)}, octaves {c.octaves}, flow {c.flow}, preset {c.preset}{lock}")]

    def help(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        return [f"@{user} " + ", ".join(USAGE[c] for c in commands_for(msg.role, self.limits))]

    # ----------------------------------------------------------------- moderator commands

    def model(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        replies = self._choose(user, "model", self.board.get().model, args, self.limits.allowed_models,
                               lambda value: {"model": value})
        active = self.requests.active
        if active is not None and active.kind == "layer" and self.board.get().layer != active.value:
            self.requests.end_active(now)  # the requested layer does not exist in the new model
        return replies

    def preset(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        """Loads the preset's dream and class-dream settings (and its octaves, within the limits)."""

        def changes(name: str) -> dict[str, Any]:
            p = self.load_preset(name)
            octaves = min(max(p.dream.octaves, self.limits.min_octaves), self.limits.max_octaves)
            return {"preset": name, "dream": p.dream, "class_dream": p.class_dream, "octaves": octaves}

        return self._choose(user, "preset", self.board.get().preset, args, self.limits.allowed_presets, changes)

    def flow(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        return self._choose(user, "flow", self.board.get().flow, args, self.limits.allowed_flows,
                            lambda value: {"flow": value})

    def octaves(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        lo, hi = self.limits.min_octaves, self.limits.max_octaves
        if not args:
            return [f"@{user} octaves is {self.board.get().octaves} (allowed {lo}-{hi})"]
        value = parse_int(args.split()[0])
        if value is None or not lo <= value <= hi:
            return [f"@{user} octaves must be a whole number from {lo} to {hi}"]
        self.board.replace(octaves=value)
        return [f"@{user} octaves set to {value}"]

    def lock(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self.board.replace(locked=True)
        return [f"@{user} chat control locked"]

    def unlock(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self.board.replace(locked=False)
        return [f"@{user} chat control unlocked"]

    def skip(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        ended = self.requests.end_active(now)
        if ended is None:
            return [f"@{user} nothing to skip"]
        active = self.requests.active
        after = f"; now {active.label}" if active is not None else ""
        return [f"@{user} skipped {ended}{after}"]

    def clear(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        n = self.requests.clear()
        return [f"@{user} cleared {n} waiting request{'s' if n != 1 else ''}"]

    def reset(self, msg: ChatMessage, user: str, args: str, now: float) -> list[str]:
        self.requests.forget()
        initial = self.board.initial
        locked = self.board.get().locked
        fields = {f: getattr(initial, f) for f in LiveControls.__dataclass_fields__ if f != "locked"}
        self.board.replace(**fields, locked=locked)
        return [f"@{user} everything back to the start settings, queue cleared"]

    # ----------------------------------------------------------------- shared

    def _submit(self, msg: ChatMessage, user: str, kind: str, value: int | Target | str, label: str,
                now: float) -> list[str]:
        uid = str(msg.user_id)
        done = self.requests.submit(uid, user, kind, value, label, now, take_over=is_privileged(msg.role))
        if done.accepted:
            self.rates.stamp_request(uid, now)
        return [done.reply]

    def _choose(self, user: str, what: str, current: str, args: str, allowed: Sequence[str],
                changes: Callable[[str], dict[str, Any]]) -> list[str]:
        """Set ``what`` to one of ``allowed`` (case-insensitive) with the board ``changes(value)``."""
        if not args:
            return [f"@{user} {what} is {current}; allowed: {', '.join(allowed)}"]
        wanted = args.split()[0]
        value = next((a for a in allowed if a.lower() == wanted.lower()), None)
        if value is None:
            return [f"@{user} {what} '{echo(wanted)}' is not allowed; allowed: {', '.join(allowed)}"]
        try:
            self.board.replace(**changes(value))
        except DreamError as e:
            logger.info("chat %s change refused: %s", what, e)
            return [f"@{user} can't switch {what} to {value} now"]
        return [f"@{user} {what} set to {value}"]
