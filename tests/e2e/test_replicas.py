"""Two `python -m bot` replicas in webhook mode behind one URL (as the Kubernetes
Service spreads Telegram's requests): both handle updates, a conversation started on
one continues on the other (FSM in Redis), the applications sweep acts once per
deployment (claims with SKIP LOCKED), and each replica reports its own metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.enums import ApplicationSource, ApplicationStatus, ChatType
from bot.db.models import Application, ApplicationAnswer, ApplicationEvent, Chat, User
from tests import factories as f
from tests import processes
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e
COMMUNITY, MODCHAT = -1_001_000_000_101, -1_001_000_000_102
SECRET = "replica-secret"
EXPIRED = 4


async def _seed_expired_applications(db: async_sessionmaker[AsyncSession]) -> list[int]:
    """Applications long past their expiry: the sweep's work for the replicas."""
    now = utcnow()
    async with db() as session:
        session.add(Chat(id=COMMUNITY, type=ChatType.SUPERGROUP, title="Community"))
        ids = list(range(7601, 7601 + EXPIRED))
        for user_id in ids:
            session.add(User(id=user_id, first_name=f"Applicant {user_id}"))
        await session.flush()
        for user_id in ids:
            session.add(
                Application(
                    user_id=user_id,
                    chat_id=COMMUNITY,
                    source=ApplicationSource.COMMAND,
                    status=ApplicationStatus.PENDING,
                    submitted_at=now - timedelta(hours=100),
                    expires_at=now - timedelta(hours=1),
                )
            )
        await session.commit()
    return ids


async def _post(http: aiohttp.ClientSession, port: int, update: dict[str, Any]) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with http.post(url, json=update, headers=headers) as response:
        assert response.status == 200, await response.text()


async def test_two_webhook_replicas_share_the_load_and_the_state(
    fake_api: FakeBotAPI, pg_url: str, redis_url: str, redis: Any, db: Any
) -> None:
    fake_api.strict_chats = False
    applicants = await _seed_expired_applications(db)
    hooks = [processes.free_port(), processes.free_port()]
    metrics_ports = [processes.free_port(), processes.free_port()]
    replicas = []
    for hook, port in zip(hooks, metrics_ports, strict=True):
        env = {
            "BOT__TOKEN": fake_api.token,
            "BOT__API_BASE_URL": fake_api.base_url,
            "BOT__MODE": "webhook",
            "BOT__WEBHOOK_URL": "https://bot.example.org/telegram/webhook",
            "BOT__WEBHOOK_HOST": "127.0.0.1",
            "BOT__WEBHOOK_PORT": str(hook),
            "BOT__WEBHOOK_SECRET": SECRET,
            "DB__URL": pg_url,
            "DB__MIGRATE_ON_START": "false",
            "REDIS__URL": redis_url,
            "COMMUNITY__CHAT_ID": str(COMMUNITY),
            "MODERATION__CHAT_ID": str(MODCHAT),
            "APPLICATIONS__SWEEP_INTERVAL_S": "1",
            "METRICS__PORT": str(port),
            "LOG__FORMAT": "json",
        }
        replicas.append(await processes.start("bot", env))
    try:
        for replica, hook in zip(replicas, hooks, strict=True):
            await replica.wait_for_output(f'"port": {hook}', timeout=60)

        # The sweep: each expired application is expired, and its applicant told, once.
        await _wait_count(db, Application.status == ApplicationStatus.EXPIRED, EXPIRED)
        await asyncio.sleep(2.5)  # two more rounds of both replicas: nothing twice
        for user_id in applicants:
            assert len(fake_api.sent_messages(user_id)) == 1, fake_api.sent_messages(user_id)
        assert await _count(db, ApplicationEvent.action == "expired") == EXPIRED

        async with aiohttp.ClientSession() as http:
            # Updates spread over both replicas: every one answered once.
            users = [f.user(id=7700 + n, first_name=f"User{n}") for n in range(6)]
            for n, user in enumerate(users):
                await _post(http, hooks[n % 2], _text(user, "/start"))
            for user in users:
                await fake_api.wait_for_call(
                    "sendMessage", lambda c, u=user: c.params["chat_id"] == u["id"], timeout=30
                )

            # A questionnaire begun on one replica goes on on the other (FSM in Redis).
            nia = f.user(id=7801, first_name="Nia")
            await _post(http, hooks[0], _text(nia, "/apply"))
            await fake_api.wait_for_call(
                "sendMessage", lambda c: c.params["chat_id"] == nia["id"], timeout=30
            )
            await _post(http, hooks[1], _text(nia, "I like the community"))
            await _wait_count(db, ApplicationAnswer.answer == "I like the community", 1)

            # Each replica's /metrics counts its own updates.
            handled = []
            for port in metrics_ports:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    body = await response.text()
                handled.append(
                    _metric(body, 'bot_updates_total{event_type="message",outcome="handled"}')
                )
            assert handled == [4.0, 4.0]
    finally:
        codes = [await replica.terminate() for replica in replicas]
    assert codes == [0, 0], "\n".join(r.text for r in replicas)


def _text(user: dict[str, Any], text: str) -> dict[str, Any]:
    return f.message_update(f.message(text, from_user=user, chat=f.private_chat(user)))


async def _wait_count(db: Any, condition: Any, at_least: int, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await _count(db, condition) >= at_least:
                return
            await asyncio.sleep(0.2)


async def _count(db: Any, condition: Any) -> int:
    table = condition.left.table
    async with db() as session:
        return int(
            await session.scalar(select(func.count()).select_from(table).where(condition)) or 0
        )


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
