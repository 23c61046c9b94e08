"""A setting defined once: its field, default, range (a :class:`Rule`) and one-line help, on the dataclass.

    steps: int = setting(10, Rule(0, 500), "gradient steps per octave")

:func:`setting` is a ``dataclasses.field`` whose ``metadata`` holds the rule and the help. The config loader
(:mod:`stream.settings.loader`) reads them to check a key and to say what is allowed, ``config/default.yaml`` and
the README's settings table are written from them (``scripts/build_settings.py``, tested to agree), and a settings
dataclass checks itself with the same rules in ``__post_init__`` (:func:`check_fields`), so a range lives in one
place whoever builds the settings.
"""
from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import ConfigError, did_you_mean

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlong = 40
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4
_short.maxlevel = 2


def short(value: Any) -> str:
    """A repr of ``value`` of at most about 60 characters (hostile values are huge or nested)."""
    if isinstance(value, str) and len(value) > 60:
        return f"{_short.repr(value)} ({len(value)} characters)"
    return _short.repr(value)


@dataclasses.dataclass(frozen=True)
class Rule:
    """What one setting allows once converted to its type.

    ``lo``/``hi``: inclusive range of a number (or of each item of a tuple); ``off``: one more
    allowed value outside it (0 = off); ``choices``: allowed text values (or items);
    ``keys``: allowed keys of a mapping; ``even``: only even numbers; ``items``: most items of
    a tuple; ``nonempty``: a tuple or text that may not be empty; ``check``: a function that
    returns what is wrong with a text value (``None`` = fine), for URLs and ids, or with a whole mapping (its
    answer then starts at the item: ``".note36: 'strength' is a knob; ..."``); ``words``: other
    spellings of a choice, looked up (as lower-case text) before the type conversion
    (``live.overlay: true`` is ``burned``).
    """

    lo: float | None = None
    hi: float | None = None
    off: float | None = None
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    keys: tuple[str, ...] | None = None
    even: bool = False
    items: int | None = None
    nonempty: bool = False
    check: Callable[[Any], str | None] | None = None
    words: Mapping[str, str] | None = None

    def allowed_choices(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def range_text(self) -> str:
        """The allowed range in words: ``0 to 16384``, ``even numbers from 32 to 3840``, ``..., or 0 (off)``."""
        lo, hi = self.lo, self.hi
        text = f"{lo} to {hi}" if isinstance(lo, int) and isinstance(hi, int) else f"{lo:g} to {hi:g}"
        if self.even:
            text = "even numbers from " + text
        return text + (f", or {self.off:g} (off)" if self.off is not None else "")


def setting(default: Any = dataclasses.MISSING, rule: Rule | None = None, help: str = "", *,
            factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its ``default`` (or ``factory``), ``rule`` and ``help`` (one line, or a few)."""
    metadata = {"rule": rule, "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def rule_of(f: dataclasses.Field[Any]) -> Rule | None:
    """The rule a field was declared with (:func:`setting`), or None."""
    return f.metadata.get("rule")


def help_of(f: dataclasses.Field[Any]) -> str:
    """The help a field was declared with (:func:`setting`), or ``""``."""
    return f.metadata.get("help", "")


def has_default(f: dataclasses.Field[Any]) -> bool:
    """Whether a field has a default (a value or a factory); one without is a required key."""
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def default_of(f: dataclasses.Field[Any]) -> Any:
    """A field's default (a factory's value, made now); None for a required field."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def check_value(key: str, value: Any, rule: Rule | None) -> None:
    """Raise :class:`ConfigError` (one line naming ``key``, the value and what is allowed) if ``value`` breaks
    ``rule``."""
    if rule is None or value is None:
        return
    if isinstance(value, Mapping):
        wrong = rule.check(value) if rule.check is not None else None
        if wrong is not None:  # a mapping's check says what is wrong from the item's key on (".cc1: ...")
            raise ConfigError(f"{key}{wrong}")
        rule = dataclasses.replace(rule, check=None)
        for k, v in value.items():
            name = str(k).lstrip("!")
            if rule.keys is not None and name not in rule.keys:
                raise ConfigError(f"{key}: unknown key {short(k)}{did_you_mean(name, rule.keys)}; "
                                  f"allowed: {', '.join(rule.keys)}")
            check_value(f"{key}.{name}", v, dataclasses.replace(rule, keys=None))
        return
    if isinstance(value, tuple):
        if rule.nonempty and not value:
            raise ConfigError(f"{key}: is empty; allowed: at least one item")
        if rule.items is not None and len(value) > rule.items:
            raise ConfigError(f"{key}: {len(value)} items; allowed: at most {rule.items}")
        for v in value:
            check_value(key, v, dataclasses.replace(rule, nonempty=False, items=None))
        return
    choices = rule.allowed_choices()
    if choices is not None and value not in choices:
        names = [str(c) for c in choices]
        raise ConfigError(f"{key}: {short(value)} is not allowed{did_you_mean(str(value), names)}; "
                          f"choose one of {', '.join(names)}")
    numeric = rule.lo is not None and isinstance(value, (int, float)) and value != rule.off
    if numeric and (not rule.lo <= value <= rule.hi or (rule.even and value % 2)):
        raise ConfigError(f"{key}: {short(value)} is out of range; allowed {rule.range_text()}")
    if rule.nonempty and isinstance(value, str) and not value.strip():
        raise ConfigError(f"{key}: is empty; allowed: a non-empty value")
    if rule.check is not None and isinstance(value, str):
        wrong = rule.check(value)
        if wrong is not None:
            raise ConfigError(f"{key}: {short(value)} is invalid; allowed: {wrong}")


def check_fields(settings: Any, prefix: str = "") -> None:
    """Check every field of the dataclass instance ``settings`` against its rule (keys named ``prefix + name``)."""
    for f in dataclasses.fields(settings):
        check_value(prefix + f.name, getattr(settings, f.name), rule_of(f))
