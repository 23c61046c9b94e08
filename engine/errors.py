"""One error hierarchy for the whole product.

The CLI turns a :class:`DreamError` into a one-line message and its ``exit_code``.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class DreamError(Exception):
    """Root of every error DreamStream raises on purpose."""

    exit_code = 1


class ConfigError(DreamError):
    """A setting (YAML key, CLI flag, chat value) is unknown or out of range."""

    exit_code = 2


class ModelError(DreamError):
    """An unknown model or layer, or weights that cannot be had."""

    exit_code = 3


class TargetError(DreamError):
    """An unknown ImageNet class or an objective that cannot be built."""

    exit_code = 2


class SourceError(DreamError):
    """An input (image, video, camera, URL) cannot be opened or read."""

    exit_code = 4


class SinkError(DreamError):
    """An output (file, RTMP, UDP, window) cannot be opened or written."""

    exit_code = 5


class CommandError(DreamError):
    """A chat or console command that is malformed, refused or out of range."""

    exit_code = 2


def did_you_mean(value: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" (did you mean a, b?)"`` for the closest choices, or ``""``."""
    close = difflib.get_close_matches(value.lower(), [c.lower() for c in choices], n=n, cutoff=0.6)
    lookup = {c.lower(): c for c in choices}
    if not close:
        return ""
    return " (did you mean " + ", ".join(lookup[c] for c in close) + "?)"
