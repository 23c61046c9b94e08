"""The Twitch side of chat control: a thin twitchio 3 bot on the EventSub code path.

The bot subscribes to ``channel.chat.message`` for the broadcaster's channel over the
EventSub websocket, turns every message that starts with ``!`` into a
:class:`~stream.chat.message.ChatMessage` for the :class:`CommandCenter`, and posts the
replies through an :class:`OutgoingQueue` (Twitch allows about 20 messages per 30 s).

Secrets: the client secret comes from the environment (``TWITCH_CLIENT_SECRET``); user
tokens from the token file (:mod:`~stream.chat.tokens`, mode 0600) and/or the
``TWITCH_BOT_TOKEN`` / ``TWITCH_BOT_REFRESH_TOKEN`` environment variables.  They are never
logged: the filter of :mod:`~stream.chat.twitch` blanks them out of every record.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import twitchio
from twitchio import eventsub
from twitchio.ext import commands

from engine.errors import ConfigError, DreamError
from stream.chat.dispatcher import CommandCenter
from stream.chat.message import ChatMessage
from stream.chat.outgoing import OutgoingQueue
from stream.chat.rewards import RewardDesk
from stream.chat.tokens import read_token_file, write_token_file
from stream.chat.twitch import SECRETS, apply_endpoints, describe_error, guard_loggers, redact
from stream.io.log_limit import LogLimit
from stream.settings.twitch import TwitchSettings

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the bot


class DreamBot(commands.Bot):
    """twitchio bot that feeds chat to a :class:`CommandCenter` and posts its replies.

    Every ``pump_s`` seconds (and right after a command) it calls ``center.tick`` and sends
    what the :class:`OutgoingQueue` allows.  ``clock`` must be the clock the pipeline uses
    for ``LiveControls.active_until`` (``time.monotonic``).
    """

    def __init__(
        self,
        settings: TwitchSettings,
        center: CommandCenter,
        *,
        client_secret: str,
        outgoing: OutgoingQueue | None = None,
        clock: Callable[[], float] = time.monotonic,
        pump_s: float = 0.2,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        SECRETS.add(client_secret)
        guard_loggers()
        super().__init__(
            client_id=settings.client_id,
            client_secret=client_secret,
            bot_id=settings.bot_id,
            owner_id=settings.broadcaster_id,
            prefix="!",
        )
        self.settings = settings
        self.center = center
        self.outgoing = outgoing or OutgoingQueue()
        self.clock = clock
        self.pump_s = pump_s
        self._on_ready = on_ready
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self.sent = 0
        self._said = LogLimit(logger)  # replies Twitch refuses: a line a minute per kind, with a count
        self.desk: RewardDesk | None = None
        if settings.rewards:
            self.desk = RewardDesk(self, center, settings.rewards, broadcaster_id=settings.broadcaster_id,
                                   rewards_first=settings.rewards_first, clock=clock, describe=describe_error)

    def __repr__(self) -> str:
        return (f"DreamBot(client_id={self.settings.client_id!r}, bot_id={self.settings.bot_id!r}, "
                f"broadcaster_id={self.settings.broadcaster_id!r})")

    # -- tokens ---------------------------------------------------------------------

    async def load_tokens(self, path: str | None = None) -> None:
        entries = read_token_file(self.settings.token_path)
        env_token = os.environ.get(self.settings.bot_token_env, "").strip()
        if env_token:
            refresh = os.environ.get(self.settings.bot_refresh_env, "").strip()
            entries["env"] = {"token": env_token, "refresh": refresh}
        for key, entry in entries.items():
            SECRETS.add(entry.get("token"), entry.get("refresh"))
            try:
                await self.add_token(entry["token"], entry.get("refresh", ""))
            except twitchio.HTTPException as e:
                logger.warning("Twitch token for user %s was refused (HTTP %s) and could not be refreshed; "
                               "run 'dreamstream twitch-login'", key, e.status)
        if self.settings.bot_id not in self.tokens:
            logger.warning("no valid Twitch token for the bot account %s; run 'dreamstream twitch-login'",
                           self.settings.bot_id)
        for entry in self.tokens.values():
            SECRETS.add(entry["token"], entry["refresh"])

    async def save_tokens(self, path: str | None = None) -> None:
        target = self.settings.token_path
        current = dict(self.tokens)
        if target is None or not current:
            return
        try:
            merged = read_token_file(target)
        except ConfigError:
            merged = {}
        merged.update({k: dict(v) for k, v in current.items()})
        try:
            write_token_file(target, merged)
        except OSError as e:
            logger.warning("could not save Twitch tokens to %s: %s", target, e.strerror)

    async def event_token_refreshed(self, payload: twitchio.TokenRefreshedPayload) -> None:
        SECRETS.add(payload.token, payload.refresh_token)
        await self.save_tokens()

    # -- lifecycle --------------------------------------------------------------------

    async def setup_hook(self) -> None:
        sub = eventsub.ChatMessageSubscription(broadcaster_user_id=self.settings.broadcaster_id,
                                               user_id=self.settings.bot_id)
        await self.subscribe_websocket(payload=sub)
        if self.desk is not None:
            await self.desk.setup()
        self._pump_task = asyncio.create_task(self._pump(), name="twitch-chat-pump")

    async def event_ready(self) -> None:
        logger.info("Twitch chat control connected to channel %s",
                    self.settings.channel or self.settings.broadcaster_id)
        if self._on_ready is not None:
            self._on_ready()

    async def close(self, **options: Any) -> None:
        if self.desk is not None:
            with contextlib.suppress(Exception):
                await self.desk.close()  # refunds what still waits
                await self._flush_replies()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
            self._pump_task = None
        await super().close(**options)

    # -- chat -------------------------------------------------------------------------

    async def event_message(self, payload: twitchio.ChatMessage) -> None:
        chatter = payload.chatter
        if chatter.id == self.bot_id or payload.source_broadcaster is not None:
            return  # our own replies; shared-chat messages from other channels
        text = payload.text or ""
        if not text.lstrip().startswith("!"):
            return
        msg = ChatMessage(
            user_id=str(chatter.id),
            user_name=str(chatter.name or chatter.display_name or chatter.id),
            text=text,
            is_mod=bool(chatter.moderator),
            is_broadcaster=str(chatter.id) == self.settings.broadcaster_id or bool(chatter.broadcaster),
        )
        replies = self.center.handle(msg, self.clock())
        if replies and self.settings.reply:
            for reply in replies:
                self.outgoing.put(reply)
            self._wake.set()

    async def event_custom_redemption_add(self, payload: twitchio.ChannelPointsRedemptionAdd) -> None:
        if self.desk is None:
            return
        replies = self.desk.redeemed(payload)
        if replies and self.settings.reply:
            for reply in replies:
                self.outgoing.put(reply)
        self._wake.set()

    async def _flush_replies(self) -> None:
        channel = self.create_partialuser(self.settings.broadcaster_id)
        for text in self.center.drain_announcements():
            if self.settings.reply:
                self.outgoing.put(text)
        for text in self.outgoing.pop_ready(self.clock()):
            await self._send(channel, text)

    async def _pump(self) -> None:
        channel = self.create_partialuser(self.settings.broadcaster_id)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.pump_s)
            self._wake.clear()
            try:
                now = self.clock()
                self.center.tick(now)
                if self.desk is not None:
                    await self.desk.settle()
                for text in self.center.drain_announcements():
                    if self.settings.reply:
                        self.outgoing.put(text)
                for text in self.outgoing.pop_ready(now):
                    await self._send(channel, text)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged (a line a minute)
                self._said.log(logging.ERROR, "pump failed", self.clock(), "Twitch chat pump failed; carrying on",
                               exc_info=True)

    async def _send(self, channel: twitchio.PartialUser, text: str) -> None:
        try:
            await channel.send_message(text, sender=self.settings.bot_id, token_for=self.settings.bot_id)
            self.sent += 1
        except twitchio.HTTPException as e:
            self._said.warning("replies refused", self.clock(), "Twitch refused a chat reply (HTTP %s)", e.status)
        except (twitchio.MessageRejectedError, ValueError) as e:
            self._said.warning("replies dropped", self.clock(), "Twitch dropped a chat reply: %s", redact(str(e))[:200])
        except (OSError, aiohttp.ClientError) as e:  # connection errors
            self._said.warning("replies unsent", self.clock(), "could not reach Twitch to send a chat reply: %s",
                               type(e).__name__)


# --------------------------------------------------------------------------- thread runner


class BotThread:
    """Runs a :class:`DreamBot` on its own asyncio loop in a daemon thread.

    ``wait_ready(timeout)`` waits until the bot is connected and subscribed; ``error``
    holds the exception that stopped it, if any; ``stop()`` closes it cleanly (tokens saved)
    and joins the thread.  A bot that fails to start only logs: the stream carries on.
    """

    def __init__(self, settings: TwitchSettings, center: CommandCenter, *, client_secret: str,
                 outgoing: OutgoingQueue | None = None, clock: Callable[[], float] = time.monotonic,
                 pump_s: float = 0.2) -> None:
        self.settings = settings
        self.center = center
        self.outgoing = outgoing or OutgoingQueue()
        self._client_secret = client_secret
        self._clock = clock
        self._pump_s = pump_s
        self._ready = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.bot: DreamBot | None = None
        self.error: BaseException | None = None

    def __repr__(self) -> str:
        channel = self.settings.channel or self.settings.broadcaster_id
        return f"BotThread(channel={channel!r}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> BotThread:
        if self._thread is not None:
            raise RuntimeError("BotThread already started")
        self._thread = threading.Thread(target=self._run, name="twitch-bot", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once connected; False on timeout or when the bot stopped first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready.is_set() and not self._done.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._ready.wait(0.05 if left is None else min(0.05, left))
        return self._ready.is_set() and not self._done.is_set()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            asyncio.set_event_loop(loop)
            self._task = loop.create_task(self._main())
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # noqa: BLE001 - reported, the stream carries on
            self.error = DreamError(f"Twitch chat bot stopped: {describe_error(e)}")
            logger.error("%s", self.error)
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._done.set()

    async def _main(self) -> None:
        apply_endpoints(self.settings)
        self.bot = DreamBot(self.settings, self.center, client_secret=self._client_secret,
                            outgoing=self.outgoing, clock=self._clock, pump_s=self._pump_s,
                            on_ready=self._ready.set)
        async with self.bot:
            await self.bot.start(with_adapter=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the bot (saving tokens) and join the thread; safe to call more than once."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not self._done.is_set():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("Twitch bot thread did not stop within %gs", timeout)


def run_bot_in_thread(settings: TwitchSettings, center: CommandCenter, *, client_secret: str | None = None,
                      outgoing: OutgoingQueue | None = None, clock: Callable[[], float] = time.monotonic,
                      pump_s: float = 0.2) -> BotThread:
    """Start the chat bot in a daemon thread; returns its :class:`BotThread` (call ``stop()``).

    ``client_secret`` defaults to the environment variable named in ``settings``; a missing
    secret raises :class:`ConfigError` here, before any thread starts.
    """
    secret = client_secret or settings.client_secret()
    return BotThread(settings, center, client_secret=secret, outgoing=outgoing, clock=clock,
                     pump_s=pump_s).start()
