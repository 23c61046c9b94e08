"""Chat text in and out: parse a command line, read numbers, make replies and echoed values safe."""
from __future__ import annotations

import math
import re
import unicodedata

from stream.settings.names import COMMANDS

MAX_REPLY = 400  # Twitch allows 500; stay well under it
MAX_INPUT = 500  # Twitch chat messages are at most 500 characters
MAX_QUERY = 60  # longest class/layer query looked up (bounds fuzzy-matching cost)
_ECHO_PUNCT = set(" -'_.,:+()")


def _drop_controls(text: str) -> str:
    """Replace every control/format/unassigned/private/surrogate character by a space."""
    return "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text)


def clean_reply(text: str, limit: int = MAX_REPLY) -> str:
    """One line of at most ``limit`` characters, no control characters, not a chat command."""
    text = " ".join(_drop_controls(text).split())
    text = text.lstrip("/.")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def echo(value: str, limit: int = 32) -> str:
    """A user-supplied value made safe to repeat: letters, digits and plain punctuation only."""
    value = unicodedata.normalize("NFKC", value[: limit * 4])
    kept = "".join(ch if ch in _ECHO_PUNCT or unicodedata.category(ch)[0] in "LN" else " " for ch in value)
    kept = " ".join(kept.split())
    if len(kept) > limit:
        kept = kept[: limit - 1].rstrip() + "…"
    return kept or "?"


def parse_command(text: str) -> tuple[str, str] | None:
    """``"!Dream  gold fish"`` -> ``("dream", "gold fish")``; ``None`` for anything else."""
    text = " ".join(_drop_controls(text[: MAX_INPUT * 2]).split())[:MAX_INPUT]
    if not text.startswith("!"):
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.lower()
    if name not in COMMANDS:
        return None
    return name, rest.strip()


_INT = re.compile(r"[+-]?\d{1,9}")
_FLOAT = re.compile(r"[+-]?(\d{1,9}(\.\d{0,9})?|\.\d{1,9})x?")


def parse_int(arg: str) -> int | None:
    """``"3"`` -> 3; ``None`` for anything but a plain whole number of at most 9 digits."""
    return int(arg) if _INT.fullmatch(arg) else None


def parse_float(arg: str) -> float | None:
    """``"1.25"`` or ``"1.25x"`` -> 1.25; ``None`` for anything else (no exponents, nan or inf)."""
    if not _FLOAT.fullmatch(arg):
        return None
    value = float(arg.rstrip("x"))
    return value if math.isfinite(value) else None


def suggestions(error: Exception) -> str:
    """The ``"did you mean ..."`` part of an engine error, made safe to echo."""
    found = re.search(r"did you mean (.{1,200}?)\?", str(error))
    if not found:
        return ""
    names = [echo(n, 40) for n in found.group(1).split(", ")[:3]]
    return f" (did you mean {', '.join(names)}?)"


def fmt_num(x: float) -> str:
    """``1.0`` -> ``"1"``, ``0.25`` -> ``"0.25"``."""
    return f"{x:g}"
