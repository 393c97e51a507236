"""TranscriptionService: admits voice notes (limits, cache, de-duplication), records
the job before anything is queued, and handles the user's actions on a job.

Who is who: the *requester* (`user_id`) is whoever asked: the sender of a voice note,
the user of /transcribe, the presser of a re-run button. Limits are charged to them and
they may cancel. The *speaker* (`speaker_id`) is whose voice it is; /forgetme reaches
both. Every action on a job is bound to the chat it was pressed in: callback data can
be forged, so a button naming another chat's job does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import A2TMode, ChatType, JobStatus
from bot.domain.dto import VoiceRequest
from bot.errors import FeatureUnavailableError, NotAllowedError, UserFacingError
from bot.jobs import JobQueue
from bot.log import get_logger
from bot.repositories.jobs import JobRepository, JobView
from bot.repositories.users import ChatRepository
from bot.settings import A2TSettings, Settings
from bot.texts import N_

log = get_logger(__name__)


@dataclass(frozen=True)
class A2TStatus:
    """Whether transcription can run in this deployment, and if not, why (user-facing)."""

    available: bool
    reason: str = ""


class RefusedError(UserFacingError):
    """A voice note was not accepted (limits, backpressure); nothing was recorded."""


class OverQuotaError(RefusedError):
    """The requester's minutes for today are used up."""


@dataclass(frozen=True)
class Admission:
    outcome: Literal["queued", "cached", "duplicate"]
    job: JobView
    position: int = 0


def dedup_key(chat_id: int, message_id: int, language: str | None) -> str:
    return f"{chat_id}:{message_id}:{language or 'auto'}"


