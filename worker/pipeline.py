"""One transcription job, start to finish: claim the row, fetch, decode, transcribe with
live progress, store, post, close. The same code runs in `python -m worker` (arq) and
inside the bot (embedded default).

From the claim on, a heartbeat task holds the job (worker/lease.py) and every write
to the row is fenced by this generation: a worker whose job was re-queued meanwhile
(it stalled, or its beats did not land) loses every write and stops.

Failure policy:
* bad input (corrupt, empty, too long/large, gone)  -> `failed`, user told, not retried
* decoded length past the requester's daily minutes -> `failed` (over_quota), told, not retried
* chat gone (bot blocked/removed)                   -> chat's open jobs cancelled
* cancelled by the user                              -> `cancelled`, status edited
* ownership lost (re-queued while this worker stalled) -> stop, touch nothing, log it
* transient (network, Telegram 5xx/429, a download 5xx, the database's connection),
  the decoder hung or died, or the job ran past A2T__JOB_TIMEOUT_S
                                                     -> released, tried again later
* the A2T__MAX_TRIES-th try ended so, or a new try finds the tries used up (workers
  died on this job: out of memory, a crash in the engine)
                                                     -> `failed`, user told
* worker shutting down                               -> released at once; the try
                                                        does not count
* anything else (a bug, a deterministic database error)
                                                     -> `failed` with an apology, logged
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.db.errors import is_transient_db_error
from bot.errors import UserFacingError
from bot.i18n import DEFAULT_LOCALE, _, create_i18n
from bot.jobs import TransientJobError
from bot.log import get_logger
from bot.repositories.jobs import OVER_QUOTA, JobRepository, JobView
from bot.services.transcription import OverQuotaError, QuotaService
from bot.settings import Settings
from bot.telegram import a2t_views as views
from bot.telegram.botapi import (
    BotAPI,
    ForbiddenError,
    NetworkError,
    RetryAfterError,
    ServerError,
)
from bot.texts import N_
from worker.audio import (
    AudioError,
    DecoderFailedError,
    DecoderProcess,
    check_length,
    open_audio,
)
from worker.download import DownloadFailedError, fetch_file
from worker.engines import (
    Engine,
    EngineUnavailableError,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)
from worker.engines.base import SAMPLE_RATE
from worker.lease import JobLease, OwnershipLostError, write_through
from worker.notifier import Notifier
from worker.windows import FIRST_WINDOW_S, Source, transcribe_windows

log = get_logger(__name__)
FIRST_WINDOW_SAMPLES = int(FIRST_WINDOW_S * SAMPLE_RATE)
_T = TypeVar("_T")

EngineProvider = Callable[[], Awaitable[Engine]]
# Called with a job's id once it is done and posted: what other features do then (a voice
# answer's card shows its text). The composition roots register them (bot/app.py,
# worker/main.py), so the pipeline knows no feature's Telegram code. A hook must not
# raise: the job is finished by then.
JobDoneHook = Callable[[int], Awaitable[None]]
# Telegram and network failures that another try may not meet. Database errors are
# transient only when the connection failed (bot/db/errors.py).
TRANSIENT = (
    NetworkError,
    ServerError,
    RetryAfterError,
    DownloadFailedError,
    DecoderFailedError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)
GAVE_UP = N_("I tried {tries} times and could not finish this one, so I stopped trying.")


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) or is_transient_db_error(exc)


class ChatGoneError(Exception):
    """The bot can no longer write to the job's chat."""


