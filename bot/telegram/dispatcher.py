"""Builds the Bot (its request middlewares: the sender's limits, the writes mark) and
the Dispatcher (its middlewares and the feature routers, in order). bot/app.py runs
them; the worker builds its Bot here too."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import ChosenLanguages, create_i18n
from bot.services import AppDeps
from bot.settings import BotSettings
from bot.telegram.budget import SendBudget, SenderLimits, make_budget
from bot.telegram.handlers import feature_routers
from bot.telegram.middlewares import (
    DbSessionMiddleware,
    LocaleMiddleware,
    RosterMiddleware,
    TelegramWrites,
    TransientRetryMiddleware,
    UpdateContextMiddleware,
)
from bot.telegram.moderators import Moderators
from bot.telegram.sender import TelegramSender
from bot.telegram.session import BotSession


def create_bot(
    settings: BotSettings,
    limits: SenderLimits | None = None,
    redis: Redis | None = None,
    budget: SendBudget | None = None,
) -> Bot:
    """A Bot whose every request goes through the shared TelegramSender: under
    `budget` when given (the embedded worker's client shares it), else the deployment's
    one send budget in `redis` when given (REDIS__URL), else this process's own."""
    if settings.token is None:
        raise ValueError("BOT__TOKEN is not set")
    session = BotSession(
        api=TelegramAPIServer.from_base(settings.api_base_url, is_local=settings.api_is_local)
    )
    limits = limits or SenderLimits()
    budget = budget or make_budget(limits, redis)
    session.middleware(TelegramSender(limits, budget))
    session.middleware(TelegramWrites())
    return Bot(
        token=settings.token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def sender_of(bot: Bot) -> TelegramSender:
    """The Bot's sender: a Bot API client in the same process sends under its budget."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, TelegramSender):
            return middleware
    raise LookupError("this Bot was not built by create_bot")


def create_dispatcher(
    deps: AppDeps,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    storage: BaseStorage | None = None,
) -> Dispatcher:
    i18n = create_i18n()
    chosen_languages = ChosenLanguages()
    dp = Dispatcher(
        storage=storage or MemoryStorage(),
        settings=deps.settings,
        deps=deps,
        i18n=i18n,
        chosen_languages=chosen_languages,
        moderators=Moderators(deps.settings.moderation, sessions=session_factory),
    )
    dp.update.outer_middleware(UpdateContextMiddleware())
    # Each try of an update gets its own session (rolled back when it fails).
    dp.update.outer_middleware(TransientRetryMiddleware())
    dp.update.outer_middleware(DbSessionMiddleware(session_factory, deps))
    dp.update.outer_middleware(LocaleMiddleware(i18n, chosen_languages))
    roster = RosterMiddleware(deps.settings.roster)
    for observer in (dp.message, dp.chat_member, dp.my_chat_member):
        observer.outer_middleware(roster)
    dp.include_routers(*feature_routers())
    return dp
