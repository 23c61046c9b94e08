"""The Twitch stream key: from the environment or a key file, never argv or the config."""
from __future__ import annotations

import os
from pathlib import Path

from engine.errors import SinkError
from stream.settings.live import LiveSettings

STREAM_KEY_ENV = "TWITCH_STREAM_KEY"


def stream_key(settings: LiveSettings) -> str | None:
    """The Twitch stream key from ``$TWITCH_STREAM_KEY`` or ``live.stream_key_file`` (never argv)."""
    key = os.environ.get(STREAM_KEY_ENV, "").strip()
    if key:
        return key
    if settings.stream_key_file:
        path = Path(settings.stream_key_file).expanduser()
        try:
            return path.read_text().strip() or None
        except OSError as e:
            raise SinkError(f"stream key file {str(path)!r} cannot be read: {e.strerror or e}") from None
    return None
