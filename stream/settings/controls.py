"""Live settings shared between chat (or the console) and the live pipeline.

:class:`ControlBoard` holds one immutable :class:`LiveControls`; writers swap it atomically
under a lock, the pipeline reads a snapshot once per frame.  Every value a writer can set is
checked against :class:`ChatLimits`, so no command can raise the cost of a frame beyond the
configured budget (octaves, strength as a multiplier on steps/step size, model, preset).
"""
from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.dream import DreamSettings
from engine.errors import ConfigError, DreamError, did_you_mean
from engine.models.registry import get_spec
from engine.targets import MAX_WEIGHT, MIN_WEIGHT, TargetTerm
from engine.temporal import TemporalSettings
from stream.settings.chat import ChatLimits
from stream.settings.checks import is_finite_number
from stream.settings.model import ModelSettings
from stream.settings.names import NUM_CLASSES


@dataclass(frozen=True)
class LiveControls:
    """One consistent set of live settings; the pipeline reads it once per frame.

    ``target`` is an ImageNet class index, or up to ``ChatLimits.max_targets`` weighted
    :class:`~engine.targets.TargetTerm` (``None`` = dream the layer); ``target_name`` its
    display name; ``strength`` multiplies steps and step size (:func:`with_strength`);
    ``requested_by`` the viewers whose request is active; ``active_until`` the
    ``time.monotonic()`` second it ends (or ``None``).  ``dream``/``class_dream`` are the
    settings of ``preset`` (``!preset`` loads them; ``None``: the ones the stage started with).
    """

    model: str = ModelSettings.name  # the settings' own defaults (what initial_controls gives a default config)
    layer: str = field(default_factory=lambda: get_spec(ModelSettings.name).default_layer)
    target: int | tuple[TargetTerm, ...] | None = None
    target_name: str = ""
    strength: float = 1.0
    octaves: int = DreamSettings.octaves
    flow: str = TemporalSettings.flow
    preset: str = "default"
    requested_by: tuple[str, ...] = ()
    active_until: float | None = None
    locked: bool = False
    dream: DreamSettings | None = None
    class_dream: DreamSettings | None = None


def controls_summary(c: LiveControls) -> dict[str, Any]:
    """What a stats line, a log line or an OSC controller shows of ``c`` (JSON-able)."""
    return {"model": c.model, "layer": c.layer, "target": c.target_name or None, "strength": round(c.strength, 4),
            "octaves": c.octaves, "flow": c.flow, "preset": c.preset, "locked": c.locked}


def scaled_steps(steps: int, strength: float) -> int:
    """``steps`` times ``strength``, rounded down but at least 1 (0 stays 0): never more than asked."""
    return 0 if steps <= 0 else max(1, math.floor(steps * strength + 1e-9))


def with_strength(settings: DreamSettings, strength: float, octaves: int) -> DreamSettings:
    """``settings`` with ``octaves``, and steps and step size scaled by ``strength``.

    Rounding the steps down keeps the cost of a frame within ``strength`` times the
    preset's, so :class:`ChatLimits`' ``max_strength`` bounds it.
    """
    return dataclasses.replace(settings, octaves=octaves, steps=scaled_steps(settings.steps, strength),
                               step_size=settings.step_size * strength)


LayerResolver = Callable[[str, str], str]
"""``(model, layer_or_alias) -> canonical layer name``; raises :class:`DreamError` if unknown."""


def registry_layer(model: str, layer: str) -> str:
    """Resolve ``layer`` (a name or alias such as ``eyes``) with the model registry.

    The one resolver of stream/: it asks :meth:`engine.models.registry.ModelSpec.layer`, and
    everything above (the board, chat's ``!layer``) goes through a :class:`ControlBoard`.
    """
    from engine.models.registry import get_spec

    return get_spec(model).layer(layer).name


def registry_default_layer(model: str) -> str:
    from engine.models.registry import get_spec

    return get_spec(model).default_layer




def _is_class(index: object) -> bool:
    return isinstance(index, int) and not isinstance(index, bool) and 0 <= index < NUM_CLASSES


def _check_target(target: object, limits: ChatLimits) -> None:
    if isinstance(target, tuple):
        if not 1 <= len(target) <= limits.max_targets:
            raise ConfigError(f"target names {len(target)} classes; allowed 1 to {limits.max_targets}")
        for t in target:
            if not (isinstance(t, TargetTerm) and _is_class(t.index) and is_finite_number(t.weight)
                    and MIN_WEIGHT <= t.weight <= MAX_WEIGHT):
                raise ConfigError(f"target term {t!r} is not a class index 0-{NUM_CLASSES - 1} "
                                  f"with a weight {MIN_WEIGHT:g} to {MAX_WEIGHT:g}")
    elif not _is_class(target):
        raise ConfigError(f"target {target!r} is not a class index 0-{NUM_CLASSES - 1}")


