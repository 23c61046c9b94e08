"""The one settings schema: YAML presets and user files validated into frozen dataclasses.

Precedence: ``config/default.yaml`` < a named preset < ``--config FILE`` < CLI flags
(< chat, at run time, through :mod:`stream.settings.controls`). Every section maps to one frozen
dataclass, and every section goes through the same path: its keys are checked, each value is
converted to the field's annotated type, then checked against its field's rule (:data:`SCHEMA` gathers them:
each setting's default, range and help are declared once, on its field, :func:`engine.fields.setting`) and
:data:`RELATIONS` (checks between keys). An
unknown key, a wrong type or an out-of-range value raises :class:`ConfigError`: one line naming
the key, a short form of the value and what is allowed.

Hostile files are bounded before anything is built: at most :data:`MAX_CONFIG_BYTES`, nesting
at most :data:`MAX_DEPTH` deep and :data:`MAX_NODES` values once YAML aliases are expanded.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, overload

import yaml

from engine.dream import DreamSettings
from engine.errors import ConfigError, did_you_mean
from engine.fields import Rule, check_value, rule_of, short
from stream.settings.chat import ChatLimits
from stream.settings.checks import check_keys, clip
from stream.settings.live import LiveSettings
from stream.settings.midi import MidiSettings
from stream.settings.model import ModelSettings
from stream.settings.names import preset_names
from stream.settings.twitch import TwitchSettings
from stream.settings.video import VideoSettings

#: A config file longer than this is refused unread (ours are a few KiB; ``/dev/zero`` is endless).
MAX_CONFIG_BYTES = 64 * 1024
#: Deepest nesting of lists and mappings in a config file.
MAX_DEPTH = 16
#: Most values (scalars, lists, mappings) in a config file once aliases are expanded.
MAX_NODES = 20_000
#: Most digits of a YAML integer; a longer one stays text (and fails the key's type check).
MAX_INT_DIGITS = 30

#: Checks between keys of one section: (section, lower key, upper key).
RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("chat", "min_octaves", "max_octaves"),
    ("chat", "min_strength", "max_strength"),
    ("dream", "min_value", "max_value"),
)
#: What to say when a required key of a section is missing.
REQUIRED_HINTS = {
    "twitch": "put client_id, bot_id and broadcaster_id under twitch: in a --config file (see config/twitch.yaml)",
}

#: Section name -> its dataclass (``class_dream`` holds overrides of ``dream``, checked by ``dream``'s rules).
SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "dream": DreamSettings,
    "class_dream": DreamSettings,
    "video": VideoSettings,
    "live": LiveSettings,
    "chat": ChatLimits,
    "midi": MidiSettings,
    "twitch": TwitchSettings,
}
PARTIAL_SECTIONS = {"class_dream"}
# Sections with required keys (ids, URLs) that only some commands need: their keys are
# checked on load, the dataclass is built when a command asks for it.
LAZY_SECTIONS = {"twitch"}

#: Every key's rule, keyed "section.key", as its field declares it (:func:`engine.fields.setting`). Keys with no
#: rule are checked for their type only (names, paths, booleans).
SCHEMA: dict[str, Rule] = {f"{name}.{f.name}": rule for name, cls in SECTIONS.items() if name not in PARTIAL_SECTIONS
                           for f in dataclasses.fields(cls) if (rule := rule_of(f)) is not None}


@dataclass(frozen=True)
class Config:
    """Every validated section; ``raw`` keeps the merged mapping for sections built elsewhere."""

    model: ModelSettings
    dream: DreamSettings
    class_dream: DreamSettings
    sections: Mapping[str, Any]
    raw: Mapping[str, Any]

    @overload
    def section(self, name: Literal["model"]) -> ModelSettings: ...
    @overload
    def section(self, name: Literal["dream", "class_dream"]) -> DreamSettings: ...
    @overload
    def section(self, name: Literal["video"]) -> VideoSettings: ...
    @overload
    def section(self, name: Literal["live"]) -> LiveSettings: ...
    @overload
    def section(self, name: Literal["chat"]) -> ChatLimits: ...
    @overload
    def section(self, name: Literal["midi"]) -> MidiSettings: ...
    @overload
    def section(self, name: Literal["twitch"]) -> TwitchSettings: ...

    def section(self, name: str) -> Any:
        """The validated dataclass of section ``name`` (built now for lazy sections)."""
        value = self.sections[name]
        if name in LAZY_SECTIONS:
            return build_section(name, SECTIONS[name], value)
        return value


# ------------------------------------------------------------------------------------------ YAML


class _Limit(Exception):
    """A bound of the config file was passed (depth, values)."""


_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: 10x faster


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with integers of more than MAX_INT_DIGITS digits kept as text."""


