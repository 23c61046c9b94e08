"""Where a server of ours listens: ``[HOST:]PORT`` flags (``--panel``, ``--osc``), checked before a run starts."""
from __future__ import annotations

import logging
import re
import socket

from engine.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_BIND = re.compile(r"(?:(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):)?(?P<port>\d{1,5})")


def parse_bind(text: str, flag: str = "--panel") -> tuple[str, int]:
    """``"8080"`` -> ``("127.0.0.1", 8080)``; ``"0.0.0.0:8080"``; ``"[::1]:8080"``; ConfigError naming ``flag``."""
    m = _BIND.fullmatch(str(text).strip())
    port = int(m.group("port")) if m else -1
    if m is None or not 0 <= port <= 65535:
        raise ConfigError(f"{flag} {text!r} is not [HOST:]PORT; e.g. 8080 or 127.0.0.1:8080 (port 0-65535)")
    host = (m.group("host") or "127.0.0.1").strip("[]")
    return host, port


def check_bind(host: str, port: int, flag: str = "--panel", *, udp: bool = False) -> None:
    """Raise :class:`ConfigError` now when ``host:port`` cannot be listened on (busy, no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    try:
        with socket.socket(family, kind) as s:
            if not udp:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise ConfigError(f"{flag} {host}:{port} cannot listen: {e.strerror or e}") from None


def warn_if_open(host: str, what: str) -> None:
    """Log a warning when ``what`` (a server of ours) listens beyond this machine."""
    if host not in LOOPBACK:
        log.warning("%s listens on %s, not 127.0.0.1: anyone who can reach this port controls the stream",
                    what, host)
