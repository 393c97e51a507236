"""Runs the bot: resources up, polling or webhook, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import signal
from contextlib import AsyncExitStack
from datetime import timedelta
from functools import partial

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import User
from aiogram.utils.token import TokenValidationError
from aiohttp import web
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.bootstrap import ConfigError
from bot.db.engine import create_engine, create_session_factory
from bot.db.migrate import ensure_schema
from bot.error_reports import install_error_reports
from bot.gauges import refresh_forever as refresh_gauges_forever
from bot.http import create_app, start_site
from bot.jobs import ArqJobQueue, InProcessJobQueue, JobQueue, arq_job_queue, create_arq_pool
from bot.log import get_logger
from bot.readiness import dependency_checks
from bot.services import AppDeps
from bot.services.transcription import A2TStatus
from bot.settings import Settings
from bot.telegram.applications.card import transcript_ready
from bot.telegram.botapi import BotAPI
from bot.telegram.commands import publish_commands
from bot.telegram.dispatcher import create_bot, create_dispatcher, sender_of
from bot.telegram.webhook import BoundedRequestHandler
from bot.texts import N_

log = get_logger(__name__)


async def run_bot(settings: Settings) -> None:
    stop = _stop_event()
    async with AsyncExitStack() as stack:
        # Redis first: the Bot takes its send slots from the budget there.
        redis = await _redis(settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        bot = _bot_or_config_error(settings, redis)
        stack.push_async_callback(bot.session.close)
        me = await _check_token(bot, settings)
        log.info("bot authorised", bot_id=me.id, username=me.username, mode=settings.bot.mode)
        stop_reports = install_error_reports(settings.moderation, bot.send_message, "bot")
        if stop_reports is not None:
            stack.push_async_callback(stop_reports)

        engine = create_engine(settings.db)
        stack.push_async_callback(engine.dispose)
        await ensure_schema(
            engine, settings.db.url.get_secret_value(), migrate=settings.db.migrate_on_start
        )

        sessions = create_session_factory(engine)
        storage = create_fsm_storage(redis, settings)

        deps = AppDeps(settings)
        if redis is not None:
            deps.job_queue = arq_job_queue(redis, settings)
            deps.a2t_status = (
                A2TStatus(True)
                if settings.a2t.enabled
                else A2TStatus(False, N_("Voice transcription is switched off here."))
            )
        else:
            await _start_embedded_a2t(deps, sessions, bot, stack)
        log.info("a2t", available=deps.a2t_status.available, queue=type(deps.job_queue).__name__)

        dp = create_dispatcher(deps, sessions, storage=storage)
        await publish_commands(bot, dp["i18n"])
        tune_garbage_collector()
        _start_applications_sweep(bot, sessions, settings, dp, stack)
        _start_gauges(sessions, settings, stack, deps.job_queue)

        checks = dependency_checks(engine, redis)
        http_app = create_app(checks) if settings.metrics.enabled else None
        if settings.bot.mode == "webhook":
            http_app = await _setup_webhook(bot, dp, settings, http_app)
            port = settings.bot.webhook_port
            host = settings.bot.webhook_host
            if settings.metrics.enabled and settings.metrics.port != port:
                metrics_runner = await start_site(
                    create_app(checks), settings.metrics.host, settings.metrics.port
                )
                stack.push_async_callback(metrics_runner.cleanup)
        else:
            host, port = settings.metrics.host, settings.metrics.port
        if http_app is not None:
            runner = await start_site(http_app, host, port)
            stack.push_async_callback(runner.cleanup)

        if settings.bot.mode == "webhook":
            await stop.wait()
        else:
            await _poll_until(stop, bot, dp, settings)
        log.info("bot stopping")
    log.info("bot stopped")


# Young-generation collections every 50,000 net allocations instead of CPython's 700:
# an update is a tree of a few hundred pydantic objects, so at 700 the collector ran
# every couple of updates (docs/PERFORMANCE.md has the cost). It only finds cycles
# (refcounting frees everything else at once), and at this rate a collection still
# comes every few hundred updates. The older generations keep their default ratios.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collector() -> None:
    """Once start-up is done: its heap out of the collector's sight, and fewer young
    collections.

    The dispatcher, aiogram's and pydantic's model classes, SQLAlchemy's metadata and
    the catalogs live as long as the process, yet every older-generation collection
    would walk them again. Frozen, they are skipped; the thresholds above cut the young
    collections (docs/PERFORMANCE.md, "What this round changed").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _poll_until(stop: asyncio.Event, bot: Bot, dp: Dispatcher, settings: Settings) -> None:
    if settings.bot.drop_pending_updates:
        await bot.delete_webhook(drop_pending_updates=True)
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=dp.resolve_used_update_types(),
            # A backlog is worked through at this pace instead of all at once.
            tasks_concurrency_limit=settings.concurrent_updates,
        )
    )
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        await dp.stop_polling()
    stopped.cancel()
    # Finishes the updates in hand; raises if polling itself crashed.
    await polling


async def _setup_webhook(
    bot: Bot, dp: Dispatcher, settings: Settings, app: web.Application | None
) -> web.Application:
    cfg = settings.bot
    if cfg.webhook_secret is None:  # settings refuse this already; never serve without it
        raise ConfigError("BOT__MODE=webhook needs BOT__WEBHOOK_SECRET")
    secret = cfg.webhook_secret.get_secret_value()
    app = (
        app if app is not None and settings.metrics.port == cfg.webhook_port else web.Application()
    )
    BoundedRequestHandler(dp, bot, limit=settings.concurrent_updates, secret_token=secret).register(
        app, path=cfg.webhook_path
    )
    await bot.set_webhook(
        url=f"{cfg.webhook_url}",
        secret_token=secret,
        allowed_updates=dp.resolve_used_update_types(),
        drop_pending_updates=cfg.drop_pending_updates,
    )
    return app


