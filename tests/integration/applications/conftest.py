"""Applications fixtures: a community chat, a moderation chat with two configured
moderators, and helpers that play the applicant and the moderators through the real
dispatcher and the fake Bot API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Application, ApplicationEvent, Membership
from bot.services.applications import DEFAULT_QUESTIONS
from bot.settings import Settings
from bot.telegram.callbacks import ModAction, ModCallback
from tests import factories as f
from tests.fakes import ApiCall, FakeBotAPI

COMMUNITY = f.group_chat(id=-1_001_000_000_001, title="Community")
MODCHAT = f.group_chat(id=-1_001_000_000_002, title="Moderators")
MOD1 = f.user(id=9001, first_name="Mona")
MOD2 = f.user(id=9002, first_name="Max")
STRANGER = f.user(id=9003, first_name="Sam")
APP_SETTINGS: dict[str, Any] = {}
COMMUNITY_SETTINGS: dict[str, Any] = {"chat_id": COMMUNITY["id"]}
MOD_SETTINGS: dict[str, Any] = {"chat_id": MODCHAT["id"], "admin_ids": [MOD1["id"], MOD2["id"]]}


@pytest.fixture
def settings(request: pytest.FixtureRequest, make_settings: Any, pg_url: str) -> Settings:
    """Overrides per test: parametrize("settings", [{"applications": {...}}], indirect=True)."""
    overrides: dict[str, dict[str, Any]] = getattr(request, "param", {})
    return make_settings(  # type: ignore[no-any-return]
        pg_url,
        community=COMMUNITY_SETTINGS,
        applications={**APP_SETTINGS, **overrides.get("applications", {})},
        moderation={**MOD_SETTINGS, **overrides.get("moderation", {})},
    )


@dataclass
class Flow:
    feed: Any
    api: FakeBotAPI
    db: async_sessionmaker[AsyncSession]

    async def say(self, user: dict[str, Any], text: str) -> list[ApiCall]:
        """A private message; the bot's calls it caused."""
        before = len(self.api.calls)
        await self.feed(f.message_update(f.message(text, from_user=user)))
        return self.api.calls[before:]

    def last_to(self, chat_id: int) -> dict[str, Any]:
        sent = self.api.sent_messages(chat_id)
        assert sent, f"nothing sent to {chat_id}"
        return sent[-1]

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.get("text", "") for m in self.api.sent_messages(chat_id)]

    async def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> ApiCall:
        """Press a button; the callback's answer."""
        before = len(self.api.calls)
        await self.feed(f.callback_query_update(user, message, data))
        return await self.api.wait_for_call("answerCallbackQuery", after=before)

    async def press_text(
        self, user: dict[str, Any], message: dict[str, Any], label: str
    ) -> ApiCall:
        for row in message["reply_markup"]["inline_keyboard"]:
            for button in row:
                if label in button["text"]:
                    return await self.press(user, message, button["callback_data"])
        raise AssertionError(f"no button {label!r} in {message.get('reply_markup')}")

    async def answer_all(self, user: dict[str, Any], answers: list[str] | None = None) -> None:
        for answer in answers or [f"answer {i}" for i in range(len(DEFAULT_QUESTIONS))]:
            await self.say(user, answer)

    async def apply_and_submit(self, user: dict[str, Any]) -> Application:
        await self.say(user, "/apply")
        await self.answer_all(user)
        await self.press_text(user, self.last_to(user["id"]), "Send")
        app = await self.application(user)
        assert app.card_message_id is not None
        return app

    async def application_by_id(self, app_id: int) -> Application:
        async with self.db() as session:
            row = await session.get(Application, app_id)
        assert row is not None
        return row

    def card(self, app: Application) -> dict[str, Any]:
        assert app.card_chat_id is not None
        assert app.card_message_id is not None
        return self.api.messages[(app.card_chat_id, app.card_message_id)]

    async def decide(
        self, moderator: dict[str, Any], app: Application, action: ModAction
    ) -> ApiCall:
        data = ModCallback(action=action, app_id=app.id).pack()
        return await self.press(moderator, self.card(app), data)

    async def application(self, user: dict[str, Any]) -> Application:
        async with self.db() as session:
            row = await session.scalar(
                select(Application)
                .where(Application.user_id == user["id"])
                .order_by(Application.id.desc())
                .limit(1)
            )
        assert row is not None, "no application"
        return row

    async def events(self, app: Application) -> list[str]:
        async with self.db() as session:
            rows = await session.scalars(
                select(ApplicationEvent.action)
                .where(ApplicationEvent.application_id == app.id)
                .order_by(ApplicationEvent.id)
            )
            return list(rows)

    async def membership(self, user: dict[str, Any]) -> Membership | None:
        async with self.db() as session:
            return await session.get(Membership, (COMMUNITY["id"], user["id"]))


@pytest.fixture
def flow(feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]) -> Flow:
    fake_api.set_chat(COMMUNITY)
    fake_api.set_chat(MODCHAT)
    return Flow(feed, fake_api, db)
