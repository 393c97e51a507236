"""aiogram objects -> the services' validated DTOs."""

from __future__ import annotations

from aiogram import types

from bot.services.dto import ChatInfo, UserProfile


def user_profile(user: types.User) -> UserProfile:
    return UserProfile(
        id=user.id,
        is_bot=user.is_bot,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        is_premium=user.is_premium,
    )


def chat_info(chat: types.Chat) -> ChatInfo:
    return ChatInfo.model_validate(
        {"id": chat.id, "type": chat.type, "title": chat.title, "username": chat.username}
    )
