"""Worker routing by capability: which queue a transcription job goes to, which queue a
worker reads, and which workers are alive.

With `A2T__ROUTING__ENABLED` there are two queues, `<REDIS__QUEUE_NAME>:light` and
`<REDIS__QUEUE_NAME>:heavy`. A job is light when its note is short
(`A2T__ROUTING__LIGHT_MAX_DURATION_S`, Telegram's stated duration) and it asks for no
language or one of `A2T__ROUTING__LIGHT_LANGUAGES`; anything else (long or unknown
length, "re-run as <language>") is heavy. Light workers (CPU) read the light queue,
heavy workers (GPU, a multilingual model) the heavy one: a worker reads exactly one
queue, so a light worker never takes a heavy job. A light job goes to the heavy queue
while no light worker is alive (a GPU-only fleet); a heavy job waits for a heavy
worker, and the wait is reported (`a2t_queue_live_workers` 0, the A2TNoLiveWorker
alert, /a2t_status for moderators) rather than left silently stuck.

Liveness: every worker writes itself into its queue's registry (a Redis sorted set,
`<queue>:workers`, scored by when its entry expires) every sweep interval; an entry
not renewed for three intervals no longer counts. Without routing there is one queue
and nothing to choose, but the registry is kept all the same (the live-worker gauge).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.log import get_logger
from bot.settings import A2TSettings, RedisSettings

log = get_logger(__name__)

JobClass = Literal["light", "heavy"]


class Router:
    def __init__(self, redis_cfg: RedisSettings, a2t: A2TSettings) -> None:
        self.base = redis_cfg.queue_name
        self.cfg = a2t.routing
        self.worker_class_setting = a2t.worker_class
        self.device = a2t.device

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def queue(self, job_class: JobClass) -> str:
        return f"{self.base}:{job_class}" if self.cfg.enabled else self.base

    @property
    def queues(self) -> list[str]:
        return [self.queue("light"), self.queue("heavy")] if self.cfg.enabled else [self.base]

    def job_class(self, duration_s: float | None, language: str | None) -> JobClass:
        if duration_s is None or duration_s > self.cfg.light_max_duration_s:
            return "heavy"  # long, or of unknown length (an audio file may state none)
        if language and self.cfg.light_languages and language not in self.cfg.light_languages:
            return "heavy"
        return "light"

    def worker_class(self) -> JobClass:
        if self.worker_class_setting != "auto":
            return self.worker_class_setting
        return "heavy" if self.device == "cuda" else "light"

    def worker_queue(self) -> str:
        """The one queue this worker process reads."""
        return self.queue(self.worker_class())

    async def route(
        self, duration_s: float | None, language: str | None, registry: WorkerRegistry | None
    ) -> str:
        if not self.cfg.enabled:
            return self.base
        job_class = self.job_class(duration_s, language)
        if job_class == "light" and self.cfg.light_overflow_to_heavy and registry is not None:
            try:
                if (
                    await registry.live(self.queue("light")) == 0
                    and await registry.live(self.queue("heavy")) > 0
                ):
                    job_class = "heavy"
            except (RedisError, OSError) as exc:  # enqueueing will tell if Redis is gone
                log.warning("worker registry unreadable: routing by class", error=repr(exc))
        return self.queue(job_class)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerRegistry:
    """Live workers per queue, in Redis. Scores are wall-clock expiry times: workers'
    clocks must agree (NTP), as the heartbeats already require."""

    def __init__(self, redis: Redis, ttl_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    @staticmethod
    def key(queue: str) -> str:
        return f"{queue}:workers"

    async def beat(self, queue: str, worker: str) -> None:
        now = time.time()
        key = self.key(queue)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {worker: now + self.ttl_s})
            pipe.zremrangebyscore(key, "-inf", now)
            await pipe.execute()

    async def leave(self, queue: str, worker: str) -> None:
        await self.redis.zrem(self.key(queue), worker)

    async def live(self, queue: str) -> int:
        return int(await self.redis.zcount(self.key(queue), time.time(), "+inf"))
