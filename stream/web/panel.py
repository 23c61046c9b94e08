"""The operator's web panel and the OBS overlay page: an aiohttp app on its own thread and loop.

Routes (every one needs the token, as ``Authorization: Bearer <token>`` or ``?token=<token>``)::

    GET  /                 the operator page
    GET  /overlay          the OBS Browser Source page (transparent background)
    GET  /api/state        controls, queue, stats, outputs, choices (JSON)
    POST /api/command      {"text": "!dream banana"} -> {"ok", "replies", "reply", "state"}
    GET  /api/classes?q=   ImageNet classes matching q (the target search's suggestions)
    GET  /api/preview.jpg  the newest output frame
    GET  /api/events       server-sent events: the state whenever it changes

Without the token: 401. A POST whose ``Origin`` (or ``Sec-Fetch-Site``) is another site: 403.
Every bad request gets a JSON ``{"error": ...}`` and a 4xx; a bug in a handler is a 500 with
a JSON error and is logged: nothing here can stop the stream.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from engine.errors import ConfigError
from stream.web.state import PanelState, is_command

log = logging.getLogger(__name__)

TOKEN_ENV = "DREAMSTREAM_PANEL_TOKEN"
MIN_TOKEN_LEN = 12
MAX_BODY = 16 * 1024
MAX_COMMAND = 500
EVENT_PERIOD_S = 0.25
KEEPALIVE_S = 15.0


def panel_token(env: dict[str, str] | None = None) -> str:
    """``$DREAMSTREAM_PANEL_TOKEN``, or a fresh random token when it is unset."""
    value = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    if not value:
        return secrets.token_urlsafe(18)
    if len(value) < MIN_TOKEN_LEN or not re.fullmatch(r"[A-Za-z0-9._~\-]+", value):
        raise ConfigError(f"${TOKEN_ENV} must be at least {MIN_TOKEN_LEN} characters of letters, digits "
                          "and . _ ~ - (it goes into URLs)")
    return value


def _page(name: str) -> str:
    """A page from ``stream/web/static`` with its ``<!--css:X-->``/``<!--js:X-->`` files inlined."""
    folder = resources.files("stream.web").joinpath("static")
    html = folder.joinpath(name).read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        kind, file = m.group(1), m.group(2)
        text = folder.joinpath(file).read_text(encoding="utf-8")
        return f"<style>\n{text}</style>" if kind == "css" else f"<script>\n{text}</script>"

    return re.sub(r"<!--(css|js):([\w.\-]+)-->", inline, html)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(state: PanelState, token: str) -> web.Application:
    """The aiohttp application (tests may serve it themselves)."""
    pages = {"panel": _page("panel.html"), "overlay": _page("overlay.html")}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            given = request.query.get("token", "")
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                given = auth[7:].strip()
            if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
                return web.json_response({"error": "a valid token is required (Authorization: Bearer <token> "
                                                   "or ?token=<token>)"}, status=401,
                                         headers={"WWW-Authenticate": 'Bearer realm="dreamstream"'})
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                origin = request.headers.get("Origin")
                own = f"{request.scheme}://{request.host}"
                if (origin is not None and origin != own) or request.headers.get("Sec-Fetch-Site") == "cross-site":
                    return _error(403, f"cross-origin request refused (Origin {str(origin)[:80]!r}, "
                                       f"allowed: {own})")
            response = await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            return response
        except web.HTTPException as e:
            if e.status < 400:
                raise
            reason = e.reason or "error"
            return _error(e.status, f"{reason}: {request.method} {request.path[:100]}"
                          + (f"; allowed: {e.headers.get('Allow')}" if e.status == 405 else ""))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:  # a bug answers 500 and is logged; the stream carries on
            log.exception("panel request %s %s failed", request.method, request.path[:100])
            return _error(500, "internal error (see the stream's log)")

    async def page(request: web.Request) -> web.Response:
        name = "overlay" if request.path == "/overlay" else "panel"
        csp = ("default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
               "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
        return web.Response(text=pages[name], content_type="text/html", headers={"Content-Security-Policy": csp})

    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def post_command(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(415, f"Content-Type {request.content_type!r} is not allowed; send application/json "
                               'like {"text": "!dream banana"}')
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body too large; at most {MAX_BODY} bytes")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, 'body is not JSON; send {"text": "!dream banana"}')
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return _error(400, 'body needs "text", a string like "!dream banana"')
        if len(text) > MAX_COMMAND:
            return _error(400, f'"text" is {len(text)} characters; at most {MAX_COMMAND}')
        if not is_command(text):
            return _error(400, f"{text[:40]!r} is not a command; allowed: "
                               + ", ".join("!" + c for c in state.snapshot()["choices"]["commands"]))
        loop = asyncio.get_running_loop()
        replies = await loop.run_in_executor(None, state.command, text)
        return web.json_response({"ok": True, "replies": replies, "reply": " ".join(replies),
                                  "state": state.snapshot()})

    async def get_classes(request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:60]
        try:
            limit = max(1, min(20, int(request.query.get("limit", "8"))))
        except ValueError:
            return _error(400, f"limit {request.query.get('limit')!r} is not a whole number 1-20")
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, state.search_classes, query, limit)
        return web.json_response({"query": query, "classes": found})

    async def preview(request: web.Request) -> web.Response:
        data = state.preview_jpeg()
        if data is None:
            return _error(404, "no frame yet")
        return web.Response(body=data, content_type="image/jpeg")

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        last, quiet = None, 0.0
        try:
            while True:
                text = json.dumps(state.snapshot(), separators=(",", ":"))
                if text != last:
                    await response.write(f"event: state\ndata: {text}\n\n".encode())
                    last, quiet = text, 0.0
                elif quiet >= KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")
                    quiet = 0.0
                await asyncio.sleep(EVENT_PERIOD_S)
                quiet += EVENT_PERIOD_S
        except (ConnectionResetError, RuntimeError):  # the page went away
            pass
        return response

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.router.add_get("/", page)
    app.router.add_get("/overlay", page)
    app.router.add_get("/api/state", get_state)
    app.router.add_post("/api/command", post_command)
    app.router.add_get("/api/classes", get_classes)
    app.router.add_get("/api/preview.jpg", preview)
    app.router.add_get("/api/events", events)
    return app


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
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
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

