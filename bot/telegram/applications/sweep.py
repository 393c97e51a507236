"""The applications' periodic sweep: reminders before expiry, expiry, and the
moderators' digest of applications waiting too long.

Safe with several bot replicas: ApplicationService.sweep claims each item with a
conditional UPDATE (rows locked with SKIP LOCKED), so each reminder, expiry and digest
entry is claimed, and then sent, by exactly one replica. `now` is a parameter so tests
(and operators) can run a sweep at a chosen moment.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.db.base import utcnow
from bot.i18n import Catalogs
from bot.log import get_logger
from bot.services.applications import ApplicationService
from bot.settings import Settings
from bot.telegram.applications import actions, views
from bot.telegram.applications import card as card_views

log = get_logger(__name__)


@dataclass(frozen=True)
class SweepReport:
    reminded: int
    expired: int
    digest: int
    cards: int = 0  # cards posted again after a failed send


async def sweep_applications(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    i18n: Catalogs,
    now: datetime | None = None,
) -> SweepReport:
    now = now or utcnow()
    async with sessions() as session:
        svc = ApplicationService(session, settings)
        result = await svc.sweep(now)
        for view in result.reminded:
            with card_views.in_locale(i18n, views.applicant_locale(i18n, view)):
                text = views.reminder_text(view.status, view.expires_at)
            await actions.notify_applicant(bot, svc, view, text)
        for view, _previous in result.expired:
            await actions.decline_request(bot, svc, view)
            await actions.refresh_card(bot, i18n, settings, view)
            with card_views.in_locale(i18n, views.applicant_locale(i18n, view)):
                text = views.expired_text()
            await actions.notify_applicant(bot, svc, view, text)
        for view in result.cardless:
            await actions.post_card(bot, svc, i18n, settings, view)
        if result.digest and settings.moderation.chat_id is not None:
            with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
                text = views.digest_text(result.digest, now)
            try:
                await bot.send_message(settings.moderation.chat_id, text)
            except TelegramAPIError as exc:
                log.warning("digest not delivered", error=str(exc))
    report = SweepReport(
        len(result.reminded), len(result.expired), len(result.digest), len(result.cardless)
    )
    if report != SweepReport(0, 0, 0):
        log.info(
            "applications swept",
            reminded=report.reminded,
            expired=report.expired,
            digest=report.digest,
            cards=report.cards,
        )
    return report


async def sweep_forever(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], settings: Settings, i18n: Catalogs
) -> None:
    """The bot's background task; one failed round is logged, the next one runs.
    Whatever failed (the database, Telegram, an answer that does not parse, a bug): a
    task that died here would end reminders and expiry until the next restart."""
    interval = settings.applications.sweep_interval_s
    while True:
        try:
            await sweep_applications(bot, sessions, settings, i18n)
        except (SQLAlchemyError, TelegramAPIError, OSError) as exc:
            metrics.BACKGROUND_RUNS.labels("applications_sweep", "error").inc()
            log.warning("applications sweep failed; trying again next round", error=repr(exc))
        except Exception:
            # A bug must not end the sweep for good (the task would die silently).
            metrics.BACKGROUND_RUNS.labels("applications_sweep", "error").inc()
            log.exception("applications sweep failed (unexpected); trying again next round")
        else:
            metrics.BACKGROUND_RUNS.labels("applications_sweep", "ok").inc()
        await asyncio.sleep(interval)
