"""The bot <-> worker contract: job names and how a job is enqueued. Jobs carry ids
only; the database row is the truth about the job.

Two queues, one job function:
* ArqJobQueue (REDIS__URL set): jobs go to arq; `python -m worker` processes run them.
* InProcessJobQueue (embedded default): the bot runs the same job function itself,
  at most `max_jobs` at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from arq.connections import ArqRedis, RedisSettings, create_pool

from bot.log import get_logger

log = get_logger(__name__)

TRANSCRIBE = "transcribe"


def arq_job_id(job_id: int, generation: int) -> str:
    """Deterministic: a duplicate enqueue of the same generation is refused by arq."""
    return f"a2t:{job_id}:{generation}"


class JobQueue(Protocol):
    async def enqueue_transcription(self, job_id: int, generation: int) -> None: ...

    async def is_pending(self, job_id: int, generation: int) -> bool:
        """Whether the queue still holds (or runs) this generation of the job."""
        ...


class TransientJobError(Exception):
    """Try the job again later (network, Telegram 5xx, a database blip)."""

    def __init__(self, reason: str, defer_s: float) -> None:
        super().__init__(reason)
        self.defer_s = defer_s


async def open_arq(url: str) -> ArqRedis:
    """The Redis pool every process enqueues through (the bot, the workers, the ops CLI),
    so they all write jobs the same way."""
    return await create_pool(RedisSettings.from_dsn(url))


class ArqJobQueue:
    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue_transcription(self, job_id: int, generation: int) -> None:
        job = await self.redis.enqueue_job(
            TRANSCRIBE,
            job_id,
            generation,
            _job_id=arq_job_id(job_id, generation),
            _queue_name=self.queue_name,
        )
        if job is None:
            log.info("job already enqueued", job_id=job_id, generation=generation)

    async def is_pending(self, job_id: int, generation: int) -> bool:
        from arq.jobs import Job, JobStatus

        status = await Job(
            arq_job_id(job_id, generation), self.redis, _queue_name=self.queue_name
        ).status()
        return status in {JobStatus.deferred, JobStatus.queued, JobStatus.in_progress}

    async def depth(self) -> int:
        """Entries waiting in the arq queue (a sorted set), those deferred included."""
        return int(await self.redis.zcard(self.queue_name))


JobRunner = Callable[[int, int], Awaitable[None]]


class InProcessJobQueue:
    """Runs jobs as tasks of the bot's own event loop, `max_jobs` at a time, with the
    same retry policy as the arq worker (transient errors back off and try again)."""

    def __init__(self, run: JobRunner, *, max_jobs: int, max_tries: int) -> None:
        self.run = run
        self.max_tries = max_tries
        self.semaphore = asyncio.Semaphore(max_jobs)
        self.pending: dict[tuple[int, int], asyncio.Task[None]] = {}

    async def enqueue_transcription(self, job_id: int, generation: int) -> None:
        key = (job_id, generation)
        if key in self.pending:
            return
        task = asyncio.create_task(self._run(job_id, generation), name=arq_job_id(*key))
        self.pending[key] = task
        task.add_done_callback(lambda _: self.pending.pop(key, None))

    async def is_pending(self, job_id: int, generation: int) -> bool:
        return (job_id, generation) in self.pending

    async def _run(self, job_id: int, generation: int) -> None:
        for attempt in range(1, self.max_tries + 1):
            async with self.semaphore:
                try:
                    await self.run(job_id, generation)
                    return
                except TransientJobError as exc:
                    if attempt == self.max_tries:
                        log.error("job failed after retries", job_id=job_id, reason=str(exc))
                        return
                    defer = exc.defer_s
                except Exception:
                    log.exception("job crashed", job_id=job_id)
                    return
            await asyncio.sleep(defer)

    async def close(self) -> None:
        """Stop running jobs; the sweep re-enqueues them at the next start."""
        for task in list(self.pending.values()):
            task.cancel()
        await asyncio.gather(*self.pending.values(), return_exceptions=True)
