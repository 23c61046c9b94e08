"""The web panel's HTTP API and pages: an aiohttp application over a :class:`~stream.web.state.PanelState`.

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
a JSON error and is logged (once a minute, with a count): nothing here can stop the stream.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from stream.io.log_limit import LogLimit
from stream.web.state import PanelState, is_command

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
MAX_COMMAND = 500
EVENT_PERIOD_S = 0.25
KEEPALIVE_S = 15.0
#: The pages' Content-Security-Policy: their own inline script and style, nothing from elsewhere.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
#: Headers every answer carries unless its handler set them.
SAFE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _given_token(request: web.Request) -> str:
    """The token a request carries: ``Authorization: Bearer``, else ``?token=``."""
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.startswith("Bearer ") else request.query.get("token", "")


def _refused(request: web.Request, token: str) -> web.Response | None:
    """401 without the token, 403 for a change asked from another site; None: the request may go on."""
    if not hmac.compare_digest(_given_token(request).encode("utf-8", "replace"), token.encode()):
        return web.json_response({"error": "a valid token is required (Authorization: Bearer <token> "
                                           "or ?token=<token>)"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="dreamstream"'})
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.host}"
    if (origin is not None and origin != own) or request.headers.get("Sec-Fetch-Site") == "cross-site":
        return _error(403, f"cross-origin request refused (Origin {str(origin)[:80]!r}, allowed: {own})")
    return None


def _http_error(request: web.Request, e: web.HTTPException) -> web.Response:
    """aiohttp's own 4xx/5xx (no route, wrong method, ...) as a JSON error naming the request."""
    allowed = f"; allowed: {e.headers.get('Allow')}" if e.status == 405 else ""
    return _error(e.status, f"{e.reason or 'error'}: {request.method} {request.path[:100]}{allowed}")


async def _command_text(request: web.Request) -> str | web.Response:
    """The command a POST carries (``{"text": "!dream banana"}``), or the 4xx answer saying what is wrong."""
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
    return text


class PanelApi:
    """The handlers of the routes over ``state``, behind the ``token`` (:meth:`guard`); ``clock`` times the log."""

    def __init__(self, state: PanelState, token: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.token = token
        self.clock = clock
        self._said = LogLimit(log)
        self.pages = {"panel": _page("panel.html"), "overlay": _page("overlay.html")}

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The token and origin checks before every handler, safe headers after it, JSON for every error."""
        try:
            refused = _refused(request, self.token)
            if refused is not None:
                return refused
            response = await handler(request)
            for name, value in SAFE_HEADERS.items():
                response.headers.setdefault(name, value)
            return response
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return _http_error(request, e)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:  # noqa: BLE001 - a bug answers 500 and is logged (a line a minute); the stream carries on
            self._said.log(logging.ERROR, "panel requests failed", self.clock(), "panel request %s %s failed",
                           request.method, request.path[:100], exc_info=True)
            return _error(500, "internal error (see the stream's log)")

    async def page(self, request: web.Request) -> web.Response:
        name = "overlay" if request.path == "/overlay" else "panel"
        return web.Response(text=self.pages[name], content_type="text/html",
                            headers={"Content-Security-Policy": PAGE_CSP})

    async def get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.snapshot())

    async def post_command(self, request: web.Request) -> web.Response:
        text = await _command_text(request)
        if isinstance(text, web.Response):
            return text
        if not is_command(text):
            return _error(400, f"{text[:40]!r} is not a command; allowed: "
                               + ", ".join("!" + c for c in self.state.snapshot()["choices"]["commands"]))
        replies = await asyncio.get_running_loop().run_in_executor(None, self.state.command, text)
        return web.json_response({"ok": True, "replies": replies, "reply": " ".join(replies),
                                  "state": self.state.snapshot()})

    async def get_classes(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:60]
        try:
            limit = max(1, min(20, int(request.query.get("limit", "8"))))
        except ValueError:
            return _error(400, f"limit {request.query.get('limit')!r} is not a whole number 1-20")
        found = await asyncio.get_running_loop().run_in_executor(None, self.state.search_classes, query, limit)
        return web.json_response({"query": query, "classes": found})

    async def preview(self, request: web.Request) -> web.Response:
        data = self.state.preview_jpeg()
        if data is None:
            return _error(404, "no frame yet")
        return web.Response(body=data, content_type="image/jpeg")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The state as server-sent events whenever it changes, a keep-alive comment when it does not."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        last, quiet = None, 0.0
        try:
            while True:
                text = json.dumps(self.state.snapshot(), separators=(",", ":"))
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


def build_app(state: PanelState, token: str) -> web.Application:
    """The aiohttp application (tests may serve it themselves)."""
    api = PanelApi(state, token)
    app = web.Application(middlewares=[api.guard], client_max_size=MAX_BODY)
    app.router.add_get("/", api.page)
    app.router.add_get("/overlay", api.page)
    app.router.add_get("/api/state", api.get_state)
    app.router.add_post("/api/command", api.post_command)
    app.router.add_get("/api/classes", api.get_classes)
    app.router.add_get("/api/preview.jpg", api.preview)
    app.router.add_get("/api/events", api.events)
    return app