class QuotaService:
    """The daily minutes of audio a requester may have transcribed (A2T__USER_DAILY_MINUTES),
    checked twice: from Telegram's stated duration before anything is downloaded, and
    from the decoded length in the worker, which is the only length an audio document
    has and the only one a modified client cannot understate."""

    # Telegram states whole seconds; the decoded length may be a fraction longer, and
    # that must not refuse a note the first check let through.
    ROUNDING_S = 1.0

    def __init__(self, session: AsyncSession, a2t: A2TSettings) -> None:
        self.session = session
        self.a2t = a2t
        self.jobs = JobRepository(session)

    async def check(self, user_id: int, received_at: datetime, seconds: float) -> None:
        _, used = await self.jobs.user_usage(user_id, _midnight(received_at))
        if used + seconds > self.a2t.user_daily_minutes * 60:
            raise OverQuotaError(
                N_(
                    "You have used today's transcription quota ({minutes} min); "
                    "it resets at midnight UTC."
                ),
                minutes=self.a2t.user_daily_minutes,
            )

    async def charge_decoded(self, job: JobView, seconds: float) -> None:
        """The worker has decoded the audio: refuse the job if its real length takes the
        requester past today's minutes, else record that length at once so that their
        other jobs count it. The caller commits."""
        if job.user_id is not None:
            used = await self.jobs.user_seconds(
                job.user_id, _midnight(job.received_at), besides=job.id
            )
            if used + seconds > self.a2t.user_daily_minutes * 60 + self.ROUNDING_S:
                raise OverQuotaError(
                    N_(
                        "This recording is {length} long, more than is left of today's "
                        "transcription quota ({minutes} min); it resets at midnight UTC."
                    ),
                    length=_minutes(seconds),
                    minutes=self.a2t.user_daily_minutes,
                )
        # Fenced like every worker write: a superseded try records nothing.
        await self.jobs.update_owned(job.id, job.generation, audio_duration_s=seconds)


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """One queue as the moderators' /a2t_status shows it."""

    queue: str
    queued: int
    running: int
    oldest_queued_at: datetime | None
    live_workers: int | None  # None: jobs run inside the bot, no workers to count

    @property
    def stuck(self) -> bool:
        """Jobs wait and nothing alive will take them."""
        return self.queued > 0 and self.live_workers == 0


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
        mode = await ChatRepository(self.session).a2t_mode(chat_id)
        return mode if mode is not None else A2TMode(self.a2t.group_mode)

    async def set_chat_mode(self, chat_id: int, mode: A2TMode) -> None:
        if not await ChatRepository(self.session).set_a2t_mode(chat_id, mode):
            raise UserFacingError(N_("I don't know this chat yet; try again in a moment."))
        await self.session.commit()

    def serves(self, chat_id: int) -> bool:
        """Whether this chat may use transcription at all (A2T__ALLOWED_GROUPS)."""
        return self.a2t.serves_chat(chat_id)

    async def submit(self, request: VoiceRequest) -> Admission:
        """Check limits, then record the job (committed) or answer from the cache.

        The caller shows the status message and then calls `announce()`, which
        queues the job: the job exists before the queue knows about it. A cached answer
        is recorded as a finished job of its own (this chat, this requester); the caller
        posts it and calls `answered()`.
        """
        self.ensure_available()
        if not self.serves(request.chat_id):
            raise RefusedError(N_("Transcription is not offered in this chat."))
        key = dedup_key(request.chat_id, request.message_id, request.language_hint)
        existing = await self.jobs.by_dedup_key(key)
        if existing is not None:
            return Admission("duplicate", existing)
        cached = await self.jobs.cached_result(request.file_unique_id, request.language_hint)
        if cached is not None:
            # Nothing is processed, but each answer is a message: the rate still applies.
            await self._check_rate(request)
            return await self._record(request, key, _copied_from(cached))
        await self._check_limits(request)
        return await self._record(request, key, {})

    async def _record(self, request: VoiceRequest, key: str, copied: dict[str, Any]) -> Admission:
        job_id = await self.jobs.insert_if_new(
            {
                **copied,
                "dedup_key": key,
                "chat_id": request.chat_id,
                "user_id": request.user_id,
                # The same file is the same voice: a hidden forward answered from the
                # cache keeps the speaker the transcript was made for.
                "speaker_id": request.speaker_id or copied.get("speaker_id"),
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
        if copied:
            metrics.A2T_JOBS.labels("cached").inc()
            log.info("answered from the cache", job_id=job_id, source_job_id=job.source_job_id)
            return Admission("cached", job)
        log.info("transcription job recorded", job_id=job_id, kind=request.media_kind)
        return Admission("queued", job, await self.jobs.queue_position(job_id))

    async def answered(self, job: JobView, message_ids: list[int]) -> None:
        """A cached answer was posted as these messages."""
        if message_ids:
            await self.jobs.record_answer(job.id, message_ids)
            await self.session.commit()

    async def announce(self, job: JobView, status_message_id: int | None) -> None:
        """Remember the status message, then queue the job."""
        assert self.queue is not None
        if status_message_id is not None:
            await self.jobs.set_status_message(job.id, status_message_id)
        else:
            await self.jobs.update_fields(job.id, queued_at=utcnow())
        # The queue of the workers that can serve it (bot/routing.py), on the row: the
        # sweep and the ops CLI look for it there.
        queue = await self.queue.route(job.declared_duration_s, job.language_hint)
        if queue is not None:
            await self.jobs.set_queue(job.id, queue)
        await self.session.commit()
        await self.queue.enqueue_transcription(job.id, job.generation, queue)
        metrics.A2T_QUEUE_DEPTH.set(await self.jobs.open_count())

    async def queue_status(self) -> list[QueueStatus]:
        """Open jobs per queue with the workers alive for each: every queue routing
        knows, and any other that still holds open jobs."""
        default = self.settings.redis.queue_name
        live = await self.queue.live_workers() if self.queue is not None else None
        stats: dict[str, QueueStatus] = {
            queue: QueueStatus(queue, 0, 0, None, count) for queue, count in (live or {}).items()
        }
        for row in await self.jobs.queue_stats():
            queue = row.queue or default
            known = stats.get(queue)
            if known is None and live is not None and not (row.queued or row.running):
                continue  # no open job, and not a queue the workers read
            workers = known.live_workers if known else (0 if live is not None else None)
            oldest = row.oldest_queued_at
            if known and known.oldest_queued_at and oldest:
                oldest = min(oldest, known.oldest_queued_at)
            stats[queue] = QueueStatus(
                queue,
                row.queued + (known.queued if known else 0),
                row.running + (known.running if known else 0),
                oldest or (known.oldest_queued_at if known else None),
                workers,
            )
        return list(stats.values())

    async def _check_limits(self, request: VoiceRequest) -> None:
        """Everything is charged to the requester (`user_id`), never to the speaker."""
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
                length=_minutes(request.duration_s),
                limit=_minutes(a2t.max_duration_s),
            )
        await self._check_rate(request)
        if request.user_id is not None:
            quota = QuotaService(self.session, a2t)
            await quota.check(request.user_id, request.received_at, request.duration_s or 0)
            # Per requester and per chat: one person (or one busy chat) must not fill the
            # queue that everybody shares.
            open_mine = await self.jobs.open_count_of(user_id=request.user_id)
            if a2t.max_open_per_user and open_mine >= a2t.max_open_per_user:
                metrics.A2T_JOBS.labels("rejected_user_cap").inc()
                raise RefusedError(
                    N_(
                        "Your earlier voice notes are still waiting; "
                        "send this one when they are done."
                    )
                )
        open_here = await self.jobs.open_count_of(chat_id=request.chat_id)
        if a2t.max_open_per_chat and open_here >= a2t.max_open_per_chat:
            metrics.A2T_JOBS.labels("rejected_chat_cap").inc()
            raise RefusedError(
                N_("Too many voice notes from this chat are waiting; please send it again later.")
            )
        if await self.jobs.open_count() >= a2t.max_queue_depth:
            metrics.A2T_JOBS.labels("rejected_busy").inc()
            raise RefusedError(N_("I am busy right now; please send it again in a few minutes."))

    async def _check_rate(self, request: VoiceRequest) -> None:
        if request.user_id is None:
            return
        recent, _ = await self.jobs.user_usage(
            request.user_id, request.received_at - timedelta(minutes=1)
        )
        if recent >= self.a2t.user_rate_per_minute:
            raise RefusedError(N_("You are sending voice notes too fast; wait a minute, please."))

    async def job_in_chat(self, job_id: int, chat_id: int | None) -> JobView:
        """The job a button names, if it is a job of the chat the button was pressed in
        (`chat_id`: None when Telegram names no chat). Callback data can be forged and
        job ids are sequential: without this, any job of any chat could be acted on."""
        job = await self._job(job_id)
        if job.chat_id != chat_id:
            log.warning("a2t button for another chat's job", job_id=job_id, pressed_in=chat_id)
            raise NotAllowedError(N_("This button is not for a transcription in this chat."))
        return job

    async def _ensure_may_post(self, chat_id: int, chat_type: ChatType) -> None:
        """A button that posts (a file, a re-run) obeys what the chat's admins chose."""
        if not self.serves(chat_id):
            raise RefusedError(N_("Transcription is not offered in this chat."))
        if await self.chat_mode(chat_id, chat_type) == A2TMode.OFF:
            raise UserFacingError(N_("Transcription is switched off in this chat."))

    async def cancel(
        self, job_id: int, chat_id: int | None, actor_id: int, actor_is_admin: bool
    ) -> JobStatus:
        """`actor_is_admin`: the actor is an admin of `chat_id`, the chat pressed in,
        which must be the job's own."""
        job = await self.job_in_chat(job_id, chat_id)
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
        self,
        job_id: int,
        chat_id: int | None,
        chat_type: ChatType,
        language: str,
        actor_id: int,
        ui_locale: str | None = None,
    ) -> Admission:
        """Anyone who may ask for a transcription in the job's chat may ask for it again
        in another language; it is charged to them."""
        job = await self.job_in_chat(job_id, chat_id)
        await self._ensure_may_post(job.chat_id, chat_type)
        if language not in self.a2t.rerun_languages:
            raise UserFacingError(N_("I can't re-run in that language."))
        if not job.file_id:  # emptied by /forgetme
            raise UserFacingError(N_("This transcription no longer exists."))
        return await self.submit(
            VoiceRequest(
                chat_id=job.chat_id,
                user_id=actor_id,
                speaker_id=job.speaker_id,
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

    async def finished(self, job_id: int, chat_id: int | None, chat_type: ChatType) -> JobView:
        """A finished transcript, for .txt/.srt pressed in `chat_id` (its own chat)."""
        job = await self.job_in_chat(job_id, chat_id)
        await self._ensure_may_post(job.chat_id, chat_type)
        if job.status != JobStatus.DONE or job.text is None:
            raise UserFacingError(N_("This transcription is not finished."))
        return job

    async def stop_chat(self, chat_id: int) -> int:
        """The bot was blocked or removed: its pending jobs there are cancelled."""
        count = await self.jobs.cancel_open_in_chat(chat_id, "the bot cannot write here")
        await self.session.commit()
        return count

    async def _job(self, job_id: int) -> JobView:
        # Callback data is anyone's to forge: an id outside BIGINT must not reach the
        # database (PostgreSQL refuses it with an error, not an empty result).
        job = await self.jobs.get(job_id) if 0 < job_id < 2**63 else None
        if job is None:
            raise UserFacingError(N_("This transcription no longer exists."))
        return job


def _copied_from(job: JobView) -> dict[str, Any]:
    """A finished job's transcript, for a row of its own (see `submit`)."""
    return {
        "status": JobStatus.DONE,
        "source_job_id": job.id,
        "speaker_id": job.speaker_id,
        "language": job.language,
        "text": job.text,
        "segments": job.segments,
        "audio_duration_s": job.audio_duration_s,
        "engine": job.engine,
        "model": job.model,
        "progress": 100.0,
        "finished_at": utcnow(),
    }


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), datetime.min.time(), UTC)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def _minutes(seconds: float) -> str:
    """m:ss, the minutes going past 60 ("60:00 long", "limit is 20:00"): limits are
    set and read in minutes, unlike a transcript's clock (bot.texts.clock)."""
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


__all__ = [
    "A2TStatus",
    "Admission",
    "OverQuotaError",
    "QuotaService",
    "RefusedError",
    "TranscriptionService",
    "dedup_key",
]
