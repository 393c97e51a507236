"""The webhook's request handler, with the same bound on updates in flight as polling.

aiogram's SimpleRequestHandler answers Telegram at once and handles each update in a
task of its own, without limit: a burst (or the backlog Telegram delivers after a
restart) would start thousands at once and time out on the database pool. Here a
request first waits for one of `limit` slots and is answered only then, so the excess
waits at Telegram, which keeps at most `max_connections` requests open per bot. A
request whose sender gave up meanwhile (Telegram will deliver it again) is dropped
unhandled, so it is not handled twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


class BoundedRequestHandler(SimpleRequestHandler):
    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, limit: int, **kwargs: Any) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, handle_in_background=True, **kwargs)
        self._slots = asyncio.Semaphore(limit)

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        update = await request.json(loads=bot.session.json_loads)
        await self._slots.acquire()
        if request.transport is None or request.transport.is_closing():
            self._slots.release()
            raise web.HTTPServiceUnavailable  # nobody is listening; Telegram retries
        task = asyncio.create_task(self._feed(bot, update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({}, dumps=bot.session.json_dumps)

    async def _feed(self, bot: Bot, update: dict[str, Any]) -> None:
        try:
            await self._background_feed_update(bot=bot, update=update)
        finally:
            self._slots.release()
