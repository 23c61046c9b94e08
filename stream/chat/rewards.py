"""Channel-point rewards on the Twitch side: create or reuse them, take redemptions, settle them.

At start the desk fetches the rewards this app may manage (the ones its client id created),
reuses those whose title matches ``twitch.rewards`` (updating cost, prompt and limits when the
config changed) and creates the others, all with the broadcaster's token (scope
``channel:manage:redemptions``). It then subscribes to
``channel.channel_points_custom_reward_redemption.add``.  A redemption's input goes to
:meth:`CommandCenter.redeem`; what the command layer settles is marked FULFILLED or CANCELED
(which refunds the points) through Helix.  A desk that cannot set up only logs: chat carries on.
A redemption the command layer never settles (it cannot happen; a bound all the same) is forgotten
:data:`PENDING_GRACE_S` after its longest wait, and at most :data:`MAX_PENDING` are kept: Twitch's own
redemption queue still shows it to the streamer.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import twitchio
from twitchio import eventsub

from stream.chat.dispatcher import CommandCenter
from stream.io.log_limit import LogLimit
from stream.settings.rewards import RewardSettings

logger = logging.getLogger(__name__)

#: Seconds past a redemption's ``max_wait_s`` after which one never settled is forgotten.
PENDING_GRACE_S = 60.0
#: Redemptions waiting to be settled, at most (the oldest forgotten first).
MAX_PENDING = 10_000


class RewardDesk:
    """The rewards of one channel for a running bot (``bot`` is a twitchio client)."""

    def __init__(self, bot: Any, center: CommandCenter, rewards: tuple[RewardSettings, ...], *,
                 broadcaster_id: str, rewards_first: bool, clock: Callable[[], float],
                 describe: Callable[[BaseException], str]) -> None:
        self.bot = bot
        self.center = center
        self.wanted = rewards
        self.broadcaster_id = broadcaster_id
        self.rewards_first = rewards_first
        self.clock = clock
        self.describe = describe
        self.by_id: dict[str, RewardSettings] = {}  # reward id -> its settings
        self._pending: dict[str, tuple[Any, float]] = {}  # redemption id -> (the twitchio event, when to forget it)
        self._said = LogLimit(logger)
        self.ready = False

    async def setup(self) -> None:
        owner = self.bot.create_partialuser(self.broadcaster_id)
        try:
            mine = {r.title.lower(): r for r in await owner.fetch_custom_rewards(manageable=True)}
        except twitchio.HTTPException as e:
            logger.warning("channel-point rewards are off: %s; run 'dreamstream twitch-login --account "
                           "broadcaster' (it asks for channel:manage:redemptions)", self.describe(e))
            return
        for cfg in self.wanted:
            try:
                reward = mine.get(cfg.title.lower())
                if reward is None:
                    reward = await owner.create_custom_reward(
                        cfg.title, cfg.cost, prompt=cfg.prompt or None, background_color=cfg.color,
                        global_cooldown=cfg.cooldown_s or None, max_per_stream=cfg.max_per_stream or None)
                    logger.info("created the channel-point reward %r (%d points)", cfg.title, cfg.cost)
                elif _differs(reward, cfg):
                    reward = await reward.update(cost=cfg.cost, prompt=cfg.prompt, input_required=bool(cfg.prompt),
                                                 global_cooldown=cfg.cooldown_s, max_per_stream=cfg.max_per_stream)
                    logger.info("updated the channel-point reward %r (%d points)", cfg.title, cfg.cost)
                else:
                    logger.info("reusing the channel-point reward %r", cfg.title)
            except twitchio.HTTPException as e:
                extra = ""
                if e.status == 400 and "DUPLICATE" in str(getattr(e, "extra", "")).upper():
                    extra = "; a reward with that title exists that this app did not create: rename one of them"
                logger.warning("channel-point reward %r is off: %s%s", cfg.title, self.describe(e), extra)
                continue
            self.by_id[reward.id] = cfg
        if not self.by_id:
            return
        sub = eventsub.ChannelPointsRedeemAddSubscription(broadcaster_user_id=self.broadcaster_id)
        try:
            await self.bot.subscribe_websocket(payload=sub, token_for=self.broadcaster_id)
        except twitchio.HTTPException as e:
            logger.warning("channel-point redemptions are off: %s", self.describe(e))
            self.by_id.clear()
            return
        self.ready = True

    def redeemed(self, payload: twitchio.ChannelPointsRedemptionAdd) -> list[str]:
        """A redemption arrived: the replies for chat (the settling happens in :meth:`settle`)."""
        cfg = self.by_id.get(payload.reward.id)
        if cfg is None:
            return []  # someone else's reward
        now = self.clock()
        self._remember(payload, now + cfg.max_wait_s + PENDING_GRACE_S, now)
        user = payload.user
        return self.center.redeem(payload.id, str(user.id), str(user.name or user.display_name or user.id),
                                  cfg.command, payload.user_input or "", now,
                                  max_wait_s=cfg.max_wait_s, first=self.rewards_first)

    @property
    def pending(self) -> int:
        """Redemptions taken and not yet marked on Twitch."""
        return len(self._pending)

    def _remember(self, payload: Any, until: float, now: float) -> None:
        self._pending.pop(payload.id, None)
        self._pending[payload.id] = (payload, until)
        while len(self._pending) > MAX_PENDING:
            del self._pending[next(iter(self._pending))]
            self._said.warning("redemptions forgotten", now, "more than %d redemptions wait to be settled; "
                               "the oldest is left to Twitch's redemption queue", MAX_PENDING)

    def _forget_stale(self, now: float) -> None:
        stale = [rid for rid, (_, until) in self._pending.items() if now > until]
        for rid in stale:
            del self._pending[rid]
        if stale:
            self._said.warning("redemptions forgotten", now, "%d redemptions were never settled; they are left "
                               "to Twitch's redemption queue", len(stale))

    async def settle(self) -> None:
        """Mark what the command layer settled as FULFILLED or CANCELED on Twitch."""
        now = self.clock()
        for r in self.center.drain_settled():
            payload, _ = self._pending.pop(r.id, (None, 0.0))
            if payload is None:
                continue
            try:
                if r.status == "FULFILLED":
                    await payload.fulfill(token_for=self.broadcaster_id)
                else:
                    await payload.refund(token_for=self.broadcaster_id)
                logger.info("redemption %s of %s: %s", r.label, r.user_name, r.status)
            except twitchio.HTTPException as e:
                self._said.warning("marks refused", now, "could not mark a redemption %s: %s", r.status,
                                   self.describe(e))
            except (OSError, aiohttp.ClientError) as e:
                self._said.warning("marks unsent", now, "could not reach Twitch to mark a redemption %s: %s",
                                   r.status, type(e).__name__)
        self._forget_stale(now)

    async def close(self) -> None:
        """The stream stops: refund every redemption still waiting."""
        self.center.cancel_redemptions("the stream stopped")
        await self.settle()


def _differs(reward: Any, cfg: RewardSettings) -> bool:
    cooldown = reward.cooldown.seconds if reward.cooldown.enabled else 0
    per_stream = reward.max_per_stream.value if reward.max_per_stream.enabled else 0
    return (reward.cost != cfg.cost or (reward.prompt or "") != cfg.prompt or cooldown != cfg.cooldown_s
            or per_stream != cfg.max_per_stream)
