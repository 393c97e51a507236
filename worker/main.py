"""arq WorkerSettings. Run with `python -m worker` or `arq worker.main.WorkerSettings`.

Start-up loads the engine once (a missing model or library stops the worker with a
clear message), opens the database and a Bot for posting back, serves /metrics, and
starts the sweep that re-enqueues lost jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from arq import func

from bot import metrics
from bot.bootstrap import ConfigError, load_settings
from bot.db.engine import create_engine, create_session_factory
from bot.db.migrate import current_revision, head_revision
from bot.error_reports import install_error_reports
from bot.gauges import QueueGauges
from bot.http import create_app, start_site
from bot.jobs import TRANSCRIBE, ArqJobQueue, arq_redis_settings, deserialize_job, serialize_job
from bot.log import get_logger
from bot.readiness import dependency_checks
from bot.settings import Settings
from bot.telegram.dispatcher import create_bot
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

    db = create_engine(settings.db)
    if await current_revision(db) != head_revision():
        await db.dispose()
        raise ConfigError("database schema is not at head: run `alembic upgrade head`")
    sessions = create_session_factory(db)
    # Under the deployment's one Telegram budget, shared with the bot and other workers.
    bot = create_bot(settings.bot, redis=ctx["redis"])
    ctx["stop_reports"] = install_error_reports(settings.moderation, bot.send_message, "worker")
    pipeline, executor = create_pipeline(settings, sessions, bot, engine_holder)
    ctx.update(db=db, bot=bot, pipeline=pipeline, executor=executor)
    await pipeline.start()
    queue = ArqJobQueue(ctx["redis"], settings.redis.queue_name)
    ctx["sweeper"] = asyncio.create_task(
        sweep_forever(
            sessions,
            queue,
            timedelta(seconds=settings.a2t.stale_after_s),
            settings.a2t.sweep_interval_s,
            QueueGauges(settings.redis.queue_name),
        )
    )
    metrics.A2T_WORKER_UP.labels(settings.redis.queue_name, engine.name, engine.device).set(1)
    if settings.metrics.enabled:
        # /readyz: this worker can take jobs only while PostgreSQL and Redis answer.
        app = create_app(dependency_checks(db, ctx["redis"]))
        try:
            ctx["http"] = await start_site(app, settings.metrics.host, settings.metrics.worker_port)
        except OSError as exc:  # several workers on one host: only the first gets the port
            log.warning("metrics port busy; this worker serves no /metrics", error=str(exc))


async def shutdown(ctx: dict[str, Any]) -> None:
    sweeper: asyncio.Task[None] | None = ctx.get("sweeper")
    if sweeper is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    if "http" in ctx:
        await ctx["http"].cleanup()
    if ctx.get("stop_reports") is not None:
        await ctx["stop_reports"]()
    if "bot" in ctx:
        await ctx["bot"].session.close()
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
        "queue_name": settings.redis.queue_name,
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
