"""Database gauges: queue depth and the oldest job's wait per queue, applications
waiting; read from real rows on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import ApplicationSource, ApplicationStatus, ChatType, JobStatus, MediaKind
from bot.db.models import Application, Chat, TranscriptionJob, User
from bot.gauges import QueueGauges, refresh_once
from bot.settings import DbSettings
from worker.sweep import sweep

QUEUE = "gauges:test"


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def _fill(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with sessions() as session:
        session.add_all(
            [
                User(id=9101, first_name="Ann"),
                User(id=9102, first_name="Ben"),
                Chat(id=-100_9100, type=ChatType.SUPERGROUP, title="Community"),
            ]
        )
        await session.flush()
        rows = [
            (JobStatus.QUEUED, timedelta(minutes=7)),
            (JobStatus.QUEUED, timedelta(minutes=2)),
            (JobStatus.RUNNING, timedelta(minutes=30)),
            (JobStatus.DONE, timedelta(hours=5)),
            (JobStatus.FAILED, timedelta(hours=6)),
        ]
        for n, (status, age) in enumerate(rows):
            session.add(
                TranscriptionJob(
                    dedup_key=f"9101:{n}:",
                    chat_id=9101,
                    user_id=9101,
                    message_id=n + 1,
                    media_kind=MediaKind.VOICE,
                    file_id=f"f{n}",
                    file_unique_id=f"u{n}",
                    status=status,
                    received_at=now - age,
                    queued_at=now - age,
                    heartbeat_at=now if status == JobStatus.RUNNING else None,
                )
            )
        for user_id, status, waited in (
            (9101, ApplicationStatus.PENDING, timedelta(hours=30)),
            (9102, ApplicationStatus.PENDING, timedelta(hours=2)),
            (9102, ApplicationStatus.APPROVED, timedelta(days=9)),
        ):
            session.add(
                Application(
                    user_id=user_id,
                    chat_id=-100_9100,
                    source=ApplicationSource.COMMAND,
                    status=status,
                    submitted_at=now - waited,
                )
            )
        await session.commit()


def _assert_filled() -> None:
    assert _value("a2t_queue_jobs", queue=QUEUE, status="queued") == 2
    assert _value("a2t_queue_jobs", queue=QUEUE, status="running") == 1
    oldest = _value("a2t_queue_oldest_age_seconds", queue=QUEUE)
    assert oldest is not None
    assert 7 * 60 <= oldest < 9 * 60
    assert _value("bot_applications_pending") == 2
    pending_age = _value("bot_applications_oldest_pending_age_seconds")
    assert pending_age is not None
    assert 30 * 3600 <= pending_age < 31 * 3600


async def test_gauges_from_postgres_rows(db: async_sessionmaker[AsyncSession]) -> None:
    await _fill(db)
    await refresh_once(db, QueueGauges(QUEUE))
    _assert_filled()


async def test_gauges_from_sqlite_rows(sqlite_url: str) -> None:
    engine = create_engine(DbSettings(url=sqlite_url))  # type: ignore[arg-type]
    try:
        sessions = create_session_factory(engine)
        await _fill(sessions)
        await refresh_once(sessions, QueueGauges(QUEUE))
        _assert_filled()
    finally:
        await engine.dispose()


async def test_an_emptied_queue_reads_zero(db: async_sessionmaker[AsyncSession]) -> None:
    gauges = QueueGauges(QUEUE)
    await _fill(db)
    await refresh_once(db, gauges)
    async with db() as session:
        await session.execute(update(TranscriptionJob).values(status=JobStatus.DONE))
        await session.commit()
    await refresh_once(db, gauges)
    assert _value("a2t_queue_jobs", queue=QUEUE, status="queued") == 0
    assert _value("a2t_queue_oldest_age_seconds", queue=QUEUE) == 0


class _Queue:
    """The queue still holds every job: the sweep only measures."""

    async def route(self, duration_s: float | None, language: str | None) -> str | None:
        raise AssertionError("nothing is lost here")

    async def enqueue_transcription(
        self, job_id: int, generation: int, queue: str | None = None
    ) -> None:
        raise AssertionError("nothing is lost here")

    async def is_pending(self, job_id: int, generation: int, queue: str | None = None) -> bool:
        return True


async def test_the_workers_sweep_refreshes_the_queue_gauges(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await _fill(db)
    await sweep(db, _Queue(), timedelta(hours=1), QueueGauges("sweep:q"))
    assert _value("a2t_queue_jobs", queue="sweep:q", status="queued") == 2
    age: Any = _value("a2t_queue_oldest_age_seconds", queue="sweep:q")
    assert age >= 7 * 60


async def test_routed_jobs_are_counted_per_queue(db: async_sessionmaker[AsyncSession]) -> None:
    """With routing, each job's queue (its row) is its label; rows from before routing
    (no queue) count for the default queue, together with jobs routed to it by name."""
    await _fill(db)
    async with db() as session:
        # The 7-minute job to the heavy queue, the 2-minute one named after the default.
        for n, queue in ((0, f"{QUEUE}:heavy"), (1, QUEUE)):
            await session.execute(
                update(TranscriptionJob)
                .where(TranscriptionJob.dedup_key == f"9101:{n}:")
                .values(queue=queue)
            )
        await session.commit()
    await refresh_once(db, QueueGauges(QUEUE))
    assert _value("a2t_queue_jobs", queue=f"{QUEUE}:heavy", status="queued") == 1
    assert _value("a2t_queue_jobs", queue=f"{QUEUE}:heavy", status="running") == 0
    heavy_age = _value("a2t_queue_oldest_age_seconds", queue=f"{QUEUE}:heavy")
    assert heavy_age is not None
    assert 7 * 60 <= heavy_age < 9 * 60
    # The default queue: the 2-minute job by name and the running job without a queue.
    assert _value("a2t_queue_jobs", queue=QUEUE, status="queued") == 1
    assert _value("a2t_queue_jobs", queue=QUEUE, status="running") == 1
    default_age = _value("a2t_queue_oldest_age_seconds", queue=QUEUE)
    assert default_age is not None
    assert 2 * 60 <= default_age < 4 * 60
