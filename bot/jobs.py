"""The bot <-> worker contract: job names, how a job is enqueued and how it is encoded
in Redis. Jobs carry ids only; the database row is the truth about the job.

Two queues, one job function:
* ArqJobQueue (REDIS__URL set): jobs go to arq; `python -m worker` processes run them.
* InProcessJobQueue (embedded default): the bot runs the same job function itself,
  at most `max_jobs` at a time.

Jobs are JSON in Redis, not arq's default pickle: unpickling runs whatever code the
payload names, so with pickle anyone who can write to Redis could run code in every
worker. A payload that is not our JSON is refused by arq before any function runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import unquote

from arq.connections import ArqRedis, create_pool
from arq.connections import RedisSettings as ArqRedisSettings

from bot.log import get_logger
from bot.routing import Router, WorkerRegistry
from bot.settings import RedisSettings, Settings

log = get_logger(__name__)

TRANSCRIBE = "transcribe"


def serialize_job(data: dict[str, Any]) -> bytes:
    """arq's job and result records as JSON. Our arguments are ints; a failed job's
    result is an exception, kept as its text."""
    return json.dumps(data, separators=(",", ":"), default=_as_text).encode()


def deserialize_job(raw: bytes) -> dict[str, Any]:
    """The inverse of `serialize_job`; anything else (a pickle among them) raises, and
    arq then fails that job without running it."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("an arq job record is a JSON object")
    return data


def _as_text(value: object) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def arq_redis_settings(cfg: RedisSettings) -> ArqRedisSettings:
    """arq's connection settings from REDIS__URL (and REDIS__TLS_CA_FILE).

    arq's own `from_dsn` leaves a percent-encoded password encoded and does not check
    the TLS server's host name; both are fixed here."""
    assert cfg.url is not None
    settings = ArqRedisSettings.from_dsn(cfg.url.get_secret_value())
    settings.username = unquote(settings.username) if settings.username else None
    settings.password = unquote(settings.password) if settings.password else None
    if settings.ssl:
        settings.ssl_check_hostname = True
        if cfg.tls_ca_file is not None:
            settings.ssl_ca_certs = str(cfg.tls_ca_file)
    return settings


async def create_arq_pool(cfg: RedisSettings) -> ArqRedis:
    """One Redis connection pool that enqueues JSON jobs."""
    return await create_pool(
        arq_redis_settings(cfg),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )


def arq_job_id(job_id: int, generation: int) -> str:
    """Deterministic: a duplicate enqueue of the same generation is refused by arq."""
    return f"a2t:{job_id}:{generation}"


class JobQueue(Protocol):
    async def route(self, duration_s: float | None, language: str | None) -> str | None:
        """The queue a job of this length and language goes to (bot/routing.py); None
        where there is only the one (in process)."""
        ...

    async def enqueue_transcription(
        self, job_id: int, generation: int, queue: str | None = None
    ) -> None:
        """`queue`: the job's (its row's `queue`); None: the deployment's default."""
        ...

    async def is_pending(self, job_id: int, generation: int, queue: str | None = None) -> bool:
        """Whether the queue still holds (or runs) this generation of the job."""
        ...

    async def live_workers(self) -> dict[str, int] | None:
        """Workers alive per queue; None when jobs run in this process."""
        ...


class TransientJobError(Exception):
    """Try the job again later (network, Telegram 5xx, a database blip)."""

    def __init__(self, reason: str, defer_s: float) -> None:
        super().__init__(reason)
        self.defer_s = defer_s


class ArqJobQueue:
    def __init__(
        self, redis: ArqRedis, queue_name: str, router: Router | None = None, ttl_s: float = 15.0
    ) -> None:
        # Whoever made the pool, what this queue writes is JSON (see the module docstring).
        redis.job_serializer = serialize_job
        redis.job_deserializer = deserialize_job
        self.redis = redis
        self.queue_name = queue_name
        self.router = router
        self.registry = WorkerRegistry(redis, ttl_s)

    async def route(self, duration_s: float | None, language: str | None) -> str | None:
        if self.router is None:
            return self.queue_name
        return await self.router.route(duration_s, language, self.registry)

    async def enqueue_transcription(
        self, job_id: int, generation: int, queue: str | None = None
    ) -> None:
        job = await self.redis.enqueue_job(
            TRANSCRIBE,
            job_id,
            generation,
            _job_id=arq_job_id(job_id, generation),
            _queue_name=queue or self.queue_name,
        )
        if job is None:
            log.info("job already enqueued", job_id=job_id, generation=generation)

    async def is_pending(self, job_id: int, generation: int, queue: str | None = None) -> bool:
        from arq.jobs import Job, JobStatus

        status = await Job(
            arq_job_id(job_id, generation),
            self.redis,
            _queue_name=queue or self.queue_name,
            _deserializer=deserialize_job,
        ).status()
        return status in {JobStatus.deferred, JobStatus.queued, JobStatus.in_progress}

    @property
    def queues(self) -> list[str]:
        return self.router.queues if self.router is not None else [self.queue_name]

    async def depths(self) -> dict[str, int]:
        """Entries waiting in each arq queue (a sorted set), those deferred included."""
        return {queue: int(await self.redis.zcard(queue)) for queue in self.queues}

    async def depth(self) -> int:
        return sum((await self.depths()).values())

    async def live_workers(self) -> dict[str, int] | None:
        return {queue: await self.registry.live(queue) for queue in self.queues}


def arq_job_queue(redis: ArqRedis, settings: Settings) -> ArqJobQueue:
    """The queue the bot, the workers and the ops CLI use: routed by capability when
    A2T__ROUTING__ENABLED; a worker entry lives three sweep intervals."""
    return ArqJobQueue(
        redis,
        settings.redis.queue_name,
        Router(settings.redis, settings.a2t),
        ttl_s=3 * settings.a2t.sweep_interval_s,
    )


JobRunner = Callable[[int, int], Awaitable[None]]


class InProcessJobQueue:
    """Runs jobs as tasks of the bot's own event loop, `max_jobs` at a time, with the
    same retry policy as the arq worker (transient errors back off and try again)."""

    def __init__(self, run: JobRunner, *, max_jobs: int, max_tries: int) -> None:
        self.run = run
        self.max_tries = max_tries
        self.semaphore = asyncio.Semaphore(max_jobs)
        self.pending: dict[tuple[int, int], asyncio.Task[None]] = {}

    async def route(self, duration_s: float | None, language: str | None) -> str | None:
        return None

    async def enqueue_transcription(
        self, job_id: int, generation: int, queue: str | None = None
    ) -> None:
        key = (job_id, generation)
        if key in self.pending:
            return
        task = asyncio.create_task(self._run(job_id, generation), name=arq_job_id(*key))
        self.pending[key] = task
        task.add_done_callback(lambda _: self.pending.pop(key, None))

    async def is_pending(self, job_id: int, generation: int, queue: str | None = None) -> bool:
        return (job_id, generation) in self.pending

    async def live_workers(self) -> dict[str, int] | None:
        return None

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
