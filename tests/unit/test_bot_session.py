"""BotSession sends what aiogram's own session sends, in a JSON body when it can."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import (
    BufferedInputFile,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)
from aiohttp import web

from bot.telegram.session import BotSession
from tests import factories as f
from tests.fakes import FakeBotAPI

GROUP = f.group_chat(id=-1_001_234)
DEFAULTS = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.set_chat(GROUP)
        fake.observe(f.message_update(f.message("hi", chat=GROUP, message_id=7)))  # replied to
        yield fake


async def _calls(
    api: FakeBotAPI, session_type: type[AiohttpSession]
) -> list[tuple[str, dict[str, Any]]]:
    session = session_type(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session, default=DEFAULTS)
    api.reset_calls()
    try:
        sent = await bot.send_message(
            GROUP["id"],
            "<b>+1</b> for Ann",
            reply_parameters=ReplyParameters(message_id=7),
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Cancel", callback_data="k:x:1")]]
            ),
            disable_notification=False,
        )
        assert sent.chat.id == GROUP["id"]
        await bot.restrict_chat_member(
            GROUP["id"],
            42,
            ChatPermissions(can_send_messages=False),
            until_date=datetime(2030, 1, 2, tzinfo=UTC),
        )
        await bot.ban_chat_member(GROUP["id"], 43, until_date=timedelta(days=400))
        await bot.send_document(GROUP["id"], BufferedInputFile(b"transcript", "t.txt"))
    finally:
        await bot.session.close()
    return [(c.method, {**c.params, "files": c.files}) for c in api.calls]


async def test_the_bot_api_receives_the_same_calls_as_from_aiogram_s_session(
    api: FakeBotAPI,
) -> None:
    ours, aiogram_s = await _calls(api, BotSession), await _calls(api, AiohttpSession)
    assert [method for method, _ in ours] == [
        "sendMessage",
        "restrictChatMember",
        "banChatMember",
        "sendDocument",
    ]
    assert ours[0] == aiogram_s[0]
    assert ours[1] == aiogram_s[1]
    assert ours[2][1].keys() == aiogram_s[2][1].keys()  # until_date: "now" moved on
    assert ours[3][1].keys() == aiogram_s[3][1].keys()  # "attach://<random>"
    assert ours[3][1]["files"] == aiogram_s[3][1]["files"] == {"document": b"transcript"}


async def test_calls_without_files_go_as_json_and_with_files_as_multipart() -> None:
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.content_type)
        await request.read()
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    session = BotSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}"))
    bot = Bot("1:token", session=session)
    try:
        await bot.delete_message(1, 2)
        await bot.set_chat_photo(1, BufferedInputFile(b"png", "p.png"))
    finally:
        await bot.session.close()
        await runner.cleanup()
    assert seen == ["application/json", "multipart/form-data"]
