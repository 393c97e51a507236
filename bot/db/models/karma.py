"""Karma: one row per vote (the history) and a running total per chat member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow
from bot.db.enums import KarmaLift, KarmaSanction, KarmaSource, str_enum


class KarmaEvent(Base):
    __tablename__ = "karma_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No foreign key to chats, on purpose: checking one takes a KEY SHARE lock on the
    # chat's row, the same row for every vote in the chat, and concurrent votes then
    # turn that lock into a new MultiXact each (docs/PERFORMANCE.md has the cost). The
    # one statement that inserts events upserts the chat row first, and chats are never
    # deleted.
    chat_id: Mapped[int] = mapped_column(BigInteger)
    voter_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[KarmaSource] = mapped_column(str_enum(KarmaSource))
    direction: Mapped[int] = mapped_column(Integer)  # +1 or -1 as voted
    weight: Mapped[float] = mapped_column(Float)  # the voter's power after damping
    delta: Mapped[float] = mapped_column(Float)  # direction * weight, what the total moved
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # the voted-on message
    vote_message_id: Mapped[int | None] = mapped_column(BigInteger)  # the "+" reply
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_karma_events_chat_target_created", "chat_id", "target_id", "created_at"),
        Index("ix_karma_events_chat_voter_created", "chat_id", "voter_id", "created_at"),
        Index("ix_karma_events_chat_created", "chat_id", "created_at"),
    )


class KarmaTotal(Base):
    __tablename__ = "karma_totals"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    karma: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_karma_totals_chat_karma", "chat_id", "karma"),)


class KarmaRestriction(Base):
    """One step of the negative-karma escalation applied to a member: read-only until
    `until`, or a ban (`until` None). `step` is its index in KARMA__ESCALATION, chosen by
    how many earlier sanctions the member had in the chat (those lifted by undo do not
    count). `event_id` is the vote that triggered it; undoing that vote lifts it."""

    __tablename__ = "karma_restrictions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("karma_events.id", ondelete="SET NULL"),
    )
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kind: Mapped[KarmaSanction] = mapped_column(
        str_enum(KarmaSanction), default=KarmaSanction.READ_ONLY, server_default="read_only"
    )
    until: Mapped[datetime | None]  # None: until lifted (a ban)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    # Who lifted it: the voter (undo) or the moderator (pardon); no FK, a configured
    # moderator id need not be a known user.
    lifted_by: Mapped[int | None] = mapped_column(BigInteger)
    lift_reason: Mapped[KarmaLift | None] = mapped_column(str_enum(KarmaLift))

    __table_args__ = (
        Index("ix_karma_restrictions_event_id", "event_id"),
        Index("ix_karma_restrictions_chat_user_created", "chat_id", "user_id", "created_at"),
    )


class KarmaMessageAuthor(Base):
    """Who wrote a recent message in a chat with reaction votes on: a `message_reaction`
    update names the message, not its author. Pruned by age (KARMA__REACTION_WINDOW_H)."""

    __tablename__ = "karma_message_authors"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_karma_message_authors_created_at", "created_at"),)
