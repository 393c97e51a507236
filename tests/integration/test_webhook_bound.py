"""Webhook mode holds the same bound as polling: at most `limit` updates are handled at
once; the rest wait, unanswered, at the sender (Telegram), and none is dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from aiohttp import web

from bot.telegram.webhook import BoundedRequestHandler
from tests import factories as f
from tests.processes import free_port

LIMIT = 5
UPDATES = 30


async def test_webhook_updates_in_flight_stay_within_the_bound(bot: Bot) -> None:
    running, peak, handled = 0, 0, 0
    release = asyncio.Event()
    router = Router()

    @router.message()
    async def slow(message: Message) -> None:
        nonlocal running, peak, handled
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        handled += 1

    dp = Dispatcher()
    dp.include_router(router)
    app = web.Application()
    BoundedRequestHandler(dp, bot, limit=LIMIT).register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:

            async def deliver(n: int) -> int:
                update: dict[str, Any] = f.message_update(f.message(f"m{n}"), update_id=n + 1)
                async with http.post(f"http://127.0.0.1:{port}/hook", json=update) as response:
                    return response.status

            posts = [asyncio.create_task(deliver(n)) for n in range(UPDATES)]
            await asyncio.sleep(0.5)
            assert running == LIMIT
            answered = [p for p in posts if p.done()]
            assert len(answered) == LIMIT  # the rest wait for a slot, unanswered
            release.set()
            assert await asyncio.gather(*posts) == [200] * UPDATES
        async with asyncio.timeout(10):
            while handled < UPDATES:  # noqa: ASYNC110 - counting handled updates
                await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert peak == LIMIT
