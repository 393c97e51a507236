"""The embedded default (SQLite): roster updates, activity, /members paging with filters
and /forgetme work there too (row values, upserts, UPDATE ... RETURNING)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import MemberStatus
from bot.db.models import User
from bot.services import AppDeps
from bot.settings import DbSettings
from bot.telegram.dispatcher import create_dispatcher
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.roster.conftest import COMMUNITY, MODERATOR, membership
from tests.integration.roster.test_members import buttons, ids_of, total_of

T0 = 1_767_225_600


@pytest.fixture
async def lite(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(DbSettings(url=SecretStr(sqlite_url)))
    yield create_session_factory(engine)
    await engine.dispose()


async def test_roster_on_sqlite(
    make_settings: Any,
    sqlite_url: str,
    lite: async_sessionmaker[AsyncSession],
    bot: Bot,
    fake_api: FakeBotAPI,
) -> None:
    settings = make_settings(
        sqlite_url,
        community={"chat_id": COMMUNITY["id"]},
        roster={"page_size": 3},
        moderation={"admin_ids": [MODERATOR["id"]]},
    )
    dp = create_dispatcher(AppDeps(settings), lite)

    async def feed(update: dict[str, Any]) -> None:
        fake_api.observe(update)
        await dp.feed_raw_update(bot, update)

    people = [f.user(id=700 + i, first_name=f"Ann{i}" if i % 2 else f"Bob{i}") for i in range(8)]
    for i, person in enumerate(people):
        left, member = f.chat_member(person, "left"), f.chat_member(person)
        await feed(f.chat_member_update(COMMUNITY, person, left, member, date=T0 + i))
    banned = f.chat_member(people[0], "kicked")
    await feed(f.chat_member_update(COMMUNITY, MODERATOR, f.chat_member(people[0]), banned))
    for minute in range(3):
        msg = f.message("hi", from_user=people[1], chat=COMMUNITY, date=T0 + 100 + minute * 60)
        await feed(f.message_update(msg))
    row = await membership(lite, COMMUNITY["id"], 701)
    assert row is not None
    assert row.last_seen_at is not None
    assert row.last_seen_at.timestamp() == T0 + 100  # throttled: later messages not written
    banned_row = await membership(lite, COMMUNITY["id"], 700)
    assert banned_row is not None
    assert banned_row.status == MemberStatus.BANNED

    chat = f.private_chat(MODERATOR)
    await feed(
        f.message_update(f.message("/members status=active q=ann", from_user=MODERATOR, chat=chat))
    )
    first = await fake_api.wait_for_call("sendMessage")
    assert total_of(first) == 4
    assert ids_of(first) == [707, 705, 703]
    message = fake_api.sent_messages(MODERATOR["id"])[-1]
    await feed(f.callback_query_update(MODERATOR, message, buttons(first)["Next ›"]))
    edit = await fake_api.wait_for_call("editMessageText")
    assert ids_of(edit) == [701]
    message = fake_api.messages[(MODERATOR["id"], message["message_id"])]
    mark = len(fake_api.calls)
    await feed(f.callback_query_update(MODERATOR, message, buttons(edit)["‹ Previous"]))
    back = await fake_api.wait_for_call("editMessageText", after=mark)
    assert ids_of(back) == [707, 705, 703]

    # The export streams from a cursor there too; a short term matches name starts.
    mark = len(fake_api.calls)
    await feed(f.message_update(f.message("/members export q=b", from_user=MODERATOR, chat=chat)))
    document = await fake_api.wait_for_call("sendDocument", after=mark)
    lines = document.files["document"].decode("utf-8-sig").splitlines()
    assert [int(line.split(",")[0].strip('"')) for line in lines[1:]] == [706, 704, 702, 700]

    ann = people[1]
    await feed(f.message_update(f.message("/forgetme", from_user=ann, chat=f.private_chat(ann))))
    prompt = fake_api.sent_messages(ann["id"])[-1]
    confirm = ForgetCallback(action=ForgetAction.CONFIRM, user_id=ann["id"]).pack()
    mark = len(fake_api.calls)
    await feed(f.callback_query_update(ann, prompt, confirm))
    report = (await fake_api.wait_for_call("editMessageText", after=mark)).params["text"]
    assert "• last-seen time in 1 chat" in report
    async with lite() as session:
        user = await session.get(User, ann["id"])
    assert user is not None
    assert (user.first_name, user.username) == ("—", None)