@dataclass
class _Run:
    """What the inference thread and the progress loop share for one job."""

    job: JobView
    stop: threading.Event
    duration: float = 0.0  # known once decoded
    segments: list[Segment] = field(default_factory=list)
    chat_gone: bool = False
    # The decoded length passed the checks and the quota: words may be shown.
    charged: bool = False
    # Samples decoded so far, and how many the quota admitted at submit (Telegram's
    # stated length): words of audio within that may be shown before the charge.
    decoded: Callable[[], int] = lambda: 0
    admitted: int | None = None
    # The first words, a window done, or the length charged (set in the event loop).
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def words_allowed(self) -> bool:
        """The length is charged, or what is decoded so far is within what the quota
        admitted at submit (a note longer than it said waits for the charge)."""
        return self.charged or (self.admitted is not None and self.decoded() <= self.admitted)

    @property
    def first_words_ready(self) -> bool:
        """Words to show at once: a note of one Whisper pass has them all at its end,
        a moment before the result, so it gets no early edit."""
        long = self.duration > FIRST_WINDOW_S or (self.admitted or 0) > FIRST_WINDOW_SAMPLES
        return long and bool(self.segments) and self.words_allowed

    @property
    def percent(self) -> float:
        # Before the length is known, the one Telegram stated.
        duration = self.duration or (self.admitted or 0) / SAMPLE_RATE
        if not self.segments or duration <= 0:
            return 0.0
        return min(99.0, self.segments[-1].end / duration * 100)


