"""Users, chats and who is in which chat (the roster)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ColumnElement, ForeignKey, Index, String, func
from sqlalchemy import literal_column as sql
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

    __table_args__ = (
        Index("ix_users_username_lower", func.lower(username)),
        # The /members search (bot/repositories/roster.py). PostgreSQL only (migration
        # b7c4e91a2d30): trigram indexes serve a term of 3 letters or more anywhere in
        # the name; text_pattern_ops b-trees serve a shorter term at the start of a
        # name (LIKE 'ab%'), which trigrams cannot, whatever the database's collation.
        Index(
            "ix_users_search_name_trgm",
            # User.search_name(), as PostgreSQL prints it back (for the migrations test).
            sql("lower((first_name || ' ') || coalesce(last_name, ''))").label("search_name"),
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
        Index(
            "ix_users_username_trgm",
            func.lower(username).label("username_lower"),
            postgresql_using="gin",
            postgresql_ops={"username_lower": "gin_trgm_ops"},
        ),
        *(
            Index(
                f"ix_users_{name}_prefix",
                func.lower(column).label(name),
                postgresql_ops={name: "text_pattern_ops"},
            )
            for name, column in (
                ("first_name", first_name),
                ("last_name", last_name),
                ("username", username),
            )
        ),
        # /members lang=: the language a member reads (migration d1874496681b).
        Index(
            "ix_users_language",
            func.lower(func.coalesce(ui_language, language_code)).label("language"),
            postgresql_ops={"language": "text_pattern_ops"},
        ),
    )

    @classmethod
    def search_name(cls) -> ColumnElement[str]:
        """First and last name, space-separated, in lower case: the expression that
        ix_users_search_name_trgm indexes (the same, so that PostgreSQL uses it)."""
        # Literal SQL, not bound parameters: an index matches only the same expression.
        return func.lower(cls.first_name + sql("' '") + func.coalesce(cls.last_name, sql("''")))


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
        # /members role filters (alone or with a status): counted from this index alone.
        Index("ix_memberships_chat_role_status", "chat_id", "role", "status"),
    )
