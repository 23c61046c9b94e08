"""One error hierarchy for the whole product, and the exit codes of the ``dreamstream`` command.

The CLI turns a :class:`DreamError` into a one-line message and its ``exit_code``. Every code the
command can end with is in :data:`EXIT_CODES`, with its one meaning (the README's table is tested
against it).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Exit code -> what it means. Each code means one thing; every error's ``exit_code`` is here.
EXIT_CODES: dict[int, str] = {
    0: "done",
    1: "an error of DreamStream's own with no more specific code",
    2: "a bad setting, flag, class name or command (usage)",
    3: "a model, layer or weights that cannot be had",
    4: "an input that cannot be opened or read",
    5: "an output that cannot be opened or written (a full disk included)",
    6: "the input ended early: the output holds everything that could be read, dreamed",
    7: "a chunked render failed (a chunk's workers kept dying, or Ray is missing or did not start); "
       "the work folder is kept",
    130: "interrupted (Ctrl-C); what was finished is kept",
    143: "terminated (SIGTERM); what was finished is kept",
}
EXIT_INPUT_ENDED_EARLY = 6
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


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
