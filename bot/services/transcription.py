"""TranscriptionService: admits voice notes (limits, cache, de-duplication), records
the job before anything is queued, and handles the user's actions on a job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import A2TMode, ChatType, JobStatus
from bot.db.models import Chat
from bot.errors import FeatureUnavailableError, NotAllowedError, UserFacingError
from bot.jobs import JobQueue
from bot.log import get_logger
from bot.repositories.jobs import JobRepository, JobView
from bot.services.dto import VoiceRequest
from bot.settings import Settings
from bot.texts import N_

log = get_logger(__name__)


@dataclass(frozen=True)
class A2TStatus:
    """Whether transcription can run in this deployment, and if not, why (user-facing)."""

    available: bool
    reason: str = ""


class RefusedError(UserFacingError):
    """A voice note was not accepted (limits, backpressure); nothing was recorded."""


@dataclass(frozen=True)
class Admission:
    outcome: Literal["queued", "cached", "duplicate"]
    job: JobView
    position: int = 0


def dedup_key(chat_id: int, message_id: int, language: str | None) -> str:
    return f"{chat_id}:{message_id}:{language or 'auto'}"


class TranscriptionService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        queue: JobQueue | None,
        status: A2TStatus,
    ) -> None:
        self.session = session
        self.settings = settings
        self.a2t = settings.a2t
        self.queue = queue
        self.status = status
        self.jobs = JobRepository(session)

    def ensure_available(self) -> None:
        if not self.status.available or self.queue is None:
            raise FeatureUnavailableError(
                self.status.reason or N_("Voice transcription is not available here.")
            )

    async def chat_mode(self, chat_id: int, chat_type: ChatType) -> A2TMode:
        if chat_type == ChatType.PRIVATE:
            return A2TMode.AUTO
        chat = await self.session.get(Chat, chat_id)
        return chat.a2t_mode if chat else A2TMode(self.a2t.group_mode)

    async def set_chat_mode(self, chat_id: int, mode: A2TMode) -> None:
        chat = await self.session.get(Chat, chat_id)
        if chat is None:
            raise UserFacingError(N_("I don't know this chat yet; try again in a moment."))
        chat.a2t_mode = mode
        await self.session.commit()

    async def submit(self, request: VoiceRequest) -> Admission:
        """Check limits, then record the job (committed) or answer from the cache.

        The caller shows the status message and then calls `announce()`, which
        queues the job: the job exists before the queue knows about it.
        """
        self.ensure_available()
        key = dedup_key(request.chat_id, request.message_id, request.language_hint)
        existing = await self.jobs.by_dedup_key(key)
        if existing is not None:
            return Admission("duplicate", existing)
        cached = await self.jobs.cached_result(request.file_unique_id, request.language_hint)
        if cached is not None:
            metrics.A2T_JOBS.labels("cached").inc()
            return Admission("cached", cached)
        await self._check_limits(request)

        job_id = await self.jobs.insert_if_new(
            {
                "dedup_key": key,
                "chat_id": request.chat_id,
                "user_id": request.user_id,
                "message_id": request.message_id,
                "update_id": request.update_id,
                "media_kind": request.media_kind,
                "file_id": request.file_id,
                "file_unique_id": request.file_unique_id,
                "file_size": request.file_size,
                "mime_type": request.mime_type,
                "declared_duration_s": request.duration_s,
                "language_hint": request.language_hint,
                "received_at": request.received_at,
                "ui_locale": request.ui_locale,
            }
        )
        if job_id is None:  # a concurrent duplicate won the race
            await self.session.rollback()
            job = await self.jobs.by_dedup_key(key)
            assert job is not None
            return Admission("duplicate", job)
        await self.session.commit()
        job = await self.jobs.get(job_id)
        assert job is not None
        log.info("transcription job recorded", job_id=job_id, kind=request.media_kind)
        return Admission("queued", job, await self.jobs.queue_position(job_id))

    async def announce(self, job: JobView, status_message_id: int | None) -> None:
        """Remember the status message, then queue the job."""
        assert self.queue is not None
        if status_message_id is not None:
            await self.jobs.set_status_message(job.id, status_message_id)
        else:
            await self.jobs.update_fields(job.id, queued_at=utcnow())
        await self.session.commit()
        await self.queue.enqueue_transcription(job.id, job.generation)
        metrics.A2T_QUEUE_DEPTH.set(await self.jobs.open_count())

    async def _check_limits(self, request: VoiceRequest) -> None:
        a2t = self.a2t
        max_bytes = a2t.max_file_bytes(self.settings.bot)
        if request.file_size is not None and request.file_size > max_bytes:
            raise RefusedError(
                N_("This file is {size} MB; I can take files up to {limit} MB."),
                size=_mb(request.file_size),
                limit=_mb(max_bytes),
            )
        if request.duration_s is not None and request.duration_s > a2t.max_duration_s:
            raise RefusedError(
                N_("This recording is {length} long; the limit is {limit}."),
                length=_clock(request.duration_s),
                limit=_clock(a2t.max_duration_s),
            )
        if request.user_id is not None:
            recent, _ = await self.jobs.user_usage(
                request.user_id, request.received_at - timedelta(minutes=1)
            )
            if recent >= a2t.user_rate_per_minute:
                raise RefusedError(
                    N_("You are sending voice notes too fast; wait a minute, please.")
                )
            midnight = datetime.combine(request.received_at.date(), datetime.min.time(), UTC)
            _, seconds = await self.jobs.user_usage(request.user_id, midnight)
            if seconds + (request.duration_s or 0) > a2t.user_daily_minutes * 60:
                raise RefusedError(
                    N_(
                        "You have used today's transcription quota ({minutes} min); "
                        "it resets at midnight UTC."
                    ),
                    minutes=a2t.user_daily_minutes,
                )
        if await self.jobs.open_count() >= a2t.max_queue_depth:
            metrics.A2T_JOBS.labels("rejected_busy").inc()
            raise RefusedError(N_("I am busy right now; please send it again in a few minutes."))

    async def cancel(self, job_id: int, actor_id: int, actor_is_admin: bool) -> JobStatus:
        job = await self._job(job_id)
        if actor_id != job.user_id and not actor_is_admin:
            raise NotAllowedError(N_("Only the sender or a chat admin can cancel this."))
        previous = await self.jobs.request_cancel(job_id, actor_id)
        await self.session.commit()
        if previous is None:
            raise UserFacingError(N_("This transcription has already finished."))
        if previous == JobStatus.QUEUED:
            metrics.A2T_JOBS.labels("cancelled").inc()
        log.info("transcription cancel", job_id=job_id, was=previous)
        return previous

    async def rerun(
        self, job_id: int, language: str, actor_id: int, ui_locale: str | None = None
    ) -> Admission:
        job = await self._job(job_id)
        if language not in self.a2t.rerun_languages:
            raise UserFacingError(N_("I can't re-run in that language."))
        return await self.submit(
            VoiceRequest(
                chat_id=job.chat_id,
                user_id=actor_id,
                message_id=job.message_id,
                media_kind=job.media_kind,
                file_id=job.file_id,
                file_unique_id=job.file_unique_id,
                file_size=job.file_size,
                duration_s=job.audio_duration_s,
                language_hint=language,
                received_at=utcnow(),
                ui_locale=ui_locale,
            )
        )

    async def finished(self, job_id: int) -> JobView:
        job = await self._job(job_id)
        if job.status != JobStatus.DONE or job.text is None:
            raise UserFacingError(N_("This transcription is not finished."))
        return job

    async def stop_chat(self, chat_id: int) -> int:
        """The bot was blocked or removed: its pending jobs there are cancelled."""
        count = await self.jobs.cancel_open_in_chat(chat_id, "the bot cannot write here")
        await self.session.commit()
        return count

    async def _job(self, job_id: int) -> JobView:
        job = await self.jobs.get(job_id)
        if job is None:
            raise UserFacingError(N_("This transcription no longer exists."))
        return job


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


__all__ = ["A2TStatus", "Admission", "RefusedError", "TranscriptionService", "dedup_key"]
