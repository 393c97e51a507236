"""chat_member / my_chat_member updates. The roster itself is written by RosterMiddleware
(before any handler, so a feature that handles these updates too never hides them from
the roster); registering here makes the bot ask Telegram for them (allowed_updates) and
keeps the moderators cache honest."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import ChatMemberUpdated

from bot.log import get_logger
from bot.settings import Settings
from bot.telegram.moderators import Moderators

log = get_logger(__name__)


async def on_member_change(
    event: ChatMemberUpdated, settings: Settings, moderators: Moderators
) -> None:
    if event.chat.id == settings.moderation.chat_id:
        # A promotion or demotion in the moderation chat changes who moderates.
        moderators.forget()


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
