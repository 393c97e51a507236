"""What operators do from `python -m bot.admin`: look at and steer transcription jobs,
count things, name moderators. No aiogram here; the CLI renders the results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.jobs import ArqJobQueue, JobQueue
from bot.log import get_logger
from bot.repositories.job_admin import JobAdminRepository, JobLine
from bot.repositories.jobs import JobRepository, JobView
from bot.repositories.moderators import ModeratorRecord, ModeratorRepository
from bot.repositories.stats import KarmaCounts, StatsRepository

log = get_logger(__name__)

# `cancel_requested_by` of a job an operator cancelled: no Telegram user has id 0.
OPERATOR_ID = 0


class OpsError(Exception):
    """The operation was refused or failed; the message says why (exit code 1)."""


class NotFoundError(OpsError):
    pass


# ---------------------------------------------------------------------- jobs
@dataclass(frozen=True, slots=True)
class Requeued:
    job: JobView
    previous: JobStatus
    generation: int
    # False without REDIS__URL: the embedded bot's sweep picks the job up.
    enqueued: bool
    # The queue it went to (routed again by its length and language); None embedded.
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class Cancelled:
    job: JobView
    previous: JobStatus  # queued: cancelled now; running: the worker stops at its next beat


class JobOpsService:
    def __init__(
        self, session: AsyncSession, queue: JobQueue | None, stale_after: timedelta
    ) -> None:
        self.session = session
        self.queue = queue
        self.stale_after = stale_after
        self.jobs = JobRepository(session)
        self.admin = JobAdminRepository(session)

    async def recent(
        self,
        *,
        statuses: list[JobStatus],
        chat_id: int | None,
        user_id: int | None,
        before_id: int | None,
        limit: int,
    ) -> list[JobLine]:
        return await self.admin.recent(
            statuses=statuses, chat_id=chat_id, user_id=user_id, before_id=before_id, limit=limit
        )

    async def show(self, job_id: int) -> dict[str, Any]:
        columns = await self.admin.columns(job_id)
        if columns is None:
            raise NotFoundError(f"there is no job {job_id}")
        return columns

    async def requeue(self, job_id: int, *, force: bool = False) -> Requeued:
        """Run the job again, through the sweep's path: the generation is bumped (a queue
        entry of the old generation then does nothing) and the new one is enqueued.

        Queued, or running without a live heartbeat: requeued. Failed: reopened first.
        Cancelled (someone asked for that), or running with a live worker (two workers
        would then run it): only with `force`. Done: refused; its result was delivered.
        """
        job = await self._job(job_id)
        heartbeat = (await self.show(job_id)).get("heartbeat_at")
        if job.status == JobStatus.DONE:
            raise OpsError(f"job {job_id} is done (its result was posted): nothing to requeue")
        if job.status == JobStatus.CANCELLED and not force:
            raise OpsError(f"job {job_id} was cancelled; pass --force to run it anyway")
        if job.status == JobStatus.RUNNING and not force and heartbeat is not None:
            age = utcnow() - heartbeat
            if age < self.stale_after:
                raise OpsError(
                    f"job {job_id} is running on a live worker (heartbeat {age.seconds} s ago); "
                    "pass --force to requeue it anyway"
                )
        current: JobView | None = job
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            current = await self.jobs.reopen(job_id)
        queue = (
            await self.queue.route(job.declared_duration_s, job.language_hint)
            if self.queue is not None
            else None
        )
        generation = (
            await self.jobs.bump_generation(current, queue) if current is not None else None
        )
        if current is None or generation is None:
            await self.session.rollback()
            raise OpsError(f"job {job_id} changed while requeueing it; look again and retry")
        await self.session.commit()
        enqueued = isinstance(self.queue, ArqJobQueue)
        if self.queue is not None:
            try:
                await self.queue.enqueue_transcription(job_id, generation, queue)
            except (RedisError, OSError) as exc:
                # The row is queued under the new generation: the sweep finds it.
                raise OpsError(
                    f"job {job_id} was requeued in the database (generation {generation}) but "
                    f"could not be put in the queue ({exc}); the workers' sweep enqueues it "
                    f"once it has waited {self.stale_after.seconds} s"
                ) from None
        log.warning(
            "job requeued by an operator", job_id=job_id, was=job.status, generation=generation
        )
        return Requeued(job, job.status, generation, enqueued, queue if enqueued else None)

    async def cancel(self, job_id: int) -> Cancelled:
        """The same path as the user's cancel button, with the operator as the actor."""
        job = await self._job(job_id)
        previous = await self.jobs.request_cancel(job_id, OPERATOR_ID)
        await self.session.commit()
        if previous is None:
            raise OpsError(f"job {job_id} is already {job.status}: nothing to cancel")
        log.warning("job cancelled by an operator", job_id=job_id, was=previous)
        return Cancelled(job, previous)

    async def _job(self, job_id: int) -> JobView:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"there is no job {job_id}")
        return job


