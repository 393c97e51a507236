"""With REDIS__URL the questionnaire's state lives in Redis: a restarted bot (a new
dispatcher) or another replica continues where the applicant was."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