def _bot_or_config_error(settings: Settings, redis: Redis | None) -> Bot:
    if settings.bot.token is None:
        raise ConfigError(
            "BOT__TOKEN is not set: copy .env.example to .env and put the token "
            "from @BotFather there (or export BOT__TOKEN)"
        )
    try:
        return create_bot(settings.bot, redis=redis)
    except TokenValidationError:
        raise ConfigError(
            "BOT__TOKEN is not a bot token (expected the form 123456789:AA...)"
        ) from None


async def _check_token(bot: Bot, settings: Settings, attempts: int = 5) -> User:
    """getMe with backoff: a Bot API that is down for a moment must not kill the start."""
    url = settings.bot.api_base_url
    for attempt in range(1, attempts + 1):
        try:
            return await bot.get_me()
        except TelegramUnauthorizedError:
            raise ConfigError(f"BOT__TOKEN was rejected by the Bot API at {url}") from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            if attempt == attempts:
                raise ConfigError(f"cannot reach the Bot API at {url}: {exc.message}") from None
            log.warning("Bot API unreachable, retrying", attempt=attempt, error=exc.message)
            await asyncio.sleep(2 ** (attempt - 1))
    raise AssertionError("unreachable")


def create_fsm_storage(redis: Redis | None, settings: Settings) -> BaseStorage:
    """Conversation state: in Redis (shared by replicas, kept across restarts) when
    there is one, each key expiring REDIS__FSM_TTL_S after its last write; else in memory."""
    if redis is None:
        return MemoryStorage()
    ttl = settings.redis.fsm_ttl_s
    return RedisStorage(redis, state_ttl=ttl, data_ttl=ttl)


async def _redis(settings: Settings) -> ArqRedis | None:
    """One Redis connection pool for the job queue (JSON jobs) and the FSM storage."""
    if settings.redis.url is None:
        return None
    return await create_arq_pool(settings.redis)


async def _start_embedded_a2t(
    deps: AppDeps, sessions: async_sessionmaker[AsyncSession], bot: Bot, stack: AsyncExitStack
) -> None:
    """No Redis: the bot runs the worker's job function itself (same code, same rules)."""
    from worker.runtime import EngineHolder, create_pipeline, local_a2t_status
    from worker.sweep import sweep_forever

    settings = deps.settings
    deps.a2t_status = local_a2t_status(settings.a2t)
    if not deps.a2t_status.available:
        return
    engine = EngineHolder(settings.a2t)
    engine.start_loading()  # in the background: the bot answers updates meanwhile
    # The worker's own Bot API client (the code path of `python -m worker`), under the
    # Bot's budget: one set of limits for the process.
    sender = sender_of(bot)
    client = BotAPI(settings.bot, limits=sender.limits, budget=sender.budget)
    stack.push_async_callback(client.close)
    # A voice answer to a membership application: its card shows the text once done.
    card_hook = partial(transcript_ready, client, sessions, settings)
    pipeline, executor = create_pipeline(settings, sessions, client, engine, on_done=[card_hook])
    stack.callback(executor.shutdown, wait=False, cancel_futures=True)
    stack.push_async_callback(pipeline.close)
    queue = InProcessJobQueue(
        pipeline.run, max_jobs=settings.a2t.max_jobs, max_tries=settings.a2t.max_tries
    )
    stack.push_async_callback(queue.close)
    deps.job_queue = queue
    # Jobs open before a restart are re-queued once their heartbeat is stale (the
    # sweep's first round runs now): a job that crashed the process is counted as a
    # try each time, so it cannot crash-loop the bot past A2T__MAX_TRIES.
    sweeper = asyncio.create_task(
        sweep_forever(
            sessions,
            queue,
            timedelta(seconds=settings.a2t.stale_after_s),
            settings.a2t.sweep_interval_s,
        )
    )
    stack.callback(sweeper.cancel)


def _start_applications_sweep(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dp: Dispatcher,
    stack: AsyncExitStack,
) -> None:
    """Reminders, expiry and the moderators' digest, in the background."""
    from bot.telegram.applications.sweep import sweep_forever

    cfg = settings.applications
    if not cfg.enabled or settings.community.chat_id is None:
        return
    if settings.moderation.chat_id is None:
        log.warning("applications are off: MODERATION__CHAT_ID is not set")
        return
    sweeper = asyncio.create_task(sweep_forever(bot, sessions, settings, dp["i18n"]))
    stack.callback(sweeper.cancel)


def _start_gauges(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stack: AsyncExitStack,
    queue: JobQueue | None,
) -> None:
    """Queue depth and age, live workers per queue, applications waiting: read from the
    database (and the workers' registry in Redis) periodically."""
    if not settings.metrics.enabled:
        return
    task = asyncio.create_task(
        refresh_gauges_forever(
            sessions,
            settings.redis.queue_name,
            settings.metrics.refresh_interval_s,
            queue.live_workers if isinstance(queue, ArqJobQueue) else None,
        )
    )
    stack.callback(task.cancel)
