"""/start, /help and unknown commands through the real dispatcher and the fake Bot API."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import User
from bot.domain.dto import UserProfile
from bot.services import Services
from tests import factories as f
from tests.fakes import FakeBotAPI


async def test_start_greets_and_records_profile(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    alice = f.user(id=501, first_name="Alice", last_name="<Liddell>", username="alice")
    await feed(f.message_update(f.message("/start", from_user=alice, chat=f.private_chat(alice))))

    call = await fake_api.wait_for_call("sendMessage")
    assert call.params["chat_id"] == 501
    assert "Hello, Alice!" in call.params["text"]
    assert "/help" in call.params["text"]
    async with db() as session:
        user = await session.get(User, 501)
    assert user is not None
    assert (user.username, user.last_name, user.language_code) == ("alice", "<Liddell>", "en")


async def test_start_again_updates_profile_without_duplicates(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    before = f.user(id=502, first_name="Bob", username="bob_old")
    after = f.user(id=502, first_name="Robert", username="bob_new", language_code="ru")
    for who in (before, after):
        await feed(f.message_update(f.message("/start", from_user=who, chat=f.private_chat(who))))

    async with db() as session:
        count = await session.scalar(select(func.count()).select_from(User))
        user = await session.get(User, 502)
    assert count == 1
    assert user is not None
    assert (user.first_name, user.username, user.language_code) == ("Robert", "bob_new", "ru")


async def test_help_lists_commands(feed: Any, fake_api: FakeBotAPI) -> None:
    carol = f.user(id=503)
    await feed(f.message_update(f.message("/help", from_user=carol, chat=f.private_chat(carol))))
    call = await fake_api.wait_for_call("sendMessage")
    assert "/start" in call.params["text"]


@pytest.mark.parametrize("text", ["/help", "/help@test_bot", "/help@Test_Bot"])
async def test_help_in_a_group_lists_the_group_commands(
    feed: Any, fake_api: FakeBotAPI, text: str
) -> None:
    gina = f.user(id=507)
    group = f.group_chat()
    await feed(f.message_update(f.message(text, from_user=gina, chat=group)))
    call = await fake_api.wait_for_call("sendMessage")
    assert call.params["chat_id"] == group["id"]
    lines = call.params["text"].splitlines()
    assert "/karma — Your karma, or as a reply someone else's" in lines
    assert "/transcribe — Reply to a voice note to get it as text" in lines
    assert not any(line.startswith(("/apply", "/start")) for line in lines)  # private ones


async def test_help_for_another_bot_in_a_group_is_ignored(feed: Any, fake_api: FakeBotAPI) -> None:
    gina = f.user(id=507)
    await feed(f.message_update(f.message("/help@other_bot", from_user=gina, chat=f.group_chat())))
    assert fake_api.calls_of("sendMessage") == []


async def test_unknown_command_in_private_gets_clear_answer(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    dave = f.user(id=504)
    await feed(
        f.message_update(f.message("/frobnicate now", from_user=dave, chat=f.private_chat(dave)))
    )
    call = await fake_api.wait_for_call("sendMessage")
    assert "/frobnicate" in call.params["text"]
    assert "/help" in call.params["text"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_group_commands_for_other_bots_are_ignored(feed: Any, fake_api: FakeBotAPI) -> None:
    erin = f.user(id=505)
    group = f.group_chat()
    await feed(f.message_update(f.message("/frobnicate", from_user=erin, chat=group)))
    await feed(f.message_update(f.message("/frobnicate@other_bot", from_user=erin, chat=group)))
    assert fake_api.calls_of("sendMessage") == []

    await feed(f.message_update(f.message("/frobnicate@test_bot", from_user=erin, chat=group)))
    call = await fake_api.wait_for_call("sendMessage")
    assert call.params["chat_id"] == group["id"]


@pytest.fixture
def failing_router(dispatcher: Any) -> Router:
    """A handler that writes, then fails: the middleware must roll the write back."""
    router = Router(name="boom")

    @router.message(Command("boom"))
    async def cmd_boom(message: Message, services: Services) -> None:
        assert message.from_user is not None
        await services.roster.remember_user(
            UserProfile(id=message.from_user.id, first_name="Written")
        )
        raise RuntimeError("boom")

    dispatcher.include_router(router)
    # Ahead of the fallback router, which would answer /boom as unknown.
    dispatcher.sub_routers.insert(0, dispatcher.sub_routers.pop())
    return router


@pytest.mark.usefixtures("failing_router")
async def test_failed_update_is_rolled_back_and_user_gets_apology(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    frank = f.user(id=506)
    await feed(f.message_update(f.message("/boom", from_user=frank, chat=f.private_chat(frank))))
    call = await fake_api.wait_for_call("sendMessage")
    assert "went wrong" in call.params["text"]
    async with db() as session:
        assert await session.get(User, 506) is None


async def test_forged_button_data_gets_an_alert_and_changes_nothing(
    feed: Any, fake_api: FakeBotAPI
) -> None:
    dave = f.user(id=505)
    chat = f.private_chat(dave)
    await feed(f.message_update(f.message("/help", from_user=dave, chat=chat)))
    shown = fake_api.sent_messages(505)[-1]
    for data in ("a2t:zz:notanumber", "k:x:", "nobody-knows-this"):
        before = len(fake_api.calls)
        await feed(f.callback_query_update(dave, shown, data))
        answer = await fake_api.wait_for_call("answerCallbackQuery", after=before)
        assert answer.params["show_alert"] is True
        assert answer.params["text"] == "This button no longer works."
        assert [c.method for c in fake_api.calls[before:]] == ["answerCallbackQuery"]
