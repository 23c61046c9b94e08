"""Secrets out of URLs, messages and logs: stream keys and tokens never reach logs, errors or stats."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

import av

from stream.settings.names import RTMP_SCHEMES


def redact_url(url: str) -> str:
    """A URL safe to show: stream keys, passwords and query values become ``****``.

    ``rtmp://live.twitch.tv/app/live_123_abc`` -> ``rtmp://live.twitch.tv/app/****``;
    a path that is not a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    netloc = ("****@" if "@" in parts.netloc else "") + host + (f":{port}" if port else "")
    path = parts.path
    if scheme in RTMP_SCHEMES:
        segments = path.split("/")  # ["", "app", "key", ...]
        if len(segments) > 2 and any(segments[2:]):
            path = "/".join(segments[:2]) + "/****"
    query = ""
    if parts.query:
        if scheme in ("udp", "tcp"):
            query = "?" + parts.query  # socket options, never secrets
        else:
            query = "?" + "&".join(kv.split("=", 1)[0] + "=****" for kv in parts.query.split("&"))
    return f"{scheme}://{netloc}{path}{query}"


def secrets_of(url: str, extra: Iterable[str | None] = ()) -> tuple[str, ...]:
    """Strings that must never be shown: the URL, its key path, passwords, query values."""
    secrets = [url, *[s for s in extra if s]]
    try:
        parts = urlsplit(url)
        if parts.password:
            secrets.append(parts.password)
        if parts.scheme.lower() in RTMP_SCHEMES:
            segments = parts.path.split("/")
            tail = "/".join(segments[2:])
            if tail:
                secrets.append(tail)
                secrets.extend(s for s in segments[2:] if s)
        if parts.query:
            secrets.extend(kv.split("=", 1)[1] for kv in parts.query.split("&") if "=" in kv)
    except ValueError:
        pass
    # Longest first so a key inside the URL is replaced as part of the URL.
    return tuple(sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``****`` (a secret URL by its redacted form)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, redact_url(secret) if "://" in secret else "****")
    return text


def scrubbed_reason(exc: BaseException, secrets: Iterable[str]) -> str:
    """One redacted line for an exception (type and message)."""
    if isinstance(exc, av.FFmpegError) or (isinstance(exc, OSError) and exc.strerror):
        message = exc.strerror or str(exc)
    else:
        message = str(exc)
    return scrub(f"{type(exc).__name__}: {message}", secrets)


class SecretFilter(logging.Filter):
    """The one redaction helper for logs: scrubs registered secrets out of records.

    ``redact(text)`` replaces every secret (and its URL-quoted form) by ``****`` (a secret URL by
    its redacted form). As a :class:`logging.Filter` it rewrites a record's message and traceback,
    and drops records whose message starts with one of ``noise``. Thread-safe; secrets shorter than
    ``min_length`` are ignored (they would blank ordinary words).
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, noise: tuple[str, ...] = (), min_length: int = 6) -> None:
        super().__init__()
        self.noise = noise
        self.min_length = min_length
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Register secrets (None and short strings are skipped)."""
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= self.min_length:
                    self._secrets.add(secret)
                    self._secrets.add(quote(secret, safe=""))

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)  # a key inside a URL goes with the URL
        return scrub(text, secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.noise and isinstance(record.msg, str) and record.msg.startswith(self.noise):
            return False
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's to report, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True
