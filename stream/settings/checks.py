"""Key checks shared by every settings section."""
from __future__ import annotations

import dataclasses
import math
import reprlib
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, did_you_mean

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlong = 40
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4
_short.maxlevel = 2


def clip(text: str, n: int = 80) -> str:
    """``text`` cut to ``n`` characters with an ellipsis (for messages from libraries)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def short(value: Any) -> str:
    """A repr of ``value`` of at most about 60 characters (hostile values are huge or nested)."""
    if isinstance(value, str) and len(value) > 60:
        return f"{_short.repr(value)} ({len(value)} characters)"
    return _short.repr(value)


def check_keys(section: str, cls: type, data: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first key of ``data`` that ``cls`` has no field for."""
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            shown = str(key) if len(str(key)) <= 60 else f"{str(key)[:57]}..."
            raise ConfigError(f"unknown key {section}.{shown}{did_you_mean(str(key)[:100], known)}; "
                              f"allowed: {', '.join(sorted(known))}")


def is_finite_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
