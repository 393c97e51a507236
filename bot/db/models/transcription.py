"""Transcription jobs: the database row is the truth about every voice note's fate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, JsonType, TimestampMixin
from bot.db.enums import JobStatus, MediaKind, str_enum


class TranscriptionJob(TimestampMixin, Base):
    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # chat:message:language — one job per voice note and requested language, whatever
    # Telegram or a retry re-delivers. Also the arq job id.
    dedup_key: Mapped[str] = mapped_column(String(96), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # Who asked (the sender of the voice note, the user of /transcribe or of a re-run
    # button): charged for the job and allowed to cancel it.
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    # Whose voice it is: the note's author, or a forwarded note's original sender when
    # Telegram names them; None when unknown (a hidden forward, a channel). /forgetme
    # clears the transcripts of both people. No foreign key to users, on purpose: the
    # speaker may be someone the bot never saw write, whose profile it should not store.
    speaker_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    media_kind: Mapped[MediaKind] = mapped_column(str_enum(MediaKind))
    file_id: Mapped[str] = mapped_column(String(256))
    file_unique_id: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(128))
    declared_duration_s: Mapped[float | None] = mapped_column(Float)

    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus), default=JobStatus.QUEUED, server_default=JobStatus.QUEUED.value
    )
    engine: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(256))
    language_hint: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    # The requester's UI language: status and result texts are written in it.
    ui_locale: Mapped[str | None] = mapped_column(String(16))
    audio_duration_s: Mapped[float | None] = mapped_column(Float)
    processing_s: Mapped[float | None] = mapped_column(Float)
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    text: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped each time the job is (re-)enqueued; a queue entry of an older generation
    # is stale and does nothing (the sweep re-enqueues under a new arq job id).
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Written by the running worker every few seconds: a stale heartbeat means it died.
    heartbeat_at: Mapped[datetime | None]
    cancel_requested_by: Mapped[int | None] = mapped_column(BigInteger)
    # The result as the messages to post, split once when the transcript is stored: a
    # re-run after a crash posts the same parts, whatever time it is now.
    result_parts: Mapped[list[str] | None] = mapped_column(JsonType)
    # Ids of the result messages already posted: a rerun edits/skips, never re-sends.
    result_message_ids: Mapped[list[int] | None] = mapped_column(JsonType)
    # Set when the transcript was copied from an earlier job of the same file (a
    # forwarded note answered from the cache): the copy is this chat's and this
    # requester's row, so its buttons act here; no audio was processed, so it costs
    # no minutes. No foreign key: the source may be emptied by /forgetme meanwhile.
    source_job_id: Mapped[int | None] = mapped_column(BigInteger)
    # The part being sent right now. Set before the send, cleared with its id saved
    # after it: a re-run that finds it set knows the send may have happened.
    posting_part: Mapped[int | None] = mapped_column(Integer)
    # The queue the job was routed to (bot/routing.py); NULL: REDIS__QUEUE_NAME.
    queue: Mapped[str | None] = mapped_column(String(100))

    received_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]

    __table_args__ = (
        # Cache: a finished transcript of the same file (a forwarded voice note).
        Index("ix_transcription_jobs_file_unique_status", "file_unique_id", "status"),
        # The sweep and the queue depth: open jobs only (a small part of the table).
        Index(
            "ix_transcription_jobs_open",
            "status",
            "id",
            sqlite_where=sql_text("status IN ('queued', 'running')"),
            postgresql_where=sql_text("status IN ('queued', 'running')"),
        ),
        # Per-user rate limit and daily quota.
        Index("ix_transcription_jobs_user_received", "user_id", "received_at"),
        # /forgetme: the transcripts of someone's voice.
        Index("ix_transcription_jobs_speaker", "speaker_id"),
    )
