"""Who counts as an admin of a chat: its Telegram creator/administrators, plus the
deployment's MODERATION__ADMIN_IDS everywhere."""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatMemberStatus

from bot.settings import Settings

ADMIN_STATUSES = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR}


async def is_chat_admin(bot: Bot, settings: Settings, chat_id: int, user_id: int) -> bool:
    if user_id in settings.moderation.admin_ids:
        return True
    if chat_id > 0:  # a private chat has no admins
        return False
    member = await bot.get_chat_member(chat_id, user_id)
    return member.status in ADMIN_STATUSES
