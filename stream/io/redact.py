"""Secrets out of URLs, messages and logs: stream keys and tokens never reach logs, errors or stats."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

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


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from records (attach it if FFmpeg logs are routed)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True
