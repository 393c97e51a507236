"""One transcription job, start to finish: claim the row, fetch, decode, transcribe with
live progress, store, post, close. The same code runs in `python -m worker` (arq) and
inside the bot (embedded default).

Failure policy:
* bad input (corrupt, empty, too long/large)       -> `failed`, user told, not retried
* decoded length past the requester's daily minutes -> `failed` (over_quota), told, not retried
* chat gone (bot blocked/removed)                   -> chat's open jobs cancelled
* transient (network, Telegram 5xx/429, DB blip)    -> job released, TransientJobError
* cancelled by the user                              -> `cancelled`, status edited
* anything else (a bug)                              -> `failed` with an apology, logged
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.errors import UserFacingError
from bot.i18n import DEFAULT_LOCALE, _, create_i18n
from bot.jobs import TransientJobError
from bot.log import get_logger
from bot.repositories.jobs import OVER_QUOTA, JobRepository, JobView
from bot.services.transcription import OverQuotaError, QuotaService
from bot.settings import Settings
from bot.telegram import a2t_views as views
from bot.telegram import application_actions
from bot.texts import N_
from worker.audio import AudioError, DecodedAudio, decode
from worker.download import fetch_file
from worker.engines import (
    Engine,
    EngineUnavailableError,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)
from worker.notifier import Notifier

log = get_logger(__name__)
_T = TypeVar("_T")

EngineProvider = Callable[[], Awaitable[Engine]]
TRANSIENT = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    OperationalError,
    DBAPIError,
    ConnectionError,
    TimeoutError,
)


class ChatGoneError(Exception):
    """The bot can no longer write to the job's chat."""


@dataclass
class _Run:
    """What the inference thread and the progress loop share for one job."""

    job: JobView
    duration: float
    segments: list[Segment] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    chat_gone: bool = False

    @property
    def percent(self) -> float:
        if not self.segments or self.duration <= 0:
            return 0.0
        return min(99.0, self.segments[-1].end / self.duration * 100)


