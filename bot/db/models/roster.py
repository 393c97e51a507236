"""Users, chats and who is in which chat (the roster)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, TimestampMixin
from bot.db.enums import A2TMode, ChatType, MemberRole, MemberStatus, str_enum


class User(TimestampMixin, Base):
    """A Telegram user as Telegram last described them, plus their own choices."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    first_name: Mapped[str] = mapped_column(String(256))
    last_name: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    language_code: Mapped[str | None] = mapped_column(String(16))
    # Chosen with /language; wins over language_code for UI texts.
    ui_language: Mapped[str | None] = mapped_column(String(16))
    is_premium: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (Index("ix_users_username_lower", func.lower(username)),)


class Chat(TimestampMixin, Base):
    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[ChatType] = mapped_column(str_enum(ChatType))
    title: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    a2t_mode: Mapped[A2TMode] = mapped_column(
        str_enum(A2TMode), default=A2TMode.AUTO, server_default=A2TMode.AUTO.value
    )
    karma_reactions: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Membership(TimestampMixin, Base):
    """A user in a chat: role, status and when they came and went."""

    __tablename__ = "memberships"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[MemberRole] = mapped_column(
        str_enum(MemberRole), default=MemberRole.MEMBER, server_default=MemberRole.MEMBER.value
    )
    status: Mapped[MemberStatus] = mapped_column(
        str_enum(MemberStatus),
        default=MemberStatus.ACTIVE,
        server_default=MemberStatus.ACTIVE.value,
    )
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # When the status last applied happened, by Telegram's clock (the update's date): a
    # late update about an older change must not overwrite it. NULL: unknown (any
    # change applies).
    status_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_memberships_user_id", "user_id"),
        Index("ix_memberships_chat_status_joined", "chat_id", "status", "joined_at"),
        # /members pages: newest in the roster first, keyset on (created_at, user_id).
        Index("ix_memberships_chat_created_user", "chat_id", "created_at", "user_id"),
    )
