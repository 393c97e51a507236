"""RosterService: who the bot knows, kept current from Telegram's own data."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import Chat, User
from bot.repositories.upsert import upsert
from bot.services.dto import ChatInfo, UserProfile

_USER_FIELDS = ("is_bot", "first_name", "last_name", "username", "language_code", "is_premium")
_CHAT_FIELDS = ("type", "title", "username")


class RosterService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember_user(self, profile: UserProfile) -> None:
        """Create or refresh a user's profile from what Telegram just told us (no write,
        and no row lock, when nothing changed)."""
        values = profile.model_dump(include={"id", *_USER_FIELDS})
        await upsert(
            self.session,
            User,
            {**values, "updated_at": utcnow()},
            conflict=["id"],
            update=[*_USER_FIELDS, "updated_at"],
            unless_same=_USER_FIELDS,
        )

    async def remember_chat(self, chat: ChatInfo) -> None:
        await upsert(
            self.session,
            Chat,
            {**chat.model_dump(), "updated_at": utcnow()},
            conflict=["id"],
            update=[*_CHAT_FIELDS, "updated_at"],
            unless_same=_CHAT_FIELDS,
        )

    async def get_user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def ui_language(self, user_id: int) -> str | None:
        """The UI language the user chose with /language (None: not chosen)."""
        result = await self.session.execute(select(User.ui_language).where(User.id == user_id))
        return result.scalar_one_or_none()

    async def set_ui_language(self, user_id: int, language: str | None) -> None:
        await self.session.execute(
            update(User).where(User.id == user_id).values(ui_language=language, updated_at=utcnow())
        )
