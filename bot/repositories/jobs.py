"""Transcription job rows: every state transition is one conditional UPDATE, so two
workers (or a worker and the sweep) can never both own a job.

Ownership: `claim` gives a worker the job's current generation. Every later write of
that worker is fenced by `generation = mine AND status = 'running'`; when the sweep has
re-queued the job meanwhile (a new generation), the write matches no row and the
worker learns that it lost the job: it stops and touches nothing more."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import JobStatus, MediaKind
from bot.db.models import TranscriptionJob

OPEN = (JobStatus.QUEUED, JobStatus.RUNNING)
# error_code of a job the worker refused because the requester's day was used up.
OVER_QUOTA = "over_quota"
# Seconds of audio a job holds: decoded, else as the message declared it.
AUDIO_SECONDS = func.coalesce(
    TranscriptionJob.audio_duration_s, TranscriptionJob.declared_duration_s, 0.0
)
# Seconds of audio a job costs its requester: none for a transcript copied from the
# cache (nothing was processed) or a job refused for the quota itself.
CHARGED_SECONDS = case(
    (
        or_(
            TranscriptionJob.source_job_id.is_not(None),
            TranscriptionJob.error_code == OVER_QUOTA,
        ),
        0.0,
    ),
    else_=AUDIO_SECONDS,
)


@dataclass(frozen=True, slots=True)
class JobView:
    """A plain copy of a job row: safe to use after the session is gone."""

    id: int
    generation: int
    chat_id: int
    user_id: int | None
    message_id: int
    status_message_id: int | None
    media_kind: MediaKind
    file_id: str
    file_unique_id: str
    file_size: int | None
    status: JobStatus
    language_hint: str | None
    language: str | None
    audio_duration_s: float | None
    processing_s: float | None
    text: str | None
    segments: list[dict[str, Any]] | None
    error_code: str | None
    error_message: str | None
    attempts: int
    cancel_requested_by: int | None
    result_message_ids: list[int] | None
    engine: str | None
    model: str | None
    received_at: datetime
    ui_locale: str | None
    speaker_id: int | None
    source_job_id: int | None
    result_parts: list[str] | None
    posting_part: int | None
    # What Telegram stated (whole seconds), checked against the quota at submit.
    declared_duration_s: float | None = None
    queue: str | None = None

    @classmethod
    def of(cls, row: TranscriptionJob) -> JobView:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


class Lease(StrEnum):
    """What a heartbeat learned about the worker's hold on its job."""

    HELD = "held"
    CANCEL_REQUESTED = "cancel_requested"  # still ours; the user asked to stop
    LOST = "lost"  # re-queued under a new generation (or closed): no longer ours


