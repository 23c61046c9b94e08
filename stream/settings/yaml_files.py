"""Reading settings files: the shipped presets and a user's ``--config`` file, bounded against hostile ones.

A hostile file is refused before anything is built from it: at most :data:`MAX_CONFIG_BYTES`, nesting at most
:data:`MAX_DEPTH` deep, :data:`MAX_NODES` values once YAML aliases are expanded, integers of at most
:data:`MAX_INT_DIGITS` digits; each refusal is one :class:`ConfigError` line naming the file and the bound.
"""
from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError, did_you_mean
from engine.fields import short
from stream.settings.checks import clip
from stream.settings.names import preset_names

#: A config file longer than this is refused unread (ours are a few KiB; ``/dev/zero`` is endless).
MAX_CONFIG_BYTES = 64 * 1024
#: Deepest nesting of lists and mappings in a config file.
MAX_DEPTH = 16
#: Most values (scalars, lists, mappings) in a config file once aliases are expanded.
MAX_NODES = 20_000
#: Most digits of a YAML integer; a longer one stays text (and fails the key's type check).
MAX_INT_DIGITS = 30




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
                raise _Limit(
                    f"alias *{short(event.anchor)} refers to the value it is part of (at line "
                    f"{event.start_mark.line + 1})"
                )
            size, depth = anchors[event.anchor]
            grow(size, depth, event)


def read_yaml(text: str, where: str) -> dict[str, Any]:
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
    return read_yaml(resources.files("config").joinpath(f"{name}.yaml").read_text(), f"preset {name!r}")


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
        raise ConfigError(
            f"{where} is larger than {MAX_CONFIG_BYTES // 1024} KiB; allowed: a settings file of a few KiB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where} is not UTF-8 text (byte {e.start})") from None
    return read_yaml(text, where)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two section mappings (``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out
