"""chat_member / my_chat_member updates. The roster itself is written by RosterMiddleware
(before any handler, so a feature that handles these updates too never hides them from
the roster, and the moderators cache is refreshed there); registering handlers here makes
the bot ask Telegram for these updates (allowed_updates) and answers those no feature
claimed."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import ChatMemberUpdated

from bot.log import get_logger

log = get_logger(__name__)


async def on_member_change(event: ChatMemberUpdated) -> None:
    log.debug(
        "member changed",
        member_id=event.new_chat_member.user.id,
        new_status=event.new_chat_member.status,
    )


async def on_bot_membership(event: ChatMemberUpdated) -> None:
    log.info(
        "bot membership changed",
        old_status=event.old_chat_member.status,
        new_status=event.new_chat_member.status,
    )


def create_router() -> Router:
    router = Router(name="roster")
    router.chat_member.register(on_member_change)
    router.my_chat_member.register(on_bot_membership)
    return router
