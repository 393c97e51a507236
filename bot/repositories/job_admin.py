"""Operators' views of transcription jobs (`python -m bot.admin jobs ...`): listing and
every column of one job. Kept apart from `JobRepository`, whose verbs are the jobs'
lifecycle; the operator's state changes (requeue, cancel) go through those verbs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import JobStatus, MediaKind
from bot.db.models import TranscriptionJob


@dataclass(frozen=True, slots=True)
class JobLine:
    id: int
    status: JobStatus
    chat_id: int
    user_id: int | None
    media_kind: MediaKind
    duration_s: float | None  # measured, else as Telegram declared it
    attempts: int
    generation: int
    error_code: str | None
    received_at: datetime
    finished_at: datetime | None


class JobAdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recent(
        self,
        *,
        statuses: Sequence[JobStatus] = (),
        chat_id: int | None = None,
        user_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[JobLine]:
        """Newest first; `before_id` pages further back."""
        job = TranscriptionJob
        stmt = select(
            job.id,
            job.status,
            job.chat_id,
            job.user_id,
            job.media_kind,
            func.coalesce(job.audio_duration_s, job.declared_duration_s),
            job.attempts,
            job.generation,
            job.error_code,
            job.received_at,
            job.finished_at,
        )
        if statuses:
            stmt = stmt.where(job.status.in_(statuses))
        if chat_id is not None:
            stmt = stmt.where(job.chat_id == chat_id)
        if user_id is not None:
            stmt = stmt.where(job.user_id == user_id)
        if before_id is not None:
            stmt = stmt.where(job.id < before_id)
        rows = await self.session.execute(stmt.order_by(job.id.desc()).limit(limit))
        return [JobLine(*row) for row in rows]

    async def columns(self, job_id: int) -> dict[str, Any] | None:
        """Every column of the job, by name: `jobs show` prints them all, so columns
        added later show up without a change here."""
        row = await self.session.get(TranscriptionJob, job_id, populate_existing=True)
        if row is None:
            return None
        return {attr.key: getattr(row, attr.key) for attr in inspect(TranscriptionJob).column_attrs}
