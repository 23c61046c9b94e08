"""NDI's optional binding and the rules for NDI names (``ndi:NAME`` outputs and inputs).

The binding is ``ndi-python`` (``import NDIlib``; its wheel carries the NDI runtime), installed
with ``pip install 'dreamstream[ndi]'``. It is imported on first use, never at import time, and
the runtime is initialised once per process and left running until exit.

An NDI source is announced as ``MACHINE (NAME)``: an output ``ndi:NAME`` becomes the source
``NAME`` on this machine; an input ``ndi:NAME`` takes the source of that name on any machine
(``ndi:MACHINE (NAME)`` picks one). Discovery is NDI's own: mDNS on the local network, plus the
"extra IPs" and discovery server of NDI's configuration file (``ndi-config.v1.json`` in
``$NDI_CONFIG_DIR`` or ``~/.ndi``, written by NDI Access Manager), read when the runtime starts.
"""
from __future__ import annotations

import re
import threading
from types import ModuleType

from engine.errors import DreamError

PREFIX = "ndi:"
INSTALL = "pip install 'dreamstream[ndi]'"
NAME_RULE = "NAME of 1 to 63 letters, digits, spaces and - _ . + # @ & (not starting or ending with a space)"
_NAME = re.compile(r"[\w\-.+#@&](?:[\w \-.+#@&]{0,61}[\w\-.+#@&])?")
_MACHINE = re.compile(r"[\w\-.]{1,63}")
_FULL = re.compile(r"(?P<machine>.+) \((?P<name>.+)\)")

_lock = threading.Lock()
_module: ModuleType | None = None


def is_ndi(spec: str) -> bool:
    """Whether ``spec`` names an NDI source (``ndi:...``)."""
    return spec.startswith(PREFIX)


def output_name(spec: str, error: type[DreamError]) -> str:
    """``"ndi:Dream"`` -> ``"Dream"``; a bad NAME raises ``error`` (one line naming it and what is allowed)."""
    name = spec.removeprefix(PREFIX)
    if not _NAME.fullmatch(name):
        raise error(f"output {spec[:80]!r} is not a valid NDI name; allowed: ndi:{NAME_RULE}")
    return name


def input_name(spec: str, error: type[DreamError]) -> str:
    """``"ndi:Dream"`` -> ``"Dream"``, ``"ndi:STUDIO (Dream)"`` unchanged but the prefix; else ``error``."""
    name = spec.removeprefix(PREFIX)
    full = _FULL.fullmatch(name)
    ok = (_MACHINE.fullmatch(full["machine"]) is not None and _NAME.fullmatch(full["name"]) is not None
          if full else _NAME.fullmatch(name) is not None)
    if not ok:
        raise error(f"input {spec[:80]!r} is not a valid NDI name; allowed: ndi:{NAME_RULE}, "
                    "or ndi:MACHINE (NAME) for the source of one machine")
    return name


def matches(full_name: str, wanted: str) -> bool:
    """Whether the announced ``MACHINE (NAME)`` is the ``wanted`` NAME or full name."""
    if full_name == wanted:
        return True
    full = _FULL.fullmatch(full_name)
    return full is not None and full["name"] == wanted


def load_ndi(error: type[DreamError], what: str) -> ModuleType:
    """The initialised ``NDIlib`` module; ``error`` (one line saying how to install it) when it cannot be had.

    ``what`` names the output or input in the message (``"output ndi:Dream"``).
    """
    global _module
    with _lock:
        if _module is not None:
            return _module
        try:
            import NDIlib
        except ModuleNotFoundError:
            raise error(f"{what} needs the NDI binding: {INSTALL}") from None
        except (ImportError, OSError) as e:  # the wheel is there but its runtime does not load
            raise error(f"{what}: the NDI binding does not load ({_one_line(e)}); reinstall it: {INSTALL}") from None
        if not NDIlib.initialize():
            raise error(f"{what}: the NDI runtime cannot start on this machine (its CPU lacks SSE4.2?)")
        _module = NDIlib
        return NDIlib


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


__all__ = ["INSTALL", "NAME_RULE", "PREFIX", "input_name", "is_ndi", "load_ndi", "matches", "output_name"]
