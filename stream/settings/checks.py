"""Key checks shared by every settings section."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import ConfigError, did_you_mean
from stream.settings.names import RTMP_SCHEMES


def clip(text: str, n: int = 80) -> str:
    """``text`` cut to ``n`` characters with an ellipsis (for messages from libraries)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


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


def numeric_id(value: str) -> str | None:
    """What is wrong with a Twitch user id (None: nothing)."""
    return None if value.isdigit() else "a numeric Twitch user id"


def secure_url(secure: str, loopback: str) -> Callable[[str], str | None]:
    """A check of a ``secure``:// URL (``loopback``:// only on 127.0.0.1 or localhost: tests)."""
    def check(value: str) -> str | None:
        import urllib.parse

        parts = urllib.parse.urlsplit(value)
        host = (parts.hostname or "").lower()
        if host and (
            parts.scheme == secure or (parts.scheme == loopback and host in ("127.0.0.1", "localhost", "::1"))
        ):
            return None
        return f"a {secure}:// URL ({loopback}:// only on 127.0.0.1 or localhost)"

    return check


def rtmp_url(value: str) -> str | None:
    """What is wrong with an RTMP URL (None: nothing)."""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    return None if scheme in RTMP_SCHEMES else f"an RTMP URL ({', '.join(s + '://' for s in RTMP_SCHEMES)})"
