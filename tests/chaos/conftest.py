"""The chaos suite's stage: one PostgreSQL database, one fake Bot API and one
`python -m bot` process per module; `python -m worker` processes per test, started,
stopped and killed as each scenario needs. Everything real but Telegram.

Trials share what their scenario allows: the bot process and the database serve every
test of a module; each note comes from its own user in its own private chat, so what
the fake API saw per chat is that note's whole story.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_session_factory
from bot.db.migrate import upgrade_to_head
from bot.db.models import TranscriptionJob
from bot.settings import DbSettings
from tests import factories as f
from tests import processes
from tests.a2t import JFK_PHRASE, normalise, voice_note
from tests.conftest import REDIS_DB, REDIS_SERVER_URL, create_database, drop_database
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e
QUEUE = "chaos:a2t"
_user_ids = itertools.count(880_001)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str, poll: float = 0.1
) -> None:
    """Poll until `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(poll)


def log_events(proc: processes.Process, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process whose event is `event`."""
    found = []
    for line in list(proc.output):
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


def is_transcript(text: str) -> bool:
    return "Transcribing" not in text and JFK_PHRASE in " ".join(normalise(text))


@dataclass
class Note:
    """One voice note sent by its own user in its own private chat."""

    user_id: int
    update_id: int

    @property
    def chat_id(self) -> int:
        return self.user_id


@dataclass
class Stage:
    api: FakeBotAPI
    db_url: str
    redis_url: str
    sessions: async_sessionmaker[AsyncSession]
    bot: processes.Process | None = None
    workers: list[processes.Process] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "BOT__TOKEN": self.api.token,
            "BOT__API_BASE_URL": self.api.base_url,
            "DB__URL": self.db_url,
            "DB__MIGRATE_ON_START": "false",
            "REDIS__URL": self.redis_url,
            "REDIS__QUEUE_NAME": QUEUE,
            "A2T__DEVICE": "cpu",
            "METRICS__ENABLED": "false",
            "LOG__FORMAT": "json",
            **overrides,
        }

    async def start_worker(self, **overrides: str) -> processes.Process:
        proc = await processes.start("worker", self.env(**overrides))
        self.workers.append(proc)
        await proc.wait_for_output('"engine ready"', timeout=120)
        return proc

    def send_note(self, data: bytes, duration: int = 11) -> Note:
        user = f.user(id=next(_user_ids), first_name="Chaos")
        update = voice_note(self.api, data, user=user, chat=f.private_chat(user), duration=duration)
        return Note(user["id"], self.api.push_update(update))

    async def job_of(self, note: Note) -> TranscriptionJob | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(TranscriptionJob).where(TranscriptionJob.chat_id == note.chat_id)
            )

    async def wait_job(
        self, note: Note, predicate: Callable[[TranscriptionJob], bool], timeout: float, what: str
    ) -> TranscriptionJob:
        found: list[TranscriptionJob] = []

        async def check() -> bool:
            job = await self.job_of(note)
            if job is not None and predicate(job):
                found.append(job)
                return True
            return False

        await wait_until(check, timeout, f"{what} (chat {note.chat_id})")
        return found[0]

    def texts_in(self, chat_id: int) -> list[str]:
        """Every text the bot sent or edited into a chat, in call order."""
        return [
            str(c.params.get("text", ""))
            for c in self.api.calls
            if c.method in ("sendMessage", "editMessageText") and c.params.get("chat_id") == chat_id
        ]

    def messages_in(self, chat_id: int) -> list[dict[str, Any]]:
        return self.api.sent_messages(chat_id)


@pytest.fixture(scope="module")
async def chaos_db() -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = await create_database("bot_chaos")
    await upgrade_to_head(url)
    engine = create_engine(DbSettings(url=SecretStr(url)))
    yield url, engine
    await engine.dispose()
    await drop_database(url)


@pytest.fixture(scope="module")
async def chaos_redis() -> AsyncIterator[str]:
    """This run's own Redis database (TEST_REDIS_DB), emptied before and after."""
    url = f"{REDIS_SERVER_URL.rstrip('/')}/{REDIS_DB}"
    client = Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="module")
async def stage(chaos_db: tuple[str, AsyncEngine], chaos_redis: str) -> AsyncIterator[Stage]:
    url, engine = chaos_db
    async with FakeBotAPI() as api:
        stage = Stage(api, url, chaos_redis, create_session_factory(engine))
        stage.bot = await processes.start("bot", stage.env())
        await stage.bot.wait_for_output('"bot authorised"', timeout=120)
        await api.wait_for_call("getUpdates", timeout=60)
        yield stage
        for proc in [*stage.workers, stage.bot]:
            if proc.proc.returncode is None:
                proc.kill()
            await proc.wait()


@pytest.fixture
async def workers(stage: Stage) -> AsyncIterator[Stage]:
    """The stage, with every worker a test started killed at its end."""
    yield stage
    for proc in stage.workers:
        if proc.proc.returncode is None:
            proc.kill()
        await proc.wait()
    stage.workers.clear()