def check_controls(
    c: LiveControls, limits: ChatLimits, resolve_layer: LayerResolver = registry_layer
) -> LiveControls:
    """Return ``c`` with its layer made canonical, or raise :class:`ConfigError` naming the bad field."""
    if c.model not in limits.allowed_models:
        raise ConfigError(f"model {c.model!r} is not allowed; allowed: {', '.join(limits.allowed_models)}")
    if not (isinstance(c.octaves, int) and not isinstance(c.octaves, bool)
            and limits.min_octaves <= c.octaves <= limits.max_octaves):
        raise ConfigError(f"octaves {c.octaves!r} out of range; "
                          f"allowed: {limits.min_octaves}-{limits.max_octaves}")
    if not (is_finite_number(c.strength) and limits.min_strength <= c.strength <= limits.max_strength):
        raise ConfigError(f"strength {c.strength!r} out of range; "
                          f"allowed: {limits.min_strength:g}-{limits.max_strength:g}")
    if c.flow not in limits.allowed_flows:
        raise ConfigError(f"flow {c.flow!r} is not allowed; allowed: {', '.join(limits.allowed_flows)}")
    if c.preset not in limits.allowed_presets:
        raise ConfigError(f"preset {c.preset!r} is not allowed; allowed: {', '.join(limits.allowed_presets)}")
    if c.target is not None:
        _check_target(c.target, limits)
    if c.active_until is not None and not is_finite_number(c.active_until):
        raise ConfigError(f"active_until {c.active_until!r} is not a finite time")
    if not isinstance(c.requested_by, tuple) or not all(isinstance(u, str) for u in c.requested_by):
        raise ConfigError(f"requested_by {c.requested_by!r} is not a tuple of names")
    for key in ("dream", "class_dream"):
        if getattr(c, key) is not None and not isinstance(getattr(c, key), DreamSettings):
            raise ConfigError(f"{key} {getattr(c, key)!r} is not a DreamSettings (or None)")
    try:
        layer = resolve_layer(c.model, c.layer)
    except DreamError as e:
        raise ConfigError(str(e)) from None
    return dataclasses.replace(c, layer=layer, strength=float(c.strength),
                               target_name=c.target_name if c.target is not None else "")


class ControlBoard:
    """Thread-safe holder of the current :class:`LiveControls` and a version counter.

    ``get()`` is an atomic snapshot; ``replace(**changes)`` validates the result against the
    limits and swaps it in under a lock (the version goes up by one), or raises
    :class:`ConfigError` and leaves the board as it was.  Changing ``model`` without naming a
    ``layer`` keeps the current layer if the new model has it and otherwise takes the new
    model's default layer.
    """

    def __init__(
        self,
        initial: LiveControls,
        limits: ChatLimits,
        *,
        resolve_layer: LayerResolver = registry_layer,
        default_layer: Callable[[str], str] = registry_default_layer,
    ) -> None:
        self._lock = threading.Lock()
        self._limits = limits
        self._resolve_layer = resolve_layer
        self._default_layer = default_layer
        self._initial = check_controls(initial, limits, resolve_layer)
        self._controls = self._initial
        self._version = 0

    @property
    def limits(self) -> ChatLimits:
        return self._limits

    @property
    def initial(self) -> LiveControls:
        """The controls the board started with (what ``!reset`` goes back to)."""
        return self._initial

    def base_layer(self) -> str:
        """The layer dreamed when no request is active: the start layer, or the current model's default."""
        model = self.get().model
        return self._initial.layer if model == self._initial.model else self._default_layer(model)

    def resolve_layer(self, model: str, layer: str) -> str:
        """The canonical name of ``layer`` (a name or alias) in ``model``; raises :class:`DreamError`."""
        return self._resolve_layer(model, layer)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def get(self) -> LiveControls:
        with self._lock:
            return self._controls

    def snapshot(self) -> tuple[LiveControls, int]:
        """The current controls and their version, read together."""
        with self._lock:
            return self._controls, self._version

    def replace(self, **changes: Any) -> LiveControls:
        """Apply ``changes`` (field names of :class:`LiveControls`) atomically; returns the new controls."""
        known = {f.name for f in dataclasses.fields(LiveControls)}
        for key in changes:
            if key not in known:
                raise ConfigError(f"unknown control {key!r}{did_you_mean(key, known)}")
        with self._lock:
            current = self._controls
            if "model" in changes and "layer" not in changes and changes["model"] != current.model:
                try:
                    self._resolve_layer(changes["model"], current.layer)
                except DreamError:
                    try:
                        changes["layer"] = self._default_layer(changes["model"])
                    except DreamError as e:
                        raise ConfigError(str(e)) from None
            new = check_controls(dataclasses.replace(current, **changes), self._limits, self._resolve_layer)
            if new != current:
                self._controls = new
                self._version += 1
            return self._controls