def _int_or_text(loader: Any, node: yaml.ScalarNode) -> Any:
    if sum(c.isdigit() for c in node.value) > MAX_INT_DIGITS:
        return node.value  # fails the key's type check with a short message instead of a ValueError
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)


def _check_limits(text: str) -> None:
    """Raise :class:`_Limit` if ``text`` nests deeper than MAX_DEPTH or holds more than MAX_NODES
    values, aliases expanded, or an alias refers to the value it is part of.

    One pass over the parser's events that stops at the first bound passed, before any node is
    built: PyYAML's composer recurses (RecursionError on deep nesting) and its constructor shares
    aliased values that every later step (merging, error text) would expand.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) of its subtree
    stack: list[list[Any]] = []  # per open collection: [anchor, values before it, deepest level below]
    count = 0

    def grow(size: int, depth: int, event: Any) -> None:
        nonlocal count
        count += size
        line = event.start_mark.line + 1
        if count > MAX_NODES:
            raise _Limit(f"more than {MAX_NODES} values once aliases are expanded (at line {line})")
        if len(stack) + depth > MAX_DEPTH:
            raise _Limit(f"nested more than {MAX_DEPTH} deep (at line {line})")
        for frame in stack:
            frame[2] = max(frame[2], len(stack) + depth)

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.ScalarEvent):
            grow(1, 0, event)
            if event.anchor:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            grow(1, 1, event)
            stack.append([event.anchor, count, len(stack) + 1])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, before, deepest = stack.pop()
            if anchor:
                anchors[anchor] = (count - before + 1, deepest - len(stack))
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise _Limit(f"alias *{short(event.anchor)} refers to the value it is part of (at line {event.start_mark.line + 1})")
            size, depth = anchors[event.anchor]
            grow(size, depth, event)


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        _check_limits(text)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except _Limit as e:
        raise ConfigError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {clip(getattr(e, 'problem', None) or e)}") from None
    except (ValueError, OverflowError, TypeError, RecursionError) as e:
        raise ConfigError(f"{where}: a value cannot be read: {clip(e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(data).__name__}")
    return data


def read_preset(name: str) -> dict[str, Any]:
    """The raw mapping of ``config/<name>.yaml`` (package data)."""
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {short(name)}{did_you_mean(name, names)}; available: {', '.join(names)}")
    return _read_yaml(resources.files("config").joinpath(f"{name}.yaml").read_text(), f"preset {name!r}")


def read_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a user's config file: at most MAX_CONFIG_BYTES of UTF-8 YAML."""
    p = Path(path)
    where = f"config file {short(str(p))}"
    try:
        with p.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except OSError as e:
        raise ConfigError(f"{where} cannot be read: {e.strerror or e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where} is larger than {MAX_CONFIG_BYTES // 1024} KiB; allowed: a settings file of a few KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where} is not UTF-8 text (byte {e.start})") from None
    return _read_yaml(text, where)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two section mappings (``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------ conversion


def _convert(key: str, value: Any, tp: Any) -> Any:
    """Convert a YAML/CLI value to the annotated type ``tp`` or raise ConfigError.

    ``X | None`` takes null; a ``tuple[X, ...]`` takes a list, one value, or text split at commas
    and spaces (``"a, b"`` is two items, ``"a"`` one item, never a tuple of characters); a
    ``Mapping[K, V]`` takes a mapping, its keys and values converted.
    """
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "")):
            return None
        return _convert(key, value, args[0])
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_convert(key, v, item) for v in value)
    if origin in (dict, Mapping) or tp is dict or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {short(value)}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_convert(key, k, kt): _convert(f"{key}.{k}", v, vt) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true or false, got {short(value)}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and len(value) > MAX_INT_DIGITS):
            raise ConfigError(f"{key}: expected a whole number, got {short(value)}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a whole number, got {short(value)}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{key}: expected a number, got {short(value)}")
        try:
            f = float(value)
        except (ValueError, OverflowError):
            raise ConfigError(f"{key}: expected a number, got {short(value)}") from None
        if not math.isfinite(f):
            raise ConfigError(f"{key}: expected a finite number, got {short(value)}")
        return f
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {short(value)}")
        return str(value)
    return value


