"""The Twitch token file: twitchio's token JSON, read with checks and written with mode 0600.

The bot loads its user tokens from it (and saves them when twitchio refreshes them);
``dreamstream twitch-login`` (:mod:`~stream.chat.login`) writes it.  Standard library only.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

logger = logging.getLogger(__name__)


def read_token_file(path: Path | str | None) -> dict[str, dict[str, str]]:
    """twitchio's token JSON ``{user_id: {"user_id", "token", "refresh", "last_validated"}}``.

    A missing file is ``{}``; a malformed one raises :class:`ConfigError`.  A file that
    others can read is used but warned about.
    """
    if not path:
        return {}
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read Twitch token file {path}: {e.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("Twitch token file %s can be read by other users; run: chmod 600 %s", path, path)
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    ok = isinstance(data, dict) and all(
        isinstance(v, dict) and isinstance(v.get("token"), str) and isinstance(v.get("refresh", ""), str)
        for v in data.values()
    )
    if not ok:
        raise ConfigError(f"Twitch token file {path} is not twitchio's token JSON "
                          '({"<user_id>": {"user_id", "token", "refresh", "last_validated"}}); '
                          "run 'dreamstream twitch-login' to write it")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def write_token_file(path: Path | str, tokens: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``tokens`` atomically with mode 0600 (parent folder created with mode 0700)."""
    path = Path(path).expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            json.dump({k: dict(v) for k, v in tokens.items()}, fp, indent=2)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
