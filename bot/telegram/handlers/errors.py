"""Errors, routed: domain errors become the user's answer in their language; anything
else is logged with its stack and context, and the user gets a short apology.

These run outside the per-update middlewares (aiogram's ErrorsMiddleware is the
outermost one), so the update's database work has already been rolled back and the
reader's language is taken from the cache or Telegram (`locale_of`).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, Chat, ErrorEvent, Message, User

from bot.errors import UserFacingError
from bot.i18n import Catalogs, ChosenLanguages, _
from bot.log import get_logger
from bot.telegram.filters import When
from bot.telegram.middlewares import locale_of
from bot.telegram.text_limits import ALERT_LIMIT, cut

log = get_logger(__name__)


def _sorry() -> str:
    return _("Something went wrong on my side. It has been logged; please try again later.")


def _sender(event: ErrorEvent) -> User | None:
    user = getattr(event.update.event, "from_user", None)
    return user if isinstance(user, User) else None


def _chat(event: ErrorEvent) -> Chat | None:
    inner = event.update.event
    chat = getattr(inner, "chat", None) or getattr(getattr(inner, "message", None), "chat", None)
    return chat if isinstance(chat, Chat) else None


async def on_user_error_message(
    event: ErrorEvent, message: Message, i18n: Catalogs, chosen_languages: ChosenLanguages
) -> None:
    assert isinstance(event.exception, UserFacingError)
    with locale_of(i18n, chosen_languages, message.from_user):
        await message.reply(event.exception.render(_, escape_html=True))


async def on_user_error_callback(
    event: ErrorEvent, query: CallbackQuery, i18n: Catalogs, chosen_languages: ChosenLanguages
) -> None:
    assert isinstance(event.exception, UserFacingError)
    with locale_of(i18n, chosen_languages, query.from_user):
        # Alerts are plain text (no HTML escaping) of at most 200 characters.
        text = cut(event.exception.render(_, escape_html=False), ALERT_LIMIT)
        await query.answer(text, show_alert=True)


async def on_unexpected_error(event: ErrorEvent, **data: Any) -> None:
    update = event.update
    sender = _sender(event)
    chat = _chat(event)
    # Ids only: this line also reaches the maintainers' error chat (bot/error_reports.py).
    with structlog.contextvars.bound_contextvars(
        update_id=update.update_id,
        event_type=update.event_type,
        chat_id=chat.id if chat is not None else None,
        user_id=sender.id if sender is not None else None,
    ):
        log.error("update failed", exc_info=event.exception)
    with locale_of(data["i18n"], data["chosen_languages"], sender):
        if update.message and update.message.chat.type == "private":
            await update.message.answer(_sorry())
        elif update.callback_query:
            await update.callback_query.answer(_sorry(), show_alert=True)


def create_router() -> Router:
    router = Router(name="errors")
    user_error = ExceptionTypeFilter(UserFacingError)
    router.errors.register(on_user_error_message, user_error, When(F.update.message.as_("message")))
    router.errors.register(
        on_user_error_callback, user_error, When(F.update.callback_query.as_("query"))
    )
    router.errors.register(on_unexpected_error)
    return router
