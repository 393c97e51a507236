"""The periodic sweep, run directly with a chosen "now": reminders before expiry,
expiry, the moderators' digest; each happens once, also with sweeps running at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import ApplicationStatus
from bot.i18n import create_i18n
from bot.settings import Settings
from bot.telegram.applications.sweep import SweepReport, sweep_applications
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import COMMUNITY, MODCHAT, Flow

I18N = create_i18n()


async def test_reminder_digest_and_expiry_each_happen_once(
    flow: Flow,
    fake_api: FakeBotAPI,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    nia = f.user(id=7501, first_name="Nia")
    app = await flow.apply_and_submit(nia)
    assert app.submitted_at is not None
    t0 = app.submitted_at

    async def sweep(hours: float) -> SweepReport:
        return await sweep_applications(bot, db, settings, I18N, now=t0 + timedelta(hours=hours))

    assert await sweep(1) == SweepReport(0, 0, 0)
    # Waiting longer than APPLICATIONS__DIGEST_AFTER_H (24): in the digest, once a day.
    assert await sweep(25) == SweepReport(0, 0, 1)
    digest = flow.last_to(MODCHAT["id"])["text"]
    assert "waiting for a decision" in digest
    assert f"#{app.id} from Nia, waiting 25 h" in digest
    assert await sweep(26) == SweepReport(0, 0, 0)

    # Within APPLICATIONS__REMIND_BEFORE_H (24) of expiry (72): one reminder, even when
    # two replicas sweep at the same moment.
    reports = await asyncio.gather(sweep(49), sweep(49))
    assert sum(r.reminded for r in reports) == 1
    assert sum(r.digest for r in reports) == 1  # 24 h after the first listing
    assert "still waiting for the moderators" in flow.last_to(nia["id"])["text"]
    assert await sweep(50) == SweepReport(0, 0, 0)

    reports = await asyncio.gather(sweep(73), sweep(73))
    assert sum(r.expired for r in reports) == 1
    expired = await flow.application(nia)
    assert expired.status == ApplicationStatus.EXPIRED
    assert "expired" in flow.last_to(nia["id"])["text"]
    card = flow.card(expired)
    assert "Expired without a decision" in card["text"]
    assert "reply_markup" not in card  # no buttons on an expired card
    events = await flow.events(expired)
    assert events.count("reminded") == 1
    assert events.count("expired") == 1
    assert await sweep(100) == SweepReport(0, 0, 0)


async def test_an_unfinished_join_request_is_reminded_then_expired_and_declined(
    flow: Flow,
    fake_api: FakeBotAPI,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    oto = f.user(id=7502, first_name="Oto", language_code="ru")
    await flow.feed(f.chat_join_request_update(COMMUNITY, oto))
    await flow.say(oto, "first answer only")
    draft = await flow.application(oto)
    assert draft.expires_at is not None
    t0 = draft.expires_at

    report = await sweep_applications(bot, db, settings, I18N, now=t0 - timedelta(hours=23))
    assert report.reminded == 1
    assert "не закончена" in flow.last_to(oto["id"])["text"]  # in the applicant's language

    report = await sweep_applications(bot, db, settings, I18N, now=t0 + timedelta(seconds=1))
    assert report.expired == 1
    decline = await fake_api.wait_for_call("declineChatJoinRequest")
    assert (decline.params["chat_id"], decline.params["user_id"]) == (COMMUNITY["id"], oto["id"])
    assert (await flow.application(oto)).status == ApplicationStatus.EXPIRED
    # The questionnaire state left in the FSM no longer takes answers.
    calls = await flow.say(oto, "a late answer")
    assert "Эта заявка уже не открыта" in calls[-1].params["text"]
    calls = await flow.say(oto, "another one")  # the stale questionnaire was dropped
    assert calls == []


async def test_a_card_that_could_not_be_sent_is_posted_by_the_sweep(
    flow: Flow,
    fake_api: FakeBotAPI,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    pia = f.user(id=7503, first_name="Pia")
    fake_api.block_chat(MODCHAT["id"])  # the moderation chat is unreachable for a while
    await flow.say(pia, "/apply")
    await flow.answer_all(pia)
    await flow.press_text(pia, flow.last_to(pia["id"]), "Send")
    app = await flow.application(pia)
    assert app.status == ApplicationStatus.PENDING
    assert app.card_message_id is None
    assert "card_failed" in await flow.events(app)
    assert app.submitted_at is not None

    fake_api.unblock_chat(MODCHAT["id"])
    soon = app.submitted_at + timedelta(seconds=30)
    assert (await sweep_applications(bot, db, settings, I18N, now=soon)).cards == 0
    later = app.submitted_at + timedelta(minutes=3)
    reports = await asyncio.gather(
        sweep_applications(bot, db, settings, I18N, now=later),
        sweep_applications(bot, db, settings, I18N, now=later),
    )
    assert sum(r.cards for r in reports) == 1
    app = await flow.application(pia)
    card = flow.card(app)
    assert "Application #" in card["text"]
    assert card["reply_markup"]["inline_keyboard"]


async def test_the_sweep_task_logs_a_failed_round_and_goes_on(
    flow: Flow,
    fake_api: FakeBotAPI,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    logs: Any,
) -> None:
    """A round that fails on an error nobody listed (here: an answer from the Bot API
    that does not parse) is logged; the task lives on and the next round runs."""
    from sqlalchemy import update

    from bot.db.base import utcnow
    from bot.db.models import Application
    from bot.telegram.applications.sweep import sweep_forever

    quick = settings.model_copy(
        update={"applications": settings.applications.model_copy(update={"sweep_interval_s": 1})}
    )

    async def waiting_a_day(user: dict[str, Any]) -> None:
        app = await flow.apply_and_submit(user)
        async with db() as session:
            await session.execute(
                update(Application)
                .where(Application.id == app.id)
                .values(submitted_at=utcnow() - timedelta(hours=25))
            )
            await session.commit()

    await waiting_a_day(f.user(id=7511, first_name="Ira"))
    fake_api.set_handler("sendMessage", lambda call: "not a message")  # unparseable
    sweeper = asyncio.create_task(sweep_forever(bot, db, quick, I18N))
    try:
        async with asyncio.timeout(30):
            while "applications sweep failed" not in logs():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert not sweeper.done()
        fake_api.set_handler("sendMessage", fake_api._send_message)
        await waiting_a_day(f.user(id=7512, first_name="Jon"))
        await fake_api.wait_for_call(
            "sendMessage", lambda c: "from Jon, waiting 25 h" in c.params["text"], timeout=30
        )
    finally:
        sweeper.cancel()