def _owned(job_id: int, generation: int) -> tuple[Any, ...]:
    return (
        TranscriptionJob.id == job_id,
        TranscriptionJob.generation == generation,
        TranscriptionJob.status == JobStatus.RUNNING,
    )


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_if_new(self, values: dict[str, Any]) -> int | None:
        """Insert unless the dedup key exists; returns the new id or None for a duplicate."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(TranscriptionJob)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(TranscriptionJob.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, job_id: int) -> JobView | None:
        row = await self.session.get(TranscriptionJob, job_id, populate_existing=True)
        return JobView.of(row) if row else None

    async def by_dedup_key(self, key: str) -> JobView | None:
        row = await self.session.scalar(
            select(TranscriptionJob).where(TranscriptionJob.dedup_key == key)
        )
        return JobView.of(row) if row else None

    async def cached_result(self, file_unique_id: str, language_hint: str | None) -> JobView | None:
        """A finished transcript of the same file (forwarded voice notes)."""
        stmt = (
            select(TranscriptionJob)
            .where(
                TranscriptionJob.file_unique_id == file_unique_id,
                TranscriptionJob.status == JobStatus.DONE,
                TranscriptionJob.text.is_not(None),
            )
            .order_by(TranscriptionJob.id.desc())
            .limit(1)
        )
        if language_hint:
            stmt = stmt.where(TranscriptionJob.language == language_hint)
        row = await self.session.scalar(stmt)
        return JobView.of(row) if row else None

    async def queue_position(self, job_id: int) -> int:
        ahead = await self.session.scalar(
            select(func.count()).where(
                TranscriptionJob.status == JobStatus.QUEUED, TranscriptionJob.id < job_id
            )
        )
        return int(ahead or 0) + 1

    async def open_count(self) -> int:
        return int(
            await self.session.scalar(select(func.count()).where(TranscriptionJob.status.in_(OPEN)))
            or 0
        )

    async def open_count_of(self, *, chat_id: int | None = None, user_id: int | None = None) -> int:
        """Open jobs of one chat, or of one requester (the per-chat and per-user caps)."""
        stmt = select(func.count()).where(TranscriptionJob.status.in_(OPEN))
        if chat_id is not None:
            stmt = stmt.where(TranscriptionJob.chat_id == chat_id)
        if user_id is not None:
            stmt = stmt.where(TranscriptionJob.user_id == user_id)
        return int(await self.session.scalar(stmt) or 0)

    async def user_seconds(self, user_id: int, since: datetime, *, besides: int) -> float:
        """Seconds of audio charged to a requester since a moment, job `besides` aside."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(CHARGED_SECONDS), 0.0)).where(
                TranscriptionJob.user_id == user_id,
                TranscriptionJob.received_at >= since,
                TranscriptionJob.status != JobStatus.CANCELLED,
                TranscriptionJob.id != besides,
            )
        )
        return float(total or 0.0)

    async def record_answer(self, job_id: int, message_ids: list[int]) -> None:
        """A cached answer was posted: its messages, as the worker records a result's."""
        await self.session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job_id)
            .values(
                status_message_id=message_ids[0],
                result_message_ids=message_ids,
                posted_at=utcnow(),
            )
        )

    async def user_usage(self, user_id: int, since: datetime) -> tuple[int, float]:
        """Jobs and seconds of audio a user submitted since a moment."""
        count, total = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.sum(CHARGED_SECONDS), 0.0)).where(
                    TranscriptionJob.user_id == user_id,
                    TranscriptionJob.received_at >= since,
                    TranscriptionJob.status != JobStatus.CANCELLED,
                )
            )
        ).one()
        return int(count), float(total)

    async def set_status_message(self, job_id: int, message_id: int) -> None:
        await self.session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job_id)
            .values(status_message_id=message_id, queued_at=utcnow())
        )

    async def claim(self, job_id: int, generation: int, stale_after: timedelta) -> JobView | None:
        """Take the job for this worker: only a queued one, or a running one whose
        worker stopped beating. None: someone else has it, or it is finished."""
        now = utcnow()
        stmt = (
            update(TranscriptionJob)
            .where(
                TranscriptionJob.id == job_id,
                TranscriptionJob.generation == generation,
                or_(
                    TranscriptionJob.status == JobStatus.QUEUED,
                    and_(
                        TranscriptionJob.status == JobStatus.RUNNING,
                        or_(
                            TranscriptionJob.heartbeat_at.is_(None),
                            TranscriptionJob.heartbeat_at < now - stale_after,
                        ),
                    ),
                ),
            )
            .values(
                status=JobStatus.RUNNING,
                attempts=TranscriptionJob.attempts + 1,
                started_at=func.coalesce(TranscriptionJob.started_at, now),
                heartbeat_at=now,
            )
            .returning(TranscriptionJob)
        )
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        return JobView.of(row) if row else None

    async def beat(self, job_id: int, generation: int, progress: float | None = None) -> Lease:
        """The owner's heartbeat (with progress, when known)."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        result = await self.session.execute(
            update(TranscriptionJob)
            .where(*_owned(job_id, generation))
            .values(**values)
            .returning(TranscriptionJob.cancel_requested_by)
        )
        row = result.one_or_none()
        if row is None:
            return Lease.LOST
        return Lease.HELD if row[0] is None else Lease.CANCEL_REQUESTED

    async def update_fields(self, job_id: int, **values: Any) -> None:
        """Unfenced: only for a job no worker has claimed yet."""
        await self.session.execute(
            update(TranscriptionJob).where(TranscriptionJob.id == job_id).values(**values)
        )

    async def update_owned(self, job_id: int, generation: int, **values: Any) -> bool:
        """The owner's write; False when the job is no longer this generation's."""
        result = await self.session.execute(
            update(TranscriptionJob)
            .where(*_owned(job_id, generation))
            .values(**values)
            .returning(TranscriptionJob.id)
        )
        return result.scalar_one_or_none() is not None

    async def finish(self, job_id: int, generation: int, status: JobStatus, **values: Any) -> bool:
        """The owner closes its job; False if it is no longer this generation's."""
        return await self.update_owned(
            job_id, generation, status=status, finished_at=utcnow(), posting_part=None, **values
        )

    async def release(self, job_id: int, generation: int, *, refund: bool = False) -> bool:
        """The owner gives its job back to the queue to be tried again. `refund`: the
        try does not count (the worker is shutting down; the job did nothing wrong)."""
        values: dict[str, Any] = {
            "status": JobStatus.QUEUED,
            "heartbeat_at": None,
            "queued_at": utcnow(),
        }
        if refund:
            values["attempts"] = TranscriptionJob.attempts - 1
        return await self.update_owned(job_id, generation, **values)

    async def request_cancel(self, job_id: int, actor_id: int) -> JobStatus | None:
        """Queued: cancelled at once. Running: flagged; the worker stops at the next
        segment. Returns the status the job had, or None if it was already closed."""
        for status in OPEN:
            values: dict[str, Any] = {"cancel_requested_by": actor_id}
            if status == JobStatus.QUEUED:
                values.update(status=JobStatus.CANCELLED, finished_at=utcnow())
            result = await self.session.execute(
                update(TranscriptionJob)
                .where(TranscriptionJob.id == job_id, TranscriptionJob.status == status)
                .values(**values)
                .returning(TranscriptionJob.id)
            )
            if result.scalar_one_or_none() is not None:
                return status
        return None

    async def cancel_open_in_chat(self, chat_id: int, reason: str) -> int:
        result = await self.session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.chat_id == chat_id, TranscriptionJob.status.in_(OPEN))
            .values(
                status=JobStatus.CANCELLED,
                finished_at=utcnow(),
                error_code="chat_unavailable",
                error_message=reason,
            )
            .returning(TranscriptionJob.id)
        )
        return len(result.all())

    async def stale_jobs(self, stale_after: timedelta) -> list[JobView]:
        """Open jobs that may have been lost: running without a heartbeat, or queued
        since before the threshold (the caller checks whether the queue still has them)."""
        cutoff = utcnow() - stale_after
        rows = await self.session.scalars(
            select(TranscriptionJob)
            .where(
                or_(
                    and_(
                        TranscriptionJob.status == JobStatus.RUNNING,
                        TranscriptionJob.heartbeat_at < cutoff,
                    ),
                    and_(
                        TranscriptionJob.status == JobStatus.QUEUED,
                        func.coalesce(TranscriptionJob.queued_at, TranscriptionJob.received_at)
                        < cutoff,
                    ),
                )
            )
            .order_by(TranscriptionJob.id)
            .limit(500)
        )
        return [JobView.of(row) for row in rows]

    async def bump_generation(self, job: JobView, queue: str | None = None) -> int | None:
        """Claim the right to re-enqueue: only one sweeper wins per generation.
        `queue`: the queue it goes to now (routing), else the one it was in."""
        values: dict[str, Any] = {
            "generation": TranscriptionJob.generation + 1,
            "status": JobStatus.QUEUED,
            "heartbeat_at": None,
            "queued_at": utcnow(),
        }
        if queue is not None:
            values["queue"] = queue
        result = await self.session.execute(
            update(TranscriptionJob)
            .where(
                TranscriptionJob.id == job.id,
                TranscriptionJob.generation == job.generation,
                TranscriptionJob.status.in_(OPEN),
            )
            .values(**values)
            .returning(TranscriptionJob.generation)
        )
        return result.scalar_one_or_none()

    async def set_queue(self, job_id: int, queue: str | None) -> None:
        await self.session.execute(
            update(TranscriptionJob).where(TranscriptionJob.id == job_id).values(queue=queue)
        )

    async def queue_stats(self) -> list[QueueStats]:
        """Open jobs per queue: how many queued and running, and since when the oldest
        queued one waits. Reads only open rows (the partial index)."""
        waiting_since = func.coalesce(TranscriptionJob.queued_at, TranscriptionJob.received_at)
        rows = await self.session.execute(
            select(
                TranscriptionJob.queue,
                TranscriptionJob.status,
                func.count(),
                func.min(waiting_since),
            )
            .where(TranscriptionJob.status.in_(OPEN))
            .group_by(TranscriptionJob.queue, TranscriptionJob.status)
        )
        stats: dict[str | None, QueueStats] = {}
        for queue, status, count, oldest in rows:
            current = stats.get(queue) or QueueStats(queue, 0, 0, None)
            if status == JobStatus.QUEUED:
                current = QueueStats(queue, int(count), current.running, oldest)
            else:
                current = QueueStats(queue, current.queued, int(count), current.oldest_queued_at)
            stats[queue] = current
        # No open job at all: the one queue, empty (the gauges then read 0).
        return list(stats.values()) or [QueueStats(None, 0, 0, None)]

    async def reopen(self, job_id: int) -> JobView | None:
        """An operator's retry of a failed or cancelled job: open again (queued, the old
        outcome and attempt count cleared), ready for `bump_generation`. None: the job is
        not failed or cancelled (any more)."""
        result = await self.session.execute(
            update(TranscriptionJob)
            .where(
                TranscriptionJob.id == job_id,
                TranscriptionJob.status.in_((JobStatus.FAILED, JobStatus.CANCELLED)),
            )
            .values(
                status=JobStatus.QUEUED,
                error_code=None,
                error_message=None,
                finished_at=None,
                cancel_requested_by=None,
                heartbeat_at=None,
                progress=0.0,
                attempts=0,
            )
            .returning(TranscriptionJob)
        )
        row = result.scalar_one_or_none()
        return JobView.of(row) if row else None


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str | None  # None: the deployment's one queue (REDIS__QUEUE_NAME)
    queued: int
    running: int
    oldest_queued_at: datetime | None
