"""A fake Twitch (OAuth, Helix, EventSub websocket) on 127.0.0.1 for the chat bot tests.

Runs an aiohttp server on its own thread and event loop.  It checks what real Twitch
checks for the calls the bot makes (client credentials, token owners and scopes, the
websocket session of a subscription, which app created a reward) and records
subscriptions, posted chat messages, custom rewards and redemption status changes.
Payloads follow Twitch's Helix and EventSub websocket documentation and what twitchio
3.3.2 parses.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import twitchio.eventsub.websockets as tio_websockets
from aiohttp import web
from twitchio.http import Route

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class FakeUser:
    user_id: str
    login: str
    token: str
    refresh: str
    scopes: list[str] = field(default_factory=list)


class FakeTwitch:
    """``start()`` it, point the bot at ``helix_url``/``oauth_url``/``eventsub_url``."""

    def __init__(self, *, client_id: str = "fakeclientid", client_secret: str = "fake-client-secret-123",
                 keepalive_s: float = 4.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.app_token = "app-token-" + uuid.uuid4().hex
        self.keepalive_s = keepalive_s
        self.users: dict[str, FakeUser] = {}
        self.messages: list[dict[str, Any]] = []  # posted to /helix/chat/messages
        self.subscriptions: list[dict[str, Any]] = []  # every accepted subscription, in order
        self.connections = 0  # websocket connections accepted
        self.device_polls = 0
        self.device_user: str | None = None  # user id the device flow logs in as
        self.refuse_websockets = 0  # answer this many websocket handshakes with 503 (an outage)
        self.rewards: dict[str, dict[str, Any]] = {}  # custom rewards by id (+ "_client_id": who made it)
        self.reward_posts = 0  # POST /helix/channel_points/custom_rewards calls
        self.redemptions: dict[str, dict[str, Any]] = {}  # by id: the event, its status now
        self.status_updates: list[tuple[str, str]] = []  # (redemption id, new status), in order
        self._sessions: dict[str, web.WebSocketResponse] = {}
        self._session_subs: dict[str, list[dict[str, Any]]] = {}
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ set-up

    def add_user(self, user_id: str, login: str, scopes: list[str] | None = None) -> FakeUser:
        user = FakeUser(user_id, login, f"tok-{login}-{uuid.uuid4().hex}", f"ref-{login}-{uuid.uuid4().hex}",
                        list(scopes or []))
        self.users[user_id] = user
        return user

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def helix_url(self) -> str:
        return f"{self.base}/helix/"

    @property
    def oauth_url(self) -> str:
        return f"{self.base}/"

    @property
    def eventsub_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> FakeTwitch:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-twitch", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Twitch did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_post("/oauth2/device", self._device)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_get("/helix/users", self._get_users)
        app.router.add_post("/helix/eventsub/subscriptions", self._subscribe)
        app.router.add_post("/helix/chat/messages", self._chat_message)
        app.router.add_get("/helix/channel_points/custom_rewards", self._get_rewards)
        app.router.add_post("/helix/channel_points/custom_rewards", self._create_reward)
        app.router.add_patch("/helix/channel_points/custom_rewards", self._update_reward)
        app.router.add_patch("/helix/channel_points/custom_rewards/redemptions", self._update_redemption)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for ws in list(self._sessions.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ test controls

    def _call(self, coro: Any, timeout: float = 5.0) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def send_chat(self, user_id: str, login: str, text: str, *, broadcaster_id: str,
                  badges: tuple[str, ...] = ()) -> int:
        """Deliver a chat message to every session subscribed to the channel; returns how many."""
        return self._call(self._send_chat(user_id, login, text, broadcaster_id, badges))

    def add_reward(self, broadcaster_id: str, title: str, cost: int = 100, *, client_id: str = "someone-else",
                   prompt: str = "") -> dict[str, Any]:
        """A reward made elsewhere (by hand on the dashboard: ``client_id`` is not ours)."""
        reward = self._reward(broadcaster_id, {"title": title, "cost": cost, "prompt": prompt}, client_id)
        self.rewards[reward["id"]] = reward
        return reward

    def redeem(self, reward_id: str, user_id: str, login: str, user_input: str) -> str:
        """A viewer redeems a reward: the redemption is UNFULFILLED and notified; returns its id."""
        return self._call(self._redeem(reward_id, user_id, login, user_input))

    def status_of(self, redemption_id: str) -> str:
        with self._cond:
            return self.redemptions[redemption_id]["status"]

    def drop_websockets(self, code: int = 4000) -> int:
        """Close every EventSub websocket (4000: Twitch's internal server error)."""
        return self._call(self._drop(code))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def sessions(self) -> list[str]:
        with self._cond:
            return list(self._sessions)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ auth helpers

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
        return web.json_response({"error": reason, "status": status, "message": message}, status=status)

    def _bearer(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if request.headers.get("Client-ID") != self.client_id:
            return None
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def _user_by_token(self, token: str | None) -> FakeUser | None:
        return next((u for u in self.users.values() if u.token == token), None)

    # ------------------------------------------------------------------ OAuth

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id:
            return self._error(400, "invalid client")
        grant = q.get("grant_type")
        if grant == "client_credentials":
            if q.get("client_secret") != self.client_secret:
                return self._error(403, "invalid client secret")
            return web.json_response({"access_token": self.app_token, "expires_in": 5_000_000,
                                      "token_type": "bearer"})
        if grant == "refresh_token":
            user = next((u for u in self.users.values() if u.refresh == q.get("refresh_token")), None)
            if user is None:
                return self._error(400, "Invalid refresh token")
            user.token, user.refresh = f"tok-{user.login}-{uuid.uuid4().hex}", f"ref-{user.login}-{uuid.uuid4().hex}"
            return web.json_response({"access_token": user.token, "refresh_token": user.refresh,
                                      "expires_in": 14_000, "scope": user.scopes, "token_type": "bearer"})
        if grant == DEVICE_GRANT:
            self.device_polls += 1
            if self.device_polls == 1:
                return self._error(400, "authorization_pending")
            user = self.users[self.device_user or ""]
            user.scopes = q.get("scopes", "").split()
            return web.json_response({"access_token": user.token, "refresh_token": user.refresh,
                                      "expires_in": 14_000, "scope": user.scopes, "token_type": "bearer"})
        return self._error(400, "unsupported grant type")

    async def _device(self, request: web.Request) -> web.Response:
        if request.query.get("client_id") != self.client_id:
            return self._error(400, "invalid client")
        return web.json_response({"device_code": "dev-" + uuid.uuid4().hex, "expires_in": 1800, "interval": 0,
                                  "user_code": "ABCDWXYZ", "verification_uri": f"{self.base}/activate"})

    async def _validate(self, request: web.Request) -> web.Response:
        # Twitch documents "OAuth <token>"; twitchio's managed client sends "Bearer <token>"
        token = request.headers.get("Authorization", "").removeprefix("OAuth ").removeprefix("Bearer ")
        if token == self.app_token:
            return web.json_response({"client_id": self.client_id, "scopes": [], "expires_in": 5_000_000})
        user = self._user_by_token(token)
        if user is None:
            return self._error(401, "invalid access token")
        return web.json_response({"client_id": self.client_id, "login": user.login, "scopes": user.scopes,
                                  "user_id": user.user_id, "expires_in": 14_000})

    # ------------------------------------------------------------------ Helix

    async def _get_users(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if token != self.app_token and self._user_by_token(token) is None:
            return self._error(401, "invalid access token")
        data = []
        for uid in request.query.getall("id", []):
            user = self.users.get(uid)
            if user:
                data.append({"id": user.user_id, "login": user.login, "display_name": user.login.title(),
                             "type": "", "broadcaster_type": "", "description": "",
                             "profile_image_url": f"{self.base}/img/{user.user_id}.png",
                             "offline_image_url": "", "view_count": 0, "created_at": "2020-01-01T00:00:00Z"})
        return web.json_response({"data": data})

    async def _subscribe(self, request: web.Request) -> web.Response:
        user = self._user_by_token(self._bearer(request))
        body = await request.json()
        cond = body.get("condition", {})
        if user is None:
            return self._error(401, "invalid access token")
        kind = body.get("type")
        if kind == "channel.chat.message":
            if user.user_id != cond.get("user_id") or not {"user:read:chat", "user:bot"} <= set(user.scopes):
                return self._error(403, "subscription missing proper authorization")
        elif kind == "channel.channel_points_custom_reward_redemption.add":
            scopes = {"channel:read:redemptions", "channel:manage:redemptions"}
            if user.user_id != cond.get("broadcaster_user_id") or not scopes & set(user.scopes):
                return self._error(403, "subscription missing proper authorization")
        else:
            return self._error(400, f"unsupported subscription type {kind}")
        session_id = body.get("transport", {}).get("session_id")
        if session_id not in self._sessions:
            return self._error(400, "websocket transport session does not exist or has already disconnected")
        sub = {"id": str(uuid.uuid4()), "status": "enabled", "type": body["type"], "version": body["version"],
               "condition": cond, "created_at": _now(), "cost": 0,
               "transport": {"method": "websocket", "session_id": session_id, "connected_at": _now()}}
        self._session_subs.setdefault(session_id, []).append(sub)
        with self._cond:
            self.subscriptions.append(sub)
            self._cond.notify_all()
        return web.json_response({"data": [sub], "total": 1, "total_cost": 0, "max_total_cost": 10}, status=202)

    async def _chat_message(self, request: web.Request) -> web.Response:
        user = self._user_by_token(self._bearer(request))
        body = await request.json()
        if user is None or user.user_id != str(body.get("sender_id")) or "user:write:chat" not in user.scopes:
            return self._error(401, "invalid access token")
        if len(body.get("message", "")) > 500:
            return self._error(400, "message too long")
        with self._cond:
            self.messages.append(body)
            self._cond.notify_all()
        return web.json_response({"data": [{"message_id": str(uuid.uuid4()), "is_sent": True, "drop_reason": None}]})

    # ------------------------------------------------------------------ channel points

    def _broadcaster_for(self, request: web.Request, scopes: set[str]) -> FakeUser | web.Response:
        """The broadcaster whose user token this is, with one of ``scopes``; or the error Twitch answers."""
        user = self._user_by_token(self._bearer(request))
        if user is None:
            return self._error(401, "invalid access token")
        if request.query.get("broadcaster_id") != user.user_id:
            return self._error(403, "the ID in broadcaster_id must match the user ID in the access token")
        if not scopes & set(user.scopes):
            return self._error(401, "missing required scope " + " or ".join(sorted(scopes)))
        return user

    def _reward(self, broadcaster_id: str, body: dict[str, Any], client_id: str) -> dict[str, Any]:
        owner = self.users[broadcaster_id]
        cooldown = int(body.get("global_cooldown_seconds") or 0)
        per_stream = int(body.get("max_per_stream") or 0)
        per_user = int(body.get("max_per_user_per_stream") or 0)
        return {
            "broadcaster_id": owner.user_id, "broadcaster_login": owner.login, "broadcaster_name": owner.login.title(),
            "id": str(uuid.uuid4()), "title": str(body["title"]), "prompt": str(body.get("prompt") or ""),
            "cost": int(body["cost"]), "image": None,
            "default_image": {"url_1x": f"{self.base}/r1.png", "url_2x": f"{self.base}/r2.png",
                              "url_4x": f"{self.base}/r4.png"},
            "background_color": str(body.get("background_color") or "#9147FF"),
            "is_enabled": bool(body.get("is_enabled", True)),
            "is_user_input_required": bool(body.get("is_user_input_required", False)),
            "max_per_stream_setting": {"is_enabled": bool(body.get("is_max_per_stream_enabled")),
                                       "max_per_stream": per_stream},
            "max_per_user_per_stream_setting": {"is_enabled": bool(body.get("is_max_per_user_per_stream_enabled")),
                                                "max_per_user_per_stream": per_user},
            "global_cooldown_setting": {"is_enabled": bool(body.get("is_global_cooldown_enabled")),
                                        "global_cooldown_seconds": cooldown},
            "is_paused": False, "is_in_stock": True,
            "should_redemptions_skip_request_queue": bool(body.get("should_redemptions_skip_request_queue")),
            "redemptions_redeemed_current_stream": None, "cooldown_expires_at": None,
            "_client_id": client_id,
        }

    @staticmethod
    def _public(reward: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in reward.items() if not k.startswith("_")}

    async def _get_rewards(self, request: web.Request) -> web.Response:
        user = self._broadcaster_for(request, {"channel:read:redemptions", "channel:manage:redemptions"})
        if isinstance(user, web.Response):
            return user
        only_ours = request.query.get("only_manageable_rewards", "false").lower() == "true"
        ids = request.query.getall("id", [])
        data = [self._public(r) for r in self.rewards.values()
                if r["broadcaster_id"] == user.user_id and (not only_ours or r["_client_id"] == self.client_id)
                and (not ids or r["id"] in ids)]
        return web.json_response({"data": data})

    async def _create_reward(self, request: web.Request) -> web.Response:
        user = self._broadcaster_for(request, {"channel:manage:redemptions"})
        if isinstance(user, web.Response):
            return user
        body = await request.json()
        with self._cond:
            self.reward_posts += 1
        title = str(body.get("title", ""))
        if not title or len(title) > 45 or int(body.get("cost", 0)) < 1:
            return self._error(400, "title (1-45 characters) and cost (at least 1) are required")
        if any(r["title"].lower() == title.lower() and r["broadcaster_id"] == user.user_id
               for r in self.rewards.values()):
            return self._error(400, "CREATE_CUSTOM_REWARD_DUPLICATE_REWARD")
        reward = self._reward(user.user_id, body, self.client_id)
        with self._cond:
            self.rewards[reward["id"]] = reward
            self._cond.notify_all()
        return web.json_response({"data": [self._public(reward)]})

    async def _update_reward(self, request: web.Request) -> web.Response:
        user = self._broadcaster_for(request, {"channel:manage:redemptions"})
        if isinstance(user, web.Response):
            return user
        reward = self.rewards.get(request.query.get("id", ""))
        if reward is None:
            return self._error(404, "custom reward not found")
        if reward["_client_id"] != self.client_id:
            return self._error(403, "the app may only update rewards it created")
        body = await request.json()
        for key in ("title", "prompt", "cost", "is_enabled", "is_user_input_required", "is_paused"):
            if key in body:
                reward[key] = body[key]
        if "global_cooldown_seconds" in body:
            reward["global_cooldown_setting"] = {"is_enabled": bool(body.get("is_global_cooldown_enabled", True)),
                                                 "global_cooldown_seconds": int(body["global_cooldown_seconds"])}
        if "max_per_stream" in body:
            reward["max_per_stream_setting"] = {"is_enabled": bool(body.get("is_max_per_stream_enabled", True)),
                                                "max_per_stream": int(body["max_per_stream"])}
        return web.json_response({"data": [self._public(reward)]})

    async def _update_redemption(self, request: web.Request) -> web.Response:
        user = self._broadcaster_for(request, {"channel:manage:redemptions"})
        if isinstance(user, web.Response):
            return user
        reward = self.rewards.get(request.query.get("reward_id", ""))
        if reward is None or reward["_client_id"] != self.client_id:
            return self._error(403, "the app may only update redemptions of rewards it created")
        status = (await request.json()).get("status")
        if status not in ("FULFILLED", "CANCELED"):
            return self._error(400, "status must be FULFILLED or CANCELED")
        with self._cond:
            redemption = self.redemptions.get(request.query.get("id", ""))
            if redemption is None or redemption["status"] != "UNFULFILLED":
                return self._error(404, "no UNFULFILLED redemption with that id")
            redemption["status"] = status
            self.status_updates.append((redemption["event"]["id"], status))
            self._cond.notify_all()
        event = redemption["event"]
        return web.json_response({"data": [{
            "broadcaster_id": event["broadcaster_user_id"], "broadcaster_login": event["broadcaster_user_login"],
            "broadcaster_name": event["broadcaster_user_name"], "id": event["id"], "user_id": event["user_id"],
            "user_login": event["user_login"], "user_name": event["user_name"], "user_input": event["user_input"],
            "status": status, "redeemed_at": event["redeemed_at"],
            "reward": {"id": reward["id"], "title": reward["title"], "prompt": reward["prompt"],
                       "cost": reward["cost"]},
        }]})

    async def _redeem(self, reward_id: str, user_id: str, login: str, user_input: str) -> str:
        reward = self.rewards[reward_id]
        owner = self.users[reward["broadcaster_id"]]
        event = {
            "id": str(uuid.uuid4()), "broadcaster_user_id": owner.user_id, "broadcaster_user_login": owner.login,
            "broadcaster_user_name": owner.login.title(), "user_id": user_id, "user_login": login,
            "user_name": login.title(), "user_input": user_input, "status": "unfulfilled",
            "reward": {"id": reward["id"], "title": reward["title"], "cost": reward["cost"],
                       "prompt": reward["prompt"]},
            "redeemed_at": _now(),
        }
        with self._cond:
            self.redemptions[event["id"]] = {"event": event, "status": "UNFULFILLED"}
        kind = "channel.channel_points_custom_reward_redemption.add"
        for session_id, subs in list(self._session_subs.items()):
            ws = self._sessions.get(session_id)
            for sub in subs:
                cond = sub["condition"]
                if ws is None or ws.closed or sub["type"] != kind or cond.get("broadcaster_user_id") != owner.user_id:
                    continue
                if cond.get("reward_id") and cond["reward_id"] != reward_id:
                    continue
                await ws.send_str(json.dumps({
                    "metadata": {"message_id": str(uuid.uuid4()), "message_type": "notification",
                                 "message_timestamp": _now(), "subscription_type": kind, "subscription_version": "1"},
                    "payload": {"subscription": sub, "event": event},
                }))
        return event["id"]

    # ------------------------------------------------------------------ EventSub websocket

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        with self._cond:
            if self.refuse_websockets > 0:
                self.refuse_websockets -= 1
                self._cond.notify_all()
                return web.Response(status=503, text="service unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session_id = "sess-" + uuid.uuid4().hex
        keepalive = int(request.query.get("keepalive_timeout_seconds", "10"))
        with self._cond:
            self._sessions[session_id] = ws
            self.connections += 1
            self._cond.notify_all()
        await ws.send_str(json.dumps({
            "metadata": {"message_id": str(uuid.uuid4()), "message_type": "session_welcome",
                         "message_timestamp": _now()},
            "payload": {"session": {"id": session_id, "status": "connected", "connected_at": _now(),
                                    "keepalive_timeout_seconds": keepalive, "reconnect_url": None,
                                    "recovery_url": None}},
        }))
        beat = asyncio.create_task(self._keepalive(ws))
        try:
            async for _msg in ws:  # Twitch closes with 4001 when a client sends anything
                await ws.close(code=4001, message=b"client sent inbound traffic")
                break
        finally:
            beat.cancel()
            with self._cond:
                self._sessions.pop(session_id, None)
                self._session_subs.pop(session_id, None)  # Twitch disables them
                self._cond.notify_all()
        return ws

    async def _keepalive(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.keepalive_s)
            if not ws.closed:
                await ws.send_str(json.dumps({"metadata": {"message_id": str(uuid.uuid4()),
                                                           "message_type": "session_keepalive",
                                                           "message_timestamp": _now()}, "payload": {}}))

    async def _send_chat(self, user_id: str, login: str, text: str, broadcaster_id: str,
                         badges: tuple[str, ...]) -> int:
        sent = 0
        owner = self.users[broadcaster_id]
        for session_id, subs in list(self._session_subs.items()):
            ws = self._sessions.get(session_id)
            for sub in subs:
                if (ws is None or ws.closed or sub["type"] != "channel.chat.message"
                        or sub["condition"].get("broadcaster_user_id") != broadcaster_id):
                    continue
                event = {
                    "broadcaster_user_id": owner.user_id, "broadcaster_user_login": owner.login,
                    "broadcaster_user_name": owner.login.title(),
                    "source_broadcaster_user_id": None, "source_broadcaster_user_login": None,
                    "source_broadcaster_user_name": None,
                    "chatter_user_id": user_id, "chatter_user_login": login, "chatter_user_name": login.title(),
                    "message_id": str(uuid.uuid4()), "source_message_id": None, "is_source_only": None,
                    "message": {"text": text, "fragments": [{"type": "text", "text": text, "cheermote": None,
                                                             "emote": None, "mention": None}]},
                    "color": "#00FF7F",
                    "badges": [{"set_id": b, "id": "1", "info": ""} for b in badges],
                    "source_badges": None,
                    "message_type": "text", "cheer": None, "reply": None,
                    "channel_points_custom_reward_id": None, "channel_points_animation_id": None,
                }
                await ws.send_str(json.dumps({
                    "metadata": {"message_id": str(uuid.uuid4()), "message_type": "notification",
                                 "message_timestamp": _now(), "subscription_type": "channel.chat.message",
                                 "subscription_version": "1"},
                    "payload": {"subscription": sub, "event": event},
                }))
                sent += 1
        return sent

    async def _drop(self, code: int) -> int:
        sockets = list(self._sessions.values())
        for ws in sockets:
            await ws.close(code=code, message=b"internal server error")
        return len(sockets)


@pytest.fixture(autouse=True)
def restore_twitchio_endpoints():
    """The bot points twitchio at the fake process-wide (apply_endpoints); put the real endpoints back.

    Autouse in every test module that imports it.
    """
    saved = (Route.BASE, Route.ID_BASE, tio_websockets.WSS)
    yield
    Route.BASE, Route.ID_BASE, tio_websockets.WSS = saved


def poll(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate()`` comes true within ``timeout`` seconds (checked every 5 ms)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