class _StageClock:
    """How long each stage of a job took (logged with "job done")."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}

    async def time(self, stage: str, work: Awaitable[_T]) -> _T:
        began = time.perf_counter()
        try:
            return await work
        finally:
            self.stages[stage] = time.perf_counter() - began

    def total(self) -> float:
        return time.perf_counter() - self.started

    def stages_ms(self) -> dict[str, int]:
        return {name: round(seconds * 1000) for name, seconds in self.stages.items()}


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        bot: Bot,
        engine: EngineProvider,
        executor: Executor,
    ) -> None:
        self.settings = settings
        self.a2t = settings.a2t
        self.sessions = session_factory
        self.bot = bot
        self.engine = engine
        self.executor = executor
        self.notifier = Notifier(bot, settings.a2t)
        self.i18n = create_i18n()
        self.stale_after = timedelta(seconds=settings.a2t.stale_after_s)

    async def run(self, job_id: int, generation: int) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job_id):
            async with self.sessions() as session:
                job = await JobRepository(session).claim(job_id, generation, self.stale_after)
                await session.commit()
            if job is None:
                log.info("job not claimable (finished, cancelled or taken)")
                return
            with (
                structlog.contextvars.bound_contextvars(chat_id=job.chat_id, attempt=job.attempts),
                # Status and result texts in the requester's language.
                self.i18n.context(),
                self.i18n.use_locale(job.ui_locale or DEFAULT_LOCALE),
            ):
                log.info("job started", generation=generation)
                await self._run_claimed(job)

    async def _run_claimed(self, job: JobView) -> None:
        try:
            await self._process(job)
        except AudioError as exc:
            log.info("job input rejected", code=exc.code, reason=str(exc))
            await self._fail(job, exc.code, exc)
        except EngineUnavailableError as exc:
            log.error("engine unavailable", error=str(exc))
            await self._fail(
                job,
                "engine_unavailable",
                UserFacingError(N_("Voice transcription is not available here.")),
            )
        except TranscriptionStopped:
            await self._stopped(job)
        except (ChatGoneError, TelegramForbiddenError) as exc:
            await self._chat_gone(job, str(exc))
        except TRANSIENT as exc:
            defer = min(300.0, 2.0 ** min(job.attempts, 8))
            log.warning("job hit a transient error; will retry", error=repr(exc), defer_s=defer)
            await self._release(job)
            raise TransientJobError(repr(exc), defer) from exc
        except asyncio.CancelledError:
            # Worker shutting down: hand the job back at once instead of waiting for
            # its heartbeat to go stale.
            await asyncio.shield(self._release(job))
            raise
        except Exception:
            log.exception("job crashed")
            metrics.A2T_JOBS.labels("error").inc()
            await self._fail(
                job,
                "internal",
                UserFacingError(N_("Something went wrong on my side; it is logged.")),
            )

    async def _process(self, job: JobView) -> None:
        clock = _StageClock()
        if job.cancel_requested_by is not None:
            raise TranscriptionStopped
        engine = await self.engine()
        if job.text is None:  # not transcribed by an earlier attempt
            max_bytes = self.a2t.max_file_bytes(self.settings.bot)
            data = await clock.time("fetch", fetch_file(self.bot, job.file_id, max_bytes))
            audio = await clock.time(
                "decode",
                decode(
                    data, max_seconds=self.a2t.max_duration_s, timeout_s=self.a2t.decode_timeout_s
                ),
            )
            await clock.time("quota", self._charge_requester(job, audio.duration))
            transcript = await clock.time("engine", self._transcribe(job, engine, audio))
            processing = clock.total()
            job = await clock.time("store", self._store(job, engine, transcript, processing))
            _observe_success(transcript, processing)
        await clock.time(
            "post", self.notifier.result(job, engine.multilingual, self._saver(job.id))
        )
        async with self.sessions() as session:
            await JobRepository(session).finish(job.id, JobStatus.DONE, posted_at=utcnow())
            metrics.A2T_QUEUE_DEPTH.set(await JobRepository(session).open_count())
            await session.commit()
        metrics.A2T_JOBS.labels("done").inc()
        # A voice answer to a membership application: its card shows the text now.
        await application_actions.transcript_ready(self.bot, self.sessions, self.settings, job.id)
        metrics.A2T_TIME_TO_RESULT.observe((utcnow() - job.received_at).total_seconds())
        log.info("job done", audio_s=job.audio_duration_s, stages_ms=clock.stages_ms())

    async def _charge_requester(self, job: JobView, seconds: float) -> None:
        """The real length against the requester's minutes for today: refused like bad
        input (told, not retried) when it passes them."""
        async with self.sessions() as session:
            try:
                await QuotaService(session, self.a2t).charge_decoded(job, seconds)
            except OverQuotaError as exc:
                raise AudioError(OVER_QUOTA, exc.text, **exc.params) from None
            await session.commit()

    async def _transcribe(self, job: JobView, engine: Engine, audio: DecodedAudio) -> Transcript:
        run = _Run(job=job, duration=audio.duration)
        options = TranscribeOptions(
            language=job.language_hint,
            on_segment=run.segments.append,  # list.append is atomic under the GIL
            should_stop=run.stop.is_set,
        )
        loop = asyncio.get_running_loop()
        inference = loop.run_in_executor(self.executor, engine.transcribe, audio.samples, options)
        progress = asyncio.create_task(self._progress_loop(run, inference))
        try:
            return await inference
        except TranscriptionStopped:
            if run.chat_gone:
                raise ChatGoneError("bot was blocked or removed") from None
            raise
        finally:
            run.stop.set()  # a cancelled job (timeout, shutdown) ends its thread too
            progress.cancel()

    async def _progress_loop(self, run: _Run, inference: asyncio.Future[Any]) -> None:
        shown = ""
        interval = self.a2t.progress_interval_s
        while not inference.done():
            await asyncio.sleep(interval)
            text = views.progress_text(run.percent, " ".join(s.text for s in run.segments))
            if text != shown:
                try:
                    await self.notifier.progress(run.job, text)
                except TelegramForbiddenError:
                    run.chat_gone = True
                    run.stop.set()
                    return
                except TRANSIENT as exc:
                    log.debug("progress edit failed", error=repr(exc))
                shown = text
            try:
                async with self.sessions() as session:
                    cancelled = await JobRepository(session).beat(run.job.id, run.percent)
                    await session.commit()
            except TRANSIENT as exc:
                log.warning("heartbeat failed", error=repr(exc))
                continue
            if cancelled:
                run.stop.set()

    async def _store(
        self, job: JobView, engine: Engine, transcript: Transcript, processing: float
    ) -> JobView:
        async with self.sessions() as session:
            jobs = JobRepository(session)
            await jobs.update_fields(
                job.id,
                text=transcript.text,
                segments=[
                    {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text}
                    for s in transcript.segments
                ],
                language=transcript.language,
                audio_duration_s=transcript.duration,
                processing_s=processing,
                engine=engine.name,
                model=engine.model_name,
                progress=100.0,
            )
            await session.commit()
            stored = await jobs.get(job.id)
        assert stored is not None
        return stored

    def _saver(self, job_id: int) -> Callable[[list[int]], Awaitable[None]]:
        async def save(message_ids: list[int]) -> None:
            async with self.sessions() as session:
                await JobRepository(session).update_fields(job_id, result_message_ids=message_ids)
                await session.commit()

        return save

    async def _fail(self, job: JobView, code: str, reason: UserFacingError) -> None:
        try:
            text = views.failed_text(reason.render(_, escape_html=False))
            await self.notifier.replace_status(job, text)
        except TelegramForbiddenError as exc:
            await self._chat_gone(job, str(exc))
            return
        async with self.sessions() as session:
            await JobRepository(session).finish(
                job.id, JobStatus.FAILED, error_code=code, error_message=str(reason)
            )
            await session.commit()
        metrics.A2T_JOBS.labels(f"failed_{code}" if code in _KNOWN_FAILURES else "failed").inc()

    async def _stopped(self, job: JobView) -> None:
        log.info("job cancelled by request")
        try:
            await self.notifier.replace_status(job, views.cancelled_text())
        except TelegramForbiddenError as exc:
            await self._chat_gone(job, str(exc))
            return
        async with self.sessions() as session:
            await JobRepository(session).finish(job.id, JobStatus.CANCELLED)
            await session.commit()
        metrics.A2T_JOBS.labels("cancelled").inc()

    async def _chat_gone(self, job: JobView, reason: str) -> None:
        log.warning("chat unavailable: stopping its jobs", reason=reason)
        async with self.sessions() as session:
            count = await JobRepository(session).cancel_open_in_chat(job.chat_id, reason)
            await session.commit()
        metrics.A2T_JOBS.labels("chat_gone").inc(count)

    async def _release(self, job: JobView) -> None:
        async with self.sessions() as session:
            await JobRepository(session).release(job.id)
            await session.commit()


_KNOWN_FAILURES = {
    "unreadable",
    "empty",
    "too_long",
    "too_large",
    "unavailable",
    "decode_timeout",
    OVER_QUOTA,
}


def _observe_success(transcript: Transcript, processing: float) -> None:
    metrics.A2T_AUDIO_SECONDS.inc(transcript.duration)
    metrics.A2T_PROCESSING_SECONDS.observe(processing)
    if transcript.duration > 0:
        metrics.A2T_REALTIME_FACTOR.observe(processing / transcript.duration)
