"""What the web pages read and do: :class:`PanelState`, and :class:`LiveState` that builds it.

The panel never touches the pipeline's threads or queues: it reads a JSON snapshot (controls,
queue, stats, outputs, choices), sends chat command lines (``"!dream banana"``) through the
same :class:`~stream.chat.dispatcher.CommandCenter` as chat, with the broadcaster's role, and
asks for the newest output frame as JPEG.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from engine.targets import Target, target_terms
from stream.chat.dispatcher import CommandCenter
from stream.chat.message import ChatMessage
from stream.chat.parse import parse_command
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.names import COMMANDS

OPERATOR_ID = "panel"


class PanelState(Protocol):
    """The interface the panel serves (thread-safe; called from the panel's own loop thread)."""

    def snapshot(self) -> dict[str, Any]:
        """JSON-able ``{"controls", "queue", "stats", "outputs", "choices"}``."""
        ...

    def command(self, text: str) -> list[str]:
        """Run one ``!command`` line as the broadcaster; the replies (maybe none)."""
        ...

    def preview_jpeg(self) -> bytes | None:
        """The newest output frame as JPEG, or ``None`` before the first."""
        ...

    def search_classes(self, query: str, limit: int) -> list[dict[str, Any]]:
        """``[{"index", "name"}]`` of the ImageNet classes matching ``query``, best first."""
        ...


class StatsSource(Protocol):
    """What :class:`RateMeter` reads from :class:`stream.live.stats.LiveStats`."""

    captured: int
    dreamed: int
    output: int
    dropped: int
    repeated: int

    def recent_latency_ms(self, q: float) -> float | None: ...


class RateMeter:
    """Frame rates over the last ``window_s`` seconds from a stats object's running totals, and the
    latency percentiles of the newest frames.

    It keeps the totals of each read within the window, at most ``MAX_SAMPLES`` (many pages reading
    at once shorten the window, never grow the memory).
    """

    COUNTERS = ("captured", "dreamed", "output", "dropped", "repeated")
    MAX_SAMPLES = 512

    def __init__(self, stats: StatsSource, *, window_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = stats
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=self.MAX_SAMPLES)

    @property
    def samples(self) -> int:
        """Reads kept (at most ``MAX_SAMPLES``)."""
        with self._lock:
            return len(self._samples)

    def read(self) -> dict[str, Any]:
        now = self.clock()
        totals = {k: int(getattr(self.stats, k, 0)) for k in self.COUNTERS}
        with self._lock:
            self._samples.append((now, totals))
            while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
                self._samples.popleft()
            t0, first = self._samples[0]
        dt = now - t0

        def rate(key: str) -> float | None:
            return round((totals[key] - first[key]) / dt, 1) if dt > 0.2 else None

        return {
            "input_fps": rate("captured"), "dreamed_fps": rate("dreamed"), "output_fps": rate("output"),
            "latency_p50_ms": self.stats.recent_latency_ms(50), "latency_p95_ms": self.stats.recent_latency_ms(95),
            "dropped": totals["dropped"], "repeated": totals["repeated"], "totals": totals,
        }


class LiveState:
    """:class:`PanelState` over a running stream's board, command center, stats and outputs.

    ``stats`` returns the stats dict (a :class:`RateMeter`'s ``read``); ``outputs`` returns each
    output's state (``LivePipeline.outputs``: name, written, dropped, connected, reconnects, failed); ``preview``
    returns JPEG bytes; ``layers(model)`` returns ``(layer names, {alias: name})``; ``applied`` the controls the dream
    stage applied last (the stats then say what is really being dreamed); ``operator`` is the name shown as "asked by"
    for requests made from the panel.  ``clock`` is the clock of ``LiveControls.active_until`` (``time.monotonic``).
    """

    def __init__(
        self,
        board: ControlBoard,
        center: CommandCenter,
        *,
        stats: Callable[[], dict[str, Any]] | None = None,
        outputs: Callable[[], list[dict[str, Any]]] | None = None,
        preview: Callable[[], bytes | None] | None = None,
        layers: Callable[[str], tuple[Sequence[str], dict[str, str]]] | None = None,
        applied: Callable[[], LiveControls | None] | None = None,
        operator: str = "streamer",
        running: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board = board
        self.center = center
        self._stats = stats
        self._outputs = outputs
        self._preview = preview
        self._layers = layers or _registry_layers
        self._applied = applied
        self.operator = operator
        self._running = running
        self.clock = clock

    # -- PanelState

    def command(self, text: str) -> list[str]:
        msg = ChatMessage(user_id=OPERATOR_ID, user_name=self.operator, text=text, is_broadcaster=True)
        replies = self.center.handle(msg, self.clock())
        prefix = f"@{self.operator} "
        return [r.removeprefix(prefix) for r in replies]

    def preview_jpeg(self) -> bytes | None:
        return self._preview() if self._preview is not None else None

    def search_classes(self, query: str, limit: int) -> list[dict[str, Any]]:
        from engine.errors import DreamError
        from engine.imagenet import search

        try:
            return [{"index": i, "name": name} for i, name in search(query, limit)]
        except DreamError:
            return []

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        c = self.board.get()
        limits = self.board.limits
        left = None
        if c.active_until is not None and math.isfinite(c.active_until):
            left = max(0, math.ceil(c.active_until - now))
        queue = []
        start = float(left or 0)
        waiting = self.center.waiting()
        paid = self.center.waiting_paid()
        for i, (label, names) in enumerate(waiting):
            queue.append({"position": i + 1, "label": label, "requested_by": list(names),
                          "paid": paid[i] if i < len(paid) else 0,
                          "starts_in_s": math.ceil(start + i * limits.hold_s)})
        names, aliases = self._layers(c.model)
        outputs = []
        for o in self._outputs() if self._outputs is not None else []:
            outputs.append({"name": str(o["name"]), "connected": bool(o.get("connected", True)) and not o.get("failed"),
                            "frames_written": int(o.get("written", 0)), "frames_dropped": int(o.get("dropped", 0)),
                            "reconnects": int(o.get("reconnects", 0)), "failed": o.get("failed")})
        stats = dict(self._stats()) if self._stats is not None else {}
        applied = self._applied() if self._applied is not None else None
        if applied is not None:
            stats["dreaming"] = dreaming_label(applied)
        return {
            "running": self._running() if self._running is not None else True,
            "controls": {
                "model": c.model, "layer": c.layer, "target": target_json(c.target), "target_name": c.target_name,
                "strength": c.strength, "octaves": c.octaves, "flow": c.flow, "preset": c.preset,
                "locked": c.locked, "requested_by": list(c.requested_by), "seconds_left": left,
                "hold_s": limits.hold_s,
            },
            "queue": queue,
            "stats": stats,
            "outputs": outputs,
            "choices": {
                "layers": list(names), "aliases": dict(aliases), "models": list(limits.allowed_models),
                "flows": list(limits.allowed_flows), "presets": list(limits.allowed_presets),
                "strength": [limits.min_strength, limits.max_strength],
                "octaves": [limits.min_octaves, limits.max_octaves], "queue_size": limits.queue_size,
                "commands": list(COMMANDS),
            },
        }


def target_json(target: int | Target | None) -> int | list[dict[str, float]] | None:
    """A target as JSON: a class index, ``[{"index", "weight"}, ...]`` for a mix of classes, or null (the layer)."""
    if target is None or isinstance(target, int):
        return target
    return [{"index": t.index, "weight": t.weight} for t in target]


def dreaming_label(c: LiveControls) -> str:
    """``"class goldfish (1)"``, ``"class jellyfish + volcano*0.5 (107+980)"`` or ``"layer block9"``."""
    if c.target is None:
        return f"layer {c.layer}"
    indices = "+".join(str(t.index) for t in target_terms(c.target))
    return f"class {c.target_name or indices} ({indices})"


def is_command(text: str) -> bool:
    """True when ``text`` is a command the command layer knows (``!dream ...``)."""
    return parse_command(text) is not None


def _registry_layers(model: str) -> tuple[Sequence[str], dict[str, str]]:
    from engine.models.registry import get_spec

    spec = get_spec(model)
    return spec.layer_names, dict(spec.aliases)
