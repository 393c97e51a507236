"""The reader's language through the real dispatcher: Telegram's language_code, then
/language, which is stored on the profile and wins from then on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import User
from bot.telegram.callbacks import LanguageCallback
from tests import factories as f
from tests.fakes import FakeBotAPI


async def test_telegram_language_code_picks_the_catalog(feed: Any, fake_api: FakeBotAPI) -> None:
    ivan = f.user(id=601, first_name="Иван", language_code="ru")
    await feed(f.message_update(f.message("/start", from_user=ivan, chat=f.private_chat(ivan))))
    text = (await fake_api.wait_for_call("sendMessage")).params["text"]
    assert text.startswith("Привет, Иван!")
    assert "/language — Выбрать язык" in text


async def test_unknown_language_code_falls_back_to_english(feed: Any, fake_api: FakeBotAPI) -> None:
    hans = f.user(id=602, first_name="Hans", language_code="de")
    await feed(f.message_update(f.message("/help", from_user=hans, chat=f.private_chat(hans))))
    assert (
        "/start — Start and see what I can do"
        in (await fake_api.wait_for_call("sendMessage")).params["text"]
    )


async def test_language_choice_is_stored_and_wins_over_telegram(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    anna = f.user(id=603, first_name="Anna", language_code="en")
    chat = f.private_chat(anna)
    await feed(f.message_update(f.message("/language", from_user=anna, chat=chat)))
    menu = await fake_api.wait_for_call("sendMessage")
    assert menu.params["text"] == "Choose the language I speak:"
    buttons = [b["text"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["English", "Русский", "As in my Telegram app"]

    choose_ru = LanguageCallback(code="ru").pack()
    await feed(f.callback_query_update(anna, fake_api.sent_messages(603)[-1], choose_ru))
    edit = await fake_api.wait_for_call("editMessageText")
    assert edit.params["text"] == "Готово: буду говорить с вами по-русски."
    async with db() as session:
        user = await session.get(User, 603)
    assert user is not None
    assert user.ui_language == "ru"

    fake_api.reset_calls()
    await feed(f.message_update(f.message("/help", from_user=anna, chat=chat)))
    assert "/start — Начать" in (await fake_api.wait_for_call("sendMessage")).params["text"]

    # Back to "as in Telegram": English again.
    auto = LanguageCallback(code="auto").pack()
    await feed(f.callback_query_update(anna, fake_api.sent_messages(603)[-1], auto))
    async with db() as session:
        user = await session.get(User, 603)
    assert user is not None
    assert user.ui_language is None


async def test_forged_language_code_changes_nothing(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    eve = f.user(id=604, first_name="Eve")
    await feed(f.message_update(f.message("/language", from_user=eve, chat=f.private_chat(eve))))
    await fake_api.wait_for_call("sendMessage")
    forged = LanguageCallback(code="xx").pack()
    await feed(f.callback_query_update(eve, fake_api.sent_messages(604)[-1], forged))
    alert = await fake_api.wait_for_call("answerCallbackQuery")
    assert alert.params["show_alert"] is True
    async with db() as session:
        user = await session.get(User, 604)
    assert user is not None
    assert user.ui_language is None