def _stop_if_refused(run: _Run, charge: asyncio.Task[None]) -> None:
    """A refused length stops the engine at its next segment."""
    if not charge.cancelled() and charge.exception() is not None:
        run.stop.set()


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
        bot: BotAPI,
        engine: EngineProvider,
        executor: Executor,
        decoder: DecoderProcess | None = None,
        on_done: Sequence[JobDoneHook] = (),
    ) -> None:
        self.settings = settings
        self.a2t = settings.a2t
        self.sessions = session_factory
        self.bot = bot
        self.engine = engine
        self.executor = executor
        # None: decode with the ffmpeg program (PyAV not installed); a child either way.
        self.decoder = decoder
        self.on_done = tuple(on_done)
        self.notifier = Notifier(bot, settings.a2t)
        self.i18n = create_i18n()
        self.stale_after = timedelta(seconds=settings.a2t.stale_after_s)

    async def start(self) -> None:
        """Start the decoding child ahead of the first job."""
        if self.decoder is not None:
            await self.decoder.start()

    async def close(self) -> None:
        if self.decoder is not None:
            await self.decoder.close()

    async def run(self, job_id: int, generation: int) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job_id):
            async with self.sessions() as session:
                job = await JobRepository(session).claim(job_id, generation, self.stale_after)
                await session.commit()
            if job is None:
                log.info("job not claimable (finished, cancelled or taken)")
                return
            lease = JobLease(self.sessions, job, self.a2t.heartbeat_interval_s)
            lease.start()  # from the claim on, whatever the job is doing
            try:
                with (
                    structlog.contextvars.bound_contextvars(
                        chat_id=job.chat_id, attempt=job.attempts
                    ),
                    # Status and result texts in the requester's language.
                    self.i18n.context(),
                    self.i18n.use_locale(job.ui_locale or DEFAULT_LOCALE),
                ):
                    log.info("job started", generation=generation)
                    try:
                        await self._attempt(job, lease)
                    except OwnershipLostError:
                        log.warning(
                            "ownership lost",
                            detail="the job was re-queued while this worker stalled; "
                            "another worker has it, this one stops without touching it",
                        )
                        metrics.A2T_JOBS.labels("lost").inc()
            finally:
                await lease.close()

    async def _attempt(self, job: JobView, lease: JobLease) -> None:
        if job.attempts > self.a2t.max_tries:
            # Earlier tries all ended without a verdict: workers died on this job.
            await self._give_up(job, lease, "no try finished")
            return
        try:
            async with asyncio.timeout(self.a2t.job_timeout_s):
                await self._process(job, lease)
        except OwnershipLostError:
            raise
        except AudioError as exc:
            log.info("job input rejected", code=exc.code, reason=str(exc))
            await self._fail(job, lease, exc.code, exc)
        except EngineUnavailableError as exc:
            log.error("engine unavailable", error=str(exc))
            await self._fail(
                job,
                lease,
                "engine_unavailable",
                UserFacingError(N_("Voice transcription is not available here.")),
            )
        except TranscriptionStopped:
            await self._stopped(job, lease)
        except (ChatGoneError, ForbiddenError) as exc:
            await self._chat_gone(job, str(exc))
        except asyncio.CancelledError:
            # Worker shutting down: hand the job back at once (not counted as a try)
            # instead of waiting for its heartbeat to go stale.
            await asyncio.shield(self._release(job, refund=True))
            raise
        except Exception as exc:
            if is_transient(exc):
                await self._retry_later(job, lease, exc)
                return
            log.exception("job crashed")
            metrics.A2T_JOBS.labels("error").inc()
            await self._fail(
                job,
                lease,
                "internal",
                UserFacingError(N_("Something went wrong on my side; it is logged.")),
            )

    async def _process(self, job: JobView, lease: JobLease) -> None:
        clock = _StageClock()
        await self._check(lease)
        engine = await self.engine()
        if job.text is None:  # not transcribed by an earlier attempt
            max_bytes = self.a2t.max_file_bytes(self.settings.bot)
            data = await clock.time("fetch", fetch_file(self.bot, job.file_id, max_bytes))
            await self._check(lease)
            transcript = await self._decode_and_transcribe(job, lease, engine, data, clock)
            processing = clock.total()
            job = await clock.time("store", self._store(job, engine, transcript, processing))
            _observe_success(transcript, processing)
        elif job.result_parts is None:  # stored before results were split on storing
            job = await self._store_parts(job)
        await clock.time(
            "post", self.notifier.result(job, engine.multilingual, _RowPostingLog(self, job, lease))
        )

        async def finish_done(session: AsyncSession) -> bool:
            jobs = JobRepository(session)
            if not await jobs.finish(job.id, job.generation, JobStatus.DONE, posted_at=utcnow()):
                return False
            metrics.A2T_QUEUE_DEPTH.set(await jobs.open_count())
            return True

        if not await write_through(self.sessions, finish_done):
            raise OwnershipLostError
        metrics.A2T_JOBS.labels("done").inc()
        for hook in self.on_done:
            await hook(job.id)
        metrics.A2T_TIME_TO_RESULT.observe((utcnow() - job.received_at).total_seconds())
        log.info("job done", audio_s=job.audio_duration_s, stages_ms=clock.stages_ms())

    async def _decode_and_transcribe(
        self, job: JobView, lease: JobLease, engine: Engine, data: bytes, clock: _StageClock
    ) -> Transcript:
        """The engine starts on the first window while the rest decodes; the length is
        checked and charged as soon as decoding ends; until then, words are shown only
        of audio within the length Telegram stated (what the quota admitted at submit)."""
        run = _Run(job=job, stop=lease.stop)
        if job.declared_duration_s is not None:
            run.admitted = int((job.declared_duration_s + QuotaService.ROUNDING_S) * SAMPLE_RATE)
        async with open_audio(
            data,
            max_seconds=self.a2t.max_duration_s,
            timeout_s=self.a2t.decode_timeout_s,
            child=self.decoder,
        ) as source:
            run.decoded = lambda: source.available
            if not await source.wait_for(1):
                await source.wait_finished()  # the decoder's verdict, if it has one
                check_length(0, self.a2t.max_duration_s)
            charge = asyncio.create_task(clock.time("decode", self._charge(job, source, run)))
            charge.add_done_callback(partial(_stop_if_refused, run))
            try:
                transcript = await clock.time(
                    "engine", self._transcribe(lease, engine, source, run)
                )
            except BaseException as exc:
                refused = charge.done() and not charge.cancelled() and charge.exception()
                if isinstance(exc, TranscriptionStopped) and refused:
                    await charge  # the length was refused: that is the verdict
                charge.cancel()
                await asyncio.wait([charge])
                if not charge.cancelled():
                    charge.exception()  # seen: the engine's failure is the one raised
                raise
            await charge  # words are stored only once the length is charged
            return transcript

    async def _charge(self, job: JobView, source: Source, run: _Run) -> None:
        """The decoded length against the limit and the requester's minutes for today:
        refused like bad input (told, not retried) when it passes them."""
        seconds = check_length(await source.wait_finished(), self.a2t.max_duration_s)
        async with self.sessions() as session:
            try:
                await QuotaService(session, self.a2t).charge_decoded(run.job, seconds)
            except OverQuotaError as exc:
                raise AudioError(OVER_QUOTA, exc.text, **exc.params) from None
            await session.commit()
        run.duration = seconds
        run.charged = True
        run.updated.set()

    @staticmethod
    async def _check(lease: JobLease) -> None:
        """Between stages: a beat (one small UPDATE) says whether to go on."""
        await lease.beat()
        lease.check()
        if lease.cancel_requested:
            raise TranscriptionStopped

    async def _transcribe(
        self, lease: JobLease, engine: Engine, source: Source, run: _Run
    ) -> Transcript:
        loop = asyncio.get_running_loop()

        def on_segment(segment: Segment) -> None:  # in the inference thread
            run.segments.append(segment)  # list.append is atomic under the GIL
            if len(run.segments) == 1:  # the first words: the progress loop shows them
                loop.call_soon_threadsafe(run.updated.set)

        options = TranscribeOptions(
            language=run.job.language_hint,
            on_segment=on_segment,
            should_stop=run.stop.is_set,
        )
        inference = asyncio.ensure_future(
            transcribe_windows(
                engine,
                source,
                options,
                executor=self.executor,
                window_s=self.a2t.window_s,
                expected_s=run.job.declared_duration_s,
                on_window=run.updated.set,
            )
        )
        progress = asyncio.create_task(self._progress_loop(run, lease, inference))
        try:
            return await inference
        except TranscriptionStopped:
            if run.chat_gone:
                raise ChatGoneError("bot was blocked or removed") from None
            lease.check()
            raise
        finally:
            run.stop.set()  # a cancelled job (timeout, shutdown) ends its thread too
            progress.cancel()

    async def _progress_loop(
        self, run: _Run, lease: JobLease, inference: asyncio.Future[Any]
    ) -> None:
        """Status edits while the engine runs, at most one per A2T__PROGRESS_INTERVAL_S,
        but the first words as soon as the first window has them. The heartbeat is not
        here: it beats on its own, however long an edit waits for Telegram."""
        loop = asyncio.get_running_loop()
        interval = self.a2t.progress_interval_s
        next_edit = loop.time() + interval
        shown = ""
        words_shown = False
        while not inference.done():
            if words_shown or not run.first_words_ready:
                run.updated.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_edit - loop.time())):
                        await run.updated.wait()
                first_words = not words_shown and run.first_words_ready
                if inference.done() or (loop.time() < next_edit and not first_words):
                    continue
            next_edit = loop.time() + interval
            lease.progress = run.percent
            words = " ".join(s.text for s in run.segments) if run.words_allowed else ""
            text = views.progress_text(run.percent, words)
            # Sent or not, these words no longer count as first: the clock rules again.
            words_shown = words_shown or bool(words)
            if text == shown or run.stop.is_set():
                continue
            try:
                await lease.ensure_held()
                await self.notifier.progress(run.job, text)
            except OwnershipLostError:
                return
            except ForbiddenError:
                run.chat_gone = True
                run.stop.set()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.debug("progress edit skipped", error=repr(exc))
            shown = text

    def _parts(self, job: JobView) -> list[str]:
        """The result as messages, split once: the footer says how late the result is
        as of now, so a re-run must not split again."""
        delayed_after = timedelta(seconds=self.a2t.delayed_after_s)
        return views.result_messages(job, views.result_footer(job, utcnow(), delayed_after))

    async def _store(
        self, job: JobView, engine: Engine, transcript: Transcript, processing: float
    ) -> JobView:
        values: dict[str, Any] = {
            "text": transcript.text,
            "segments": [
                {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text}
                for s in transcript.segments
            ],
            "language": transcript.language,
            "audio_duration_s": transcript.duration,
            "processing_s": processing,
            "engine": engine.name,
            "model": engine.model_name,
            "progress": 100.0,
        }
        values["result_parts"] = self._parts(
            dataclasses.replace(
                job,
                text=transcript.text,
                language=transcript.language,
                audio_duration_s=transcript.duration,
            )
        )
        return await self._write(job, **values)

    async def _store_parts(self, job: JobView) -> JobView:
        return await self._write(job, result_parts=self._parts(job))

    async def _write(self, job: JobView, **values: Any) -> JobView:
        """A fenced write to the row; returns the row as stored."""
        if not await write_through(
            self.sessions,
            lambda session: JobRepository(session).update_owned(job.id, job.generation, **values),
        ):
            raise OwnershipLostError
        async with self.sessions() as session:
            stored = await JobRepository(session).get(job.id)
        assert stored is not None
        return stored

    async def _retry_later(self, job: JobView, lease: JobLease, exc: BaseException) -> None:
        if job.attempts >= self.a2t.max_tries:
            await self._give_up(job, lease, repr(exc))
            return
        defer = self.a2t.retry_delay(job.attempts)
        log.warning("job will be tried again", error=repr(exc), defer_s=defer)
        try:
            released = await self._release(job)
        except Exception as release_error:  # noqa: BLE001 - the stale heartbeat covers it
            log.warning("job not released; the sweep will re-queue it", error=repr(release_error))
            released = True
        if not released:
            raise OwnershipLostError
        raise TransientJobError(repr(exc), defer)

    async def _give_up(self, job: JobView, lease: JobLease, reason: str) -> None:
        log.error("job given up", tries=self.a2t.max_tries, reason=reason)
        await self._fail(job, lease, "gave_up", UserFacingError(GAVE_UP, tries=self.a2t.max_tries))

    async def _fail(
        self, job: JobView, lease: JobLease, code: str, reason: UserFacingError
    ) -> None:
        await lease.ensure_held()
        try:
            text = views.failed_text(reason.render(_, escape_html=False))
            await self.notifier.replace_status(job, text)
        except ForbiddenError as exc:
            await self._chat_gone(job, str(exc))
            return
        finished = await write_through(
            self.sessions,
            lambda session: JobRepository(session).finish(
                job.id, job.generation, JobStatus.FAILED, error_code=code, error_message=str(reason)
            ),
        )
        if not finished:
            raise OwnershipLostError
        metrics.A2T_JOBS.labels(f"failed_{code}" if code in _KNOWN_FAILURES else "failed").inc()

    async def _stopped(self, job: JobView, lease: JobLease) -> None:
        await lease.ensure_held()
        log.info("job cancelled by request")
        try:
            await self.notifier.replace_status(job, views.cancelled_text())
        except ForbiddenError as exc:
            await self._chat_gone(job, str(exc))
            return
        finished = await write_through(
            self.sessions,
            lambda session: JobRepository(session).finish(
                job.id, job.generation, JobStatus.CANCELLED
            ),
        )
        if not finished:
            raise OwnershipLostError
        metrics.A2T_JOBS.labels("cancelled").inc()

    async def _chat_gone(self, job: JobView, reason: str) -> None:
        log.warning("chat unavailable: stopping its jobs", reason=reason)
        count = await write_through(
            self.sessions,
            lambda session: JobRepository(session).cancel_open_in_chat(job.chat_id, reason),
        )
        metrics.A2T_JOBS.labels("chat_gone").inc(count)

    async def _release(self, job: JobView, *, refund: bool = False) -> bool:
        return await write_through(
            self.sessions,
            lambda session: JobRepository(session).release(job.id, job.generation, refund=refund),
        )


