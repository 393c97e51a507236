"""Membership applications, their answers and the audit trail of every step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, JsonType, TimestampMixin, utcnow
from bot.db.enums import ApplicationSource, ApplicationStatus, str_enum

_OPEN_STATUSES = "status IN ('draft', 'pending')"


class Application(TimestampMixin, Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
    source: Mapped[ApplicationSource] = mapped_column(str_enum(ApplicationSource))
    status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus),
        default=ApplicationStatus.DRAFT,
        server_default=ApplicationStatus.DRAFT.value,
    )
    submitted_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # Last time the application was listed in the moderators' digest.
    digested_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    reason_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Where the moderators' card lives, so it can be edited in place.
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    invite_link: Mapped[str | None] = mapped_column(String(256))

    answers: Mapped[list[ApplicationAnswer]] = relationship(
        back_populates="application",
        order_by="ApplicationAnswer.position",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        # At most one open application per user and chat.
        Index(
            "uq_applications_open_per_user_chat",
            "user_id",
            "chat_id",
            unique=True,
            sqlite_where=text(_OPEN_STATUSES),
            postgresql_where=text(_OPEN_STATUSES),
        ),
        Index("ix_applications_status_submitted", "status", "submitted_at"),
        Index("ix_applications_user_created", "user_id", "created_at"),
        # Open applications by deadline: the sweep's reminders and expiry.
        Index(
            "ix_applications_open_expires",
            "expires_at",
            sqlite_where=text(_OPEN_STATUSES),
            postgresql_where=text(_OPEN_STATUSES),
        ),
    )


class ApplicationAnswer(Base):
    __tablename__ = "application_answers"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    # A voice answer is transcribed through the A2T pipeline.
    transcription_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("transcription_jobs.id", ondelete="SET NULL"), index=True
    )
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="answers")


class ApplicationEvent(Base):
    """Audit row: who did what to an application, and when."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
