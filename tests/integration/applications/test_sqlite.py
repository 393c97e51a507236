"""The embedded default (SQLite): apply, two concurrent approvals, the sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import ApplicationStatus
from bot.i18n import create_i18n
from bot.services import AppDeps
from bot.telegram.applications.sweep import SweepReport, sweep_applications
from bot.telegram.callbacks import ModAction, ModCallback
from bot.telegram.dispatcher import create_bot, create_dispatcher
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import (
    APP_SETTINGS,
    COMMUNITY,
    COMMUNITY_SETTINGS,
    MOD1,
    MOD2,
    MOD_SETTINGS,
    MODCHAT,
    Flow,
)


async def test_applications_on_sqlite(
    sqlite_url: str, make_settings: Any, fake_api: FakeBotAPI
) -> None:
    settings = make_settings(
        sqlite_url,
        community=COMMUNITY_SETTINGS,
        applications=APP_SETTINGS,
        moderation=MOD_SETTINGS,
    )
    engine = create_engine(settings.db)
    sessions = create_session_factory(engine)
    bot = create_bot(settings.bot)
    dispatcher = create_dispatcher(AppDeps(settings), sessions)

    async def feed(update: dict[str, Any]) -> Any:
        fake_api.observe(update)
        return await dispatcher.feed_raw_update(bot, update)

    fake_api.set_chat(COMMUNITY)
    fake_api.set_chat(MODCHAT)
    flow = Flow(feed, fake_api, sessions)
    try:
        quinn = f.user(id=7601, first_name="Quinn")
        app = await flow.apply_and_submit(quinn)
        assert app.submitted_at is not None
        t0 = app.submitted_at
        i18n = create_i18n()
        report = await sweep_applications(bot, sessions, settings, i18n, t0 + timedelta(hours=49))
        assert report == SweepReport(reminded=1, expired=0, digest=1)

        data = ModCallback(action=ModAction.APPROVE, app_id=app.id).pack()
        card = flow.card(app)
        await asyncio.gather(
            feed(f.callback_query_update(MOD1, card, data)),
            feed(f.callback_query_update(MOD2, card, data)),
        )
        assert (await flow.application(quinn)).status == ApplicationStatus.APPROVED
        assert len(fake_api.calls_of("createChatInviteLink")) == 1
        assert (await flow.events(app)).count("approve") == 1
        report = await sweep_applications(bot, sessions, settings, i18n, t0 + timedelta(hours=99))
        assert report == SweepReport(0, 0, 0)
    finally:
        await bot.session.close()
        await engine.dispose()
