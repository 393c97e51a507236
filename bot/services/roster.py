"""RosterService: who the bot knows, kept current from Telegram's own data.

Membership changes come from `chat_member`/`my_chat_member` updates and the new/left
chat members service messages; activity (last_seen_at) from ordinary group messages,
throttled by the Telegram layer. `/members` reads go through `RosterRepository`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import MemberRole, MemberStatus
from bot.domain.dto import ChatInfo, UserProfile
from bot.domain.member_filter import MemberFilter
from bot.errors import FeatureUnavailableError
from bot.log import get_logger
from bot.repositories.memberships import MembershipRepository
from bot.repositories.roster import (
    Direction,
    MemberCursor,
    MemberListing,
    MemberRow,
    RosterRepository,
)
from bot.repositories.users import ChatRepository, UserRepository
from bot.settings import Settings
from bot.texts import N_

log = get_logger(__name__)

# ChatMember.status as Telegram spells it.
TelegramStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
NOT_CONFIGURED = N_(
    "The community chat is not configured: set COMMUNITY__CHAT_ID to list its members."
)


class MemberChange(BaseModel):
    """A member's new state in a chat, as a chat_member update tells it."""

    model_config = ConfigDict(frozen=True)

    chat: ChatInfo
    user: UserProfile
    status: TelegramStatus
    is_member: bool = True  # restricted members: still in the chat?
    at: datetime


def member_state(status: TelegramStatus, is_member: bool) -> MemberStatus:
    if status in ("creator", "administrator", "member"):
        return MemberStatus.ACTIVE
    if status == "restricted":
        return MemberStatus.RESTRICTED if is_member else MemberStatus.LEFT
    return MemberStatus.BANNED if status == "kicked" else MemberStatus.LEFT


class RosterService:
    def __init__(self, session: AsyncSession, settings: Settings | None = None) -> None:
        self.session = session
        # Without settings (e.g. inside another service): no configured moderators and
        # no community chat; the profile methods need none.
        self.settings = settings
        self.memberships = MembershipRepository(session)
        self.members = RosterRepository(session)
        self.users = UserRepository(session)
        self.chats = ChatRepository(session)

    async def remember_user(self, profile: UserProfile) -> None:
        """Create or refresh a user's profile from what Telegram just told us."""
        await self.users.remember(profile)

    async def remember_chat(self, chat: ChatInfo) -> None:
        await self.chats.remember(chat)

    async def user_name(self, user_id: int) -> str | None:
        """A known user's full name; None for one the bot never met."""
        return await self.users.full_name(user_id)

    async def chosen_languages(self) -> dict[int, str]:
        """Every user's /language choice (users who chose none are not listed)."""
        return await self.users.chosen_languages()

    async def set_ui_language(self, user_id: int, language: str | None) -> None:
        await self.users.set_ui_language(user_id, language)

    # ------------------------------------------------------------------ roster updates
    def role_of(self, user_id: int, status: TelegramStatus) -> MemberRole:
        if status in ("creator", "administrator"):
            return MemberRole.ADMIN
        if self.settings and user_id in self.settings.moderation.admin_ids:
            return MemberRole.MODERATOR
        return MemberRole.MEMBER

    async def record_change(self, change: MemberChange) -> MemberStatus:
        """A chat_member/my_chat_member update: status, role and timestamps."""
        await self.remember_chat(change.chat)
        await self.remember_user(change.user)
        status = member_state(change.status, change.is_member)
        role = self.role_of(change.user.id, change.status)
        await self.memberships.record(
            change.chat.id, change.user.id, status, role=role, at=change.at
        )
        log.info(
            "roster change",
            member_id=change.user.id,
            telegram_status=change.status,
            status=status.value,
            role=role.value,
        )
        return status

    async def record_joined(self, chat: ChatInfo, users: list[UserProfile], at: datetime) -> None:
        """A new_chat_members service message."""
        await self.remember_chat(chat)
        for user in users:
            await self.remember_user(user)
            role = self.role_of(user.id, "member")
            await self.memberships.record(chat.id, user.id, MemberStatus.ACTIVE, role=role, at=at)

    async def record_left(self, chat: ChatInfo, user: UserProfile, at: datetime) -> None:
        """A left_chat_member service message (a ban sends one too: banned stays banned)."""
        await self.remember_chat(chat)
        await self.remember_user(user)
        await self.memberships.record(chat.id, user.id, MemberStatus.LEFT, at=at, keep_banned=True)

    async def record_activity(
        self, chat: ChatInfo, user: UserProfile, at: datetime, *, chat_changed: bool = True
    ) -> None:
        """The member wrote in the chat at `at`; profile refreshed on the way (no write when
        unchanged). Called throttled: see bot/telegram/middlewares/roster.py. The chat row
        is refreshed only when `chat_changed` (the caller knows it is stored as is)."""
        if chat_changed:
            await self.remember_chat(chat)
        await self.remember_user(user)
        await self.memberships.touch(chat.id, user.id, at)

    # ------------------------------------------------------------------ /members
    def community_chat_id(self) -> int:
        chat_id = self.settings.community.chat_id if self.settings else None
        if chat_id is None:
            raise FeatureUnavailableError(NOT_CONFIGURED)
        return chat_id

    async def list_members(
        self, flt: MemberFilter, cursor: MemberCursor | None = None, direction: Direction = "next"
    ) -> MemberListing:
        """A page of matching members, and how many match (counted up to
        ROSTER__COUNT_MAX: a moderator needs the number of a small selection, and only
        that a large one is large)."""
        chat_id = self.community_chat_id()
        assert self.settings is not None
        roster = self.settings.roster
        return await self.members.listing(
            chat_id, flt, cursor, direction, roster.page_size, roster.count_max
        )

    async def export_members(self, flt: MemberFilter) -> AsyncIterator[list[MemberRow]]:
        """Every matching member in page order, a batch at a time (read as they are
        consumed: the caller writes each one out before the next is read)."""
        chat_id = self.community_chat_id()
        assert self.settings is not None
        rows = 0
        async for batch in self.members.stream(chat_id, flt, self.settings.roster.export_max_rows):
            rows += len(batch)
            yield batch
        log.info("roster export", rows=rows, filter=flt.canonical())
