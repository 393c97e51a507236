"""arq WorkerSettings. Run with `python -m worker` or `arq worker.main.WorkerSettings`.

Start-up loads the engine once (a missing model or library stops the worker with a
clear message), opens the database and a Bot API client for posting back, serves /metrics, and
starts the sweep that re-enqueues lost jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from functools import partial
from typing import Any

from arq import func
from redis.exceptions import RedisError

from bot import metrics
from bot.bootstrap import ConfigError, load_settings
from bot.db.engine import create_engine, create_session_factory
from bot.db.migrate import current_revision, head_revision
from bot.error_reports import install_error_reports
from bot.gauges import QueueGauges
from bot.http import create_app, start_site
from bot.jobs import (
    TRANSCRIBE,
    arq_job_queue,
    arq_redis_settings,
    deserialize_job,
    serialize_job,
)
from bot.log import get_logger
from bot.readiness import dependency_checks
from bot.routing import Router, WorkerRegistry, worker_id
from bot.settings import Settings
from bot.telegram.applications.card import transcript_ready
from bot.telegram.botapi import create_client
from worker.engines import EngineUnavailableError
from worker.jobs import transcribe
from worker.runtime import EngineHolder, create_pipeline
from worker.sweep import sweep_forever

log = get_logger(__name__)


async def startup(ctx: dict[str, Any]) -> None:
    if "settings" not in ctx:  # started by `arq worker.main.WorkerSettings`
        ctx["settings"] = load_settings()
    settings: Settings = ctx["settings"]
    if settings.bot.token is None:
        raise ConfigError("BOT__TOKEN is not set: the worker posts results as the bot")

    engine_holder = EngineHolder(settings.a2t)
    try:
        engine = await engine_holder.get()
    except EngineUnavailableError as exc:
        raise ConfigError(f"cannot start the transcription engine: {exc}") from None
    log.info("engine ready", engine=engine.name, model=engine.model_name, device=engine.device)
    router = Router(settings.redis, settings.a2t)
    if router.enabled and router.worker_class() == "heavy" and not engine.multilingual:
        raise ConfigError(
            "a heavy worker needs a multilingual model: long notes and re-runs in other "
            "languages go to it (set A2T__WHISPER__MODEL, or A2T__WORKER_CLASS=light)"
        )

    db = create_engine(settings.db)
    if await current_revision(db) != head_revision():
        await db.dispose()
        raise ConfigError("database schema is not at head: run `alembic upgrade head`")
    sessions = create_session_factory(db)
    # Under the deployment's one Telegram budget, shared with the bot and other workers.
    # The Bot API client, not aiogram's Bot: the worker never loads aiogram (its import
    # alone is about half of an idle worker's memory, docs/PERFORMANCE.md).
    bot = create_client(settings.bot, ctx["redis"])
    ctx["stop_reports"] = install_error_reports(settings.moderation, bot.send_message, "worker")
    # A voice answer to a membership application: its card shows the text once done.
    card_hook = partial(transcript_ready, bot, sessions, settings)
    pipeline, executor = create_pipeline(
        settings, sessions, bot, engine_holder, on_done=[card_hook]
    )
    ctx.update(db=db, bot=bot, pipeline=pipeline, executor=executor)
    await pipeline.start()
    queue = arq_job_queue(ctx["redis"], settings)
    serves = router.worker_queue()
    ctx["sweeper"] = asyncio.create_task(
        sweep_forever(
            sessions,
            queue,
            timedelta(seconds=settings.a2t.stale_after_s),
            settings.a2t.sweep_interval_s,
            QueueGauges(settings.redis.queue_name),
        )
    )
    # Alive in its queue's registry: the bot routes by it and reports a queue none serves.
    ctx["serves"], ctx["worker_id"] = serves, worker_id()
    ctx["registry"] = queue.registry
    ctx["announcer"] = asyncio.create_task(
        _announce_forever(queue.registry, serves, ctx["worker_id"], settings.a2t.sweep_interval_s)
    )
    metrics.A2T_WORKER_UP.labels(serves, engine.name, engine.device).set(1)
    log.info("serving queue", queue=serves)
    if settings.metrics.enabled:
        # /readyz: this worker can take jobs only while PostgreSQL and Redis answer.
        app = create_app(dependency_checks(db, ctx["redis"]))
        try:
            ctx["http"] = await start_site(app, settings.metrics.host, settings.metrics.worker_port)
        except OSError as exc:  # several workers on one host: only the first gets the port
            log.warning("metrics port busy; this worker serves no /metrics", error=str(exc))


async def _announce_forever(
    registry: WorkerRegistry, queue: str, worker: str, interval_s: float
) -> None:
    while True:
        try:
            await registry.beat(queue, worker)
        except (RedisError, OSError) as exc:  # arq itself stops taking jobs meanwhile
            log.warning("worker registry not updated", error=repr(exc))
        await asyncio.sleep(interval_s)


async def shutdown(ctx: dict[str, Any]) -> None:
    for name in ("sweeper", "announcer"):
        task: asyncio.Task[None] | None = ctx.get(name)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if "registry" in ctx:
        with contextlib.suppress(RedisError, OSError):
            await ctx["registry"].leave(ctx["serves"], ctx["worker_id"])
    if "http" in ctx:
        await ctx["http"].cleanup()
    if ctx.get("stop_reports") is not None:
        await ctx["stop_reports"]()
    if "bot" in ctx:
        await ctx["bot"].close()
    if "executor" in ctx:
        ctx["executor"].shutdown(wait=False, cancel_futures=True)
    if "pipeline" in ctx:
        await ctx["pipeline"].close()
    if "db" in ctx:
        await ctx["db"].dispose()
    log.info("worker stopped")


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq Worker keyword arguments from our settings."""
    if settings.redis.url is None:
        raise ConfigError("REDIS__URL is not set: workers take their jobs from Redis")
    a2t = settings.a2t
    return {
        "functions": [
            func(
                transcribe,
                name=TRANSCRIBE,
                # The pipeline ends a job at A2T__JOB_TIMEOUT_S itself (a counted try);
                # arq's own limit is only the backstop.
                timeout=a2t.job_timeout_s + 60,
                max_tries=a2t.max_tries,
            )
        ],
        "redis_settings": arq_redis_settings(settings.redis),
        # JSON, never pickle: a payload written into Redis by anyone else is refused
        # instead of run (bot/jobs.py).
        "job_serializer": serialize_job,
        "job_deserializer": deserialize_job,
        # With routing, the one queue of this worker's class (bot/routing.py).
        "queue_name": Router(settings.redis, settings.a2t).worker_queue(),
        "max_jobs": a2t.max_jobs,
        "job_timeout": a2t.job_timeout_s + 60,
        "max_tries": a2t.max_tries,
        "poll_delay": a2t.poll_delay_s,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "keep_result": 3600,
        "ctx": {"settings": settings},
    }


def __getattr__(name: str) -> Any:
    """`arq worker.main.WorkerSettings`: the options, read from the environment when
    arq asks for them (not at import, so importing this module never fails)."""
    if name == "WorkerSettings":
        return worker_options(load_settings())
    raise AttributeError(name)
