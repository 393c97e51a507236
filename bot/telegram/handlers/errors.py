"""Errors, routed: domain errors become the user's answer; anything else is logged
with its stack and context, and the user gets a short apology.

These run outside the per-update middlewares (aiogram's ErrorsMiddleware is the
outermost one), so the update's database work has already been rolled back.
"""

from __future__ import annotations

import structlog
from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, ErrorEvent, Message

from bot.errors import UserFacingError
from bot.log import get_logger

log = get_logger(__name__)

SORRY = "Something went wrong on my side. It has been logged; please try again later."


async def on_user_error_message(event: ErrorEvent, message: Message) -> None:
    await message.reply(str(event.exception))


async def on_user_error_callback(event: ErrorEvent, query: CallbackQuery) -> None:
    await query.answer(str(event.exception), show_alert=True)


async def on_unexpected_error(event: ErrorEvent) -> None:
    update = event.update
    with structlog.contextvars.bound_contextvars(
        update_id=update.update_id, event_type=update.event_type
    ):
        log.error("update failed", exc_info=event.exception)
    if update.message and update.message.chat.type == "private":
        await update.message.answer(SORRY)
    elif update.callback_query:
        await update.callback_query.answer(SORRY, show_alert=True)


def create_router() -> Router:
    router = Router(name="errors")
    user_error = ExceptionTypeFilter(UserFacingError)
    router.errors.register(on_user_error_message, user_error, F.update.message.as_("message"))
    router.errors.register(on_user_error_callback, user_error, F.update.callback_query.as_("query"))
    router.errors.register(on_unexpected_error)
    return router
