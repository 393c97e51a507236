"""A karma sanction applied in, or lifted from, the Telegram chat. The vote and its
record stand whatever Telegram says: they are committed before."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatPermissions

from bot.db.enums import KarmaSanction
from bot.log import get_logger
from bot.services.karma import Sanction

log = get_logger(__name__)
READ_ONLY = ChatPermissions(**dict.fromkeys(ChatPermissions.model_fields, False))
FULL = ChatPermissions(**dict.fromkeys(ChatPermissions.model_fields, True))


async def apply_sanction(bot: Bot, chat_id: int, user_id: int, sanction: Sanction) -> None:
    """Restrict or ban in Telegram; the vote and its record stand (they are committed) if
    Telegram refuses, e.g. when the bot is not an admin allowed to restrict or ban."""

    async def call() -> None:
        if sanction.kind is KarmaSanction.BAN:
            await bot.ban_chat_member(chat_id, user_id)
        else:
            await bot.restrict_chat_member(chat_id, user_id, READ_ONLY, until_date=sanction.until)

    await _in_telegram(
        call,
        ("karma sanction applied", "karma sanction refused by Telegram"),
        chat_id,
        user_id,
        sanction,
    )


async def lift_sanction(bot: Bot, chat_id: int, user_id: int, sanction: Sanction) -> None:
    """Undo a sanction in Telegram: unban (only if still banned), or give back the chat's
    default permissions."""

    async def call() -> None:
        if sanction.kind is KarmaSanction.BAN:
            await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
        else:
            chat = await bot.get_chat(chat_id)
            await bot.restrict_chat_member(chat_id, user_id, chat.permissions or FULL)

    await _in_telegram(
        call,
        ("karma sanction lifted", "karma sanction lift refused by Telegram"),
        chat_id,
        user_id,
        sanction,
    )


async def _in_telegram(
    call: Callable[[], Awaitable[None]],
    events: tuple[str, str],
    chat_id: int,
    user_id: int,
    sanction: Sanction,
) -> None:
    """Run the calls; log `events` (done, refused): a refusal is logged, not raised."""
    done, refused = events
    context = {"chat_id": chat_id, "target_id": user_id, "kind": sanction.kind.value}
    try:
        await call()
    except TelegramAPIError as error:
        log.warning(refused, **context, error=str(error))
        return
    log.info(done, **context)