# ---------------------------------------------------------------------- stats
@dataclass(frozen=True, slots=True)
class Stats:
    chat_id: int | None  # what members, applications and karma were counted in (None: all)
    users: int
    bots: int
    members: dict[str, int]
    applications: dict[str, int]
    karma: KarmaCounts
    jobs: dict[str, int]
    open_jobs: int
    oldest_queued_s: float | None
    # Entries in the arq queue; None in embedded mode (no Redis) or when Redis failed.
    queue_depth: int | None
    queue_error: str | None = None


class StatsService:
    def __init__(self, session: AsyncSession, queue: JobQueue | None) -> None:
        self.stats = StatsRepository(session)
        self.queue = queue

    async def collect(self, chat_id: int | None) -> Stats:
        now = utcnow()
        users, bots = await self.stats.users()
        jobs = await self.stats.jobs_by_status()
        oldest = await self.stats.oldest_queued()
        depth, error = None, None
        if isinstance(self.queue, ArqJobQueue):
            try:
                depth = await self.queue.depth()
            except (RedisError, OSError) as exc:  # the database's counts still help
                error = str(exc)
        return Stats(
            chat_id=chat_id,
            users=users,
            bots=bots,
            members=await self.stats.members_by_status(chat_id),
            applications=await self.stats.applications_by_status(chat_id),
            karma=await self.stats.karma(chat_id, now - timedelta(days=1)),
            jobs=jobs,
            open_jobs=sum(jobs.get(s.value, 0) for s in (JobStatus.QUEUED, JobStatus.RUNNING)),
            oldest_queued_s=(now - oldest).total_seconds() if oldest else None,
            queue_depth=depth,
            queue_error=error,
        )


# ---------------------------------------------------------------------- moderators
class ModeratorService:
    """The operator-managed moderator list. The bot's moderator check reads it on every
    check (one primary-key lookup, no cache), so a change counts at once on every replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.moderators = ModeratorRepository(session)

    async def is_listed(self, user_id: int) -> bool:
        return await self.moderators.is_listed(user_id)

    async def add(self, user_id: int, added_by: str | None, note: str | None) -> bool:
        added = await self.moderators.add(user_id, added_by, note, utcnow())
        await self.session.commit()
        log.warning("moderator added" if added else "moderator already listed", user=user_id)
        return added

    async def remove(self, user_id: int) -> bool:
        removed = await self.moderators.remove(user_id)
        await self.session.commit()
        log.warning("moderator removed" if removed else "moderator not listed", user=user_id)
        return removed

    async def all(self) -> list[ModeratorRecord]:
        return await self.moderators.all()


__all__ = [
    "OPERATOR_ID",
    "Cancelled",
    "JobOpsService",
    "ModeratorService",
    "NotFoundError",
    "OpsError",
    "Requeued",
    "Stats",
    "StatsService",
]
