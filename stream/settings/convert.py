"""A settings value from YAML or a CLI flag converted to its field's annotated type, or one :class:`ConfigError`
line."""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

from engine.errors import ConfigError
from engine.fields import short
from stream.settings.yaml_files import MAX_INT_DIGITS


def convert(key: str, value: Any, tp: Any) -> Any:
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
        return convert(key, value, args[0])
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(convert(key, v, item) for v in value)
    if origin in (dict, Mapping) or tp is dict or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {short(value)}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {convert(key, k, kt): convert(f"{key}.{k}", v, vt) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true or false, got {short(value)}")
    if tp is int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, str))
            or (isinstance(value, str) and len(value) > MAX_INT_DIGITS)
        ):
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
