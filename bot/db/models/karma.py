"""Karma: one row per vote (the history) and a running total per chat member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow
from bot.db.enums import KarmaSource, str_enum


class KarmaEvent(Base):
    __tablename__ = "karma_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
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
    """A member restricted to read-only because their karma fell to KARMA__RESTRICT_BELOW;
    `event_id` is the vote that did it (undoing that vote lifts the restriction)."""

    __tablename__ = "karma_restrictions"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("karma_events.id", ondelete="SET NULL"),
    )
    until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_karma_restrictions_event_id", "event_id"),)
