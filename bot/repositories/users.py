"""The users and chats the bot knows: their profiles as Telegram last described them,
a user's /language choice, a chat's A2T mode. Plain values out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import A2TMode
from bot.db.models import Chat, User
from bot.domain.dto import ChatInfo, UserProfile, full_name
from bot.repositories.upsert import upsert

_USER_FIELDS = ("is_bot", "first_name", "last_name", "username", "language_code", "is_premium")
_CHAT_FIELDS = ("type", "title", "username")


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, profile: UserProfile) -> None:
        """Create or refresh a user's profile (no write, and no row lock, when nothing
        changed)."""
        values = profile.model_dump(include={"id", *_USER_FIELDS})
        await upsert(
            self.session,
            User,
            {**values, "updated_at": utcnow()},
            conflict=["id"],
            update=[*_USER_FIELDS, "updated_at"],
            unless_same=_USER_FIELDS,
        )

    async def full_name(self, user_id: int) -> str | None:
        """The user's name as Telegram shows it; None for a user the bot never met."""
        row = (
            await self.session.execute(
                select(User.first_name, User.last_name).where(User.id == user_id)
            )
        ).first()
        return full_name(row.first_name, row.last_name) if row else None

    async def chosen_languages(self) -> dict[int, str]:
        """Every user's /language choice (users who chose none are not listed)."""
        rows = await self.session.execute(
            select(User.id, User.ui_language).where(User.ui_language.is_not(None))
        )
        return {user_id: language for user_id, language in rows if language}

    async def set_ui_language(self, user_id: int, language: str | None) -> None:
        await self.session.execute(
            update(User).where(User.id == user_id).values(ui_language=language, updated_at=utcnow())
        )


class ChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, chat: ChatInfo) -> None:
        """Create or refresh a chat (no write when nothing changed)."""
        await upsert(
            self.session,
            Chat,
            {**chat.model_dump(), "updated_at": utcnow()},
            conflict=["id"],
            update=[*_CHAT_FIELDS, "updated_at"],
            unless_same=_CHAT_FIELDS,
        )

    async def known(self, chat_id: int) -> bool:
        return await self.session.scalar(select(Chat.id).where(Chat.id == chat_id)) is not None

    async def a2t_mode(self, chat_id: int) -> A2TMode | None:
        """The chat's transcription mode; None for a chat the bot does not know."""
        mode: A2TMode | None = await self.session.scalar(
            select(Chat.a2t_mode).where(Chat.id == chat_id)
        )
        return mode

    async def set_a2t_mode(self, chat_id: int, mode: A2TMode) -> bool:
        """False when the bot does not know the chat."""
        result: Any = await self.session.execute(
            update(Chat).where(Chat.id == chat_id).values(a2t_mode=mode)
        )
        return bool(result.rowcount)