def _check_relations(name: str, values: Mapping[str, Any]) -> None:
    for section, lower, upper in RELATIONS:
        if section == name and values[lower] > values[upper]:
            raise ConfigError(f"{name}.{upper}: {short(values[upper])} is below {name}.{lower} ({short(values[lower])}); "
                              f"allowed: at least {name}.{lower}")


def build_section(name: str, cls: type, data: Mapping[str, Any], partial: bool = False) -> Any:
    """Validate ``data`` against dataclass ``cls``: keys, type conversion, :data:`SCHEMA`, :data:`RELATIONS`.

    The same path for every section. ``partial`` returns the checked dict of the keys given
    (overrides of another section, ``class_dream``) instead of building ``cls``.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"section {name!r}: expected a mapping of keys, got {short(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    rules = "dream" if partial else name
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {name}.{clip(str(key), 60)}{did_you_mean(str(key)[:100], fields)}; allowed: {', '.join(fields)}"
            )
        rule = SCHEMA.get(f"{rules}.{key}")
        if rule is not None and rule.words is not None and isinstance(value, (str, int, float)):
            value = rule.words.get(str(value).strip().lower(), value)
        values[key] = _convert(f"{name}.{key}", value, hints[key])
        check_value(f"{name}.{key}", values[key], rule)
    if partial:
        return values
    required = [k for k, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING and not values.get(k)]
    if required:
        hint = REQUIRED_HINTS.get(name, f"set {name}.{required[0]}")
        raise ConfigError(f"{name}.{required[0]} is not set; {hint}")
    full = {k: values.get(k, _default(f)) for k, f in fields.items()}
    _check_relations(name, full)
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"section {name!r}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"section {name!r}: {clip(e)}") from None


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def load_config(
    preset: str = "default",
    user_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load ``default.yaml``, overlay ``preset``, ``user_file`` and dotted ``overrides`` ("dream.steps": 5)."""
    raw = merge(read_preset("default"), _read_yaml(resources.files("config").joinpath("twitch.yaml").read_text(), "config/twitch.yaml"))
    if preset != "default":
        raw = merge(raw, read_preset(preset))
    if user_file is not None:
        raw = merge(raw, read_file(user_file))
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        raw = merge(raw, {section: {key: value}})
    sections = SECTIONS
    for name in raw:
        if name not in sections:
            raise ConfigError(f"unknown section {clip(str(name), 60)!r}{did_you_mean(str(name)[:100], sections)}; allowed: {', '.join(sections)}")
    built: dict[str, Any] = {}
    for name, cls in sections.items():
        data = raw.get(name) or {}
        if name in LAZY_SECTIONS:
            if not isinstance(data, Mapping):
                raise ConfigError(f"section {name!r}: expected a mapping of keys, got {short(data)}")
            check_keys(name, cls, data)
            built[name] = data
            continue
        built[name] = build_section(name, cls, data, partial=name in PARTIAL_SECTIONS)
    class_dream = dataclasses.replace(built["dream"], **built["class_dream"])
    _check_relations("dream", dataclasses.asdict(class_dream))
    built["class_dream"] = class_dream
    return Config(model=built["model"], dream=built["dream"], class_dream=class_dream, sections=built, raw=raw)
