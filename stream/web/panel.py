"""The operator's web panel and the OBS overlay page: an aiohttp app on its own thread and loop.

The routes, the token and the error answers are :mod:`stream.web.api`'s; this module serves them
(:class:`PanelServer`) and makes the token (:func:`panel_token`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import threading

from aiohttp import web

from engine.errors import ConfigError
from stream.io.log_limit import FloodFilter
from stream.web.api import build_app
from stream.web.state import PanelState

log = logging.getLogger(__name__)

TOKEN_ENV = "DREAMSTREAM_PANEL_TOKEN"
MIN_TOKEN_LEN = 12
#: aiohttp's own log of requests it could not parse (one traceback each), behind a :class:`FloodFilter`.
HTTP_LOG = "stream.web.http"


def panel_token(env: dict[str, str] | None = None) -> str:
    """``$DREAMSTREAM_PANEL_TOKEN``, or a fresh random token when it is unset."""
    value = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    if not value:
        return secrets.token_urlsafe(18)
    if len(value) < MIN_TOKEN_LEN or not re.fullmatch(r"[A-Za-z0-9._~\-]+", value):
        raise ConfigError(f"${TOKEN_ENV} must be at least {MIN_TOKEN_LEN} characters of letters, digits "
                          "and . _ ~ - (it goes into URLs)")
    return value


class PanelServer:
    """Serves :func:`build_app` on ``host:port`` from a daemon thread with its own asyncio loop.

    ``start()`` returns once listening (a busy port raises :class:`ConfigError`); ``url`` and
    ``overlay_url`` carry the token; ``stop()`` closes it.  Port 0 picks a free port.
    """

    def __init__(self, state: PanelState, host: str = "127.0.0.1", port: int = 0, *,
                 token: str | None = None) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.token = token or panel_token()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"PanelServer(host={self.host!r}, port={self.port})"

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        return f"http://{shown}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    @property
    def overlay_url(self) -> str:
        return f"{self.base}/overlay?token={self.token}"

    def start(self) -> PanelServer:
        if self.host != "127.0.0.1":
            log.warning("the panel listens on %s, not 127.0.0.1: anyone who can reach this port and has the "
                        "token controls the stream", self.host)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._wait_stop())
            finally:
                loop.run_until_complete(self._cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name="web-panel", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            e = failure[0]
            if isinstance(e, OSError):
                raise ConfigError(f"--panel {self.host}:{self.port} cannot listen: {e.strerror or e}") from None
            raise e
        return self

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        app = build_app(self.state, self.token)
        http_log = logging.getLogger(HTTP_LOG)
        if not any(isinstance(f, FloodFilter) for f in http_log.filters):
            http_log.addFilter(FloodFilter())
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0,
                                     logger=http_log)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _wait_stop(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)

