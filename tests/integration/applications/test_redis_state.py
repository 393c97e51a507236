"""With REDIS__URL the questionnaire's state lives in Redis: a restarted bot (a new
dispatcher) or another replica continues where the applicant was."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_fsm_storage
from bot.services import AppDeps
from bot.settings import Settings
from bot.telegram.dispatcher import create_dispatcher
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import Flow


async def test_questionnaire_survives_a_restart(
    redis: Redis,
    redis_url: str,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    bot: Bot,
    fake_api: FakeBotAPI,
) -> None:
    ray = f.user(id=7701, first_name="Ray")

    def replica() -> Any:
        dispatcher = create_dispatcher(
            AppDeps(settings), db, storage=RedisStorage.from_url(redis_url)
        )

        async def feed(update: dict[str, Any]) -> Any:
            fake_api.observe(update)
            return await dispatcher.feed_raw_update(bot, update)

        return dispatcher, feed

    first, feed_first = replica()
    await Flow(feed_first, fake_api, db).say(ray, "/apply")
    await Flow(feed_first, fake_api, db).say(ray, "Ray, a gardener")
    await first.storage.close()

    second, feed_second = replica()  # a fresh process: nothing in memory
    flow = Flow(feed_second, fake_api, db)
    await flow.say(ray, "For the seed swaps")
    assert "Question 3 of 3" in flow.last_to(ray["id"])["text"]
    await flow.say(ray, "A neighbour")
    summary = flow.last_to(ray["id"])["text"]
    assert "Ray, a gardener" in summary
    assert "For the seed swaps" in summary
    await second.storage.close()


async def test_conversation_state_in_redis_expires_after_its_last_step(
    redis: Redis,
    redis_url: str,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    bot: Bot,
    fake_api: FakeBotAPI,
) -> None:
    """An abandoned questionnaire does not stay in Redis forever: its keys carry
    REDIS__FSM_TTL_S, counted again from each step."""
    ttl = 300_000
    tuned = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"fsm_ttl_s": ttl})}
    )
    storage = create_fsm_storage(Redis.from_url(redis_url), tuned)
    dispatcher = create_dispatcher(AppDeps(tuned), db, storage=storage)

    async def feed(update: dict[str, Any]) -> Any:
        fake_api.observe(update)
        return await dispatcher.feed_raw_update(bot, update)

    rita = f.user(id=7702, first_name="Rita")
    flow = Flow(feed, fake_api, db)
    await flow.say(rita, "/apply")
    keys = sorted([key async for key in redis.scan_iter("fsm:*")])
    assert [key.rsplit(b":", 1)[-1] for key in keys] == [b"data", b"state"]
    for key in keys:
        assert ttl - 60 < await redis.ttl(key) <= ttl

    for key in keys:  # time passes...
        await redis.expire(key, 100)
    await flow.say(rita, "Rita, a beekeeper")  # ...and the next answer starts it again
    assert "Question 2 of 3" in flow.last_to(rita["id"])["text"]
    for key in keys:
        assert ttl - 60 < await redis.ttl(key) <= ttl
    await storage.close()
