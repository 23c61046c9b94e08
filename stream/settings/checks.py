"""Key checks shared by every settings section."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, did_you_mean


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