class _RowPostingLog:
    """Posting progress on the job row, every write fenced by the generation; before
    each send, ownership is confirmed (a stalled worker must not post)."""

    def __init__(self, pipeline: Pipeline, job: JobView, lease: JobLease) -> None:
        self.sessions = pipeline.sessions
        self.job = job
        self.lease = lease

    async def sending(self, part: int) -> None:
        await self.lease.ensure_held()
        await self._update(posting_part=part)

    async def sent(self, message_ids: list[int]) -> None:
        await self._update(result_message_ids=message_ids, posting_part=None)

    async def _update(self, **values: Any) -> None:
        if not await write_through(
            self.sessions,
            lambda session: JobRepository(session).update_owned(
                self.job.id, self.job.generation, **values
            ),
        ):
            raise OwnershipLostError


_KNOWN_FAILURES = {
    "unreadable",
    "empty",
    "too_long",
    "too_large",
    "unavailable",
    "gave_up",
    OVER_QUOTA,
}


def _observe_success(transcript: Transcript, processing: float) -> None:
    metrics.A2T_AUDIO_SECONDS.inc(transcript.duration)
    metrics.A2T_PROCESSING_SECONDS.observe(processing)
    if transcript.duration > 0:
        metrics.A2T_REALTIME_FACTOR.observe(processing / transcript.duration)
