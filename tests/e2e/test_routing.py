"""Worker routing by capability with real arq worker processes: a light (CPU) worker
takes short notes and never a heavy job; a heavy job waits, reported (no live worker
on its queue), until a heavy worker starts and takes it; the sweep and the ops CLI
re-enqueue into the job's queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from bot import metrics
from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.gauges import refresh_live_workers
from tests import factories as f
from tests import processes
from tests.a2t import WHISPER_BASE, audio_bytes, voice_note
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e
ALICE = f.user(id=7401, first_name="Alice")
CHAT = f.private_chat(ALICE)
BASE = "e2e:routed"
LIGHT, HEAVY = f"{BASE}:light", f"{BASE}:heavy"
ROUTING = {"enabled": True, "light_max_duration_s": 30, "light_languages": ["en"]}


@pytest.fixture
def settings(make_settings: Any, pg_url: str, redis_url: str) -> Any:
    return make_settings(
        pg_url,
        redis={"url": redis_url, "queue_name": BASE},
        a2t={"routing": ROUTING, "sweep_interval_s": 1, "heartbeat_interval_s": 0.5},
    )


@pytest.fixture
def arq(redis: Redis) -> Any:
    from arq.connections import ArqRedis

    return ArqRedis(connection_pool=redis.connection_pool)


@pytest.fixture
def deps(settings: Any, arq: Any) -> Any:
    from bot.jobs import arq_job_queue
    from bot.services import AppDeps
    from bot.services.transcription import A2TStatus

    return AppDeps(settings, arq_job_queue(arq, settings), A2TStatus(True))


@pytest.fixture
async def start_worker(fake_api: FakeBotAPI, settings: Any) -> AsyncIterator[Any]:
    started: list[processes.Process] = []
    env = {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "DB__URL": settings.db.url.get_secret_value(),
        "REDIS__URL": settings.redis.url.get_secret_value(),
        "REDIS__QUEUE_NAME": BASE,
        "A2T__ROUTING__ENABLED": "true",
        "A2T__ROUTING__LIGHT_MAX_DURATION_S": "30",
        "A2T__DEVICE": "cpu",
        "A2T__HEARTBEAT_INTERVAL_S": "0.5",
        "A2T__STALE_AFTER_S": "3",
        "A2T__SWEEP_INTERVAL_S": "1",
        "METRICS__ENABLED": "false",
        "LOG__FORMAT": "json",
    }

    async def start(**extra: str) -> processes.Process:
        proc = await processes.start("worker", {**env, **extra})
        started.append(proc)
        await proc.wait_for_output('"serving queue"', timeout=120)
        return proc

    yield start
    for proc in started:
        proc.kill()
        await proc.wait()


async def _job_row(db: Any, job_id: int) -> TranscriptionJob:
    async with db() as session:
        job = await session.get(TranscriptionJob, job_id)
        assert job is not None
        return job


async def _latest_id(db: Any) -> int:
    async with db() as session:
        job_id = await session.scalar(
            select(TranscriptionJob.id).order_by(TranscriptionJob.id.desc())
        )
    assert job_id is not None
    return job_id


async def _wait_status(db: Any, job_id: int, status: JobStatus, timeout: float) -> TranscriptionJob:
    async with asyncio.timeout(timeout):
        while True:
            job = await _job_row(db, job_id)
            if job.status == status:
                return job
            await asyncio.sleep(0.1)


async def test_a_light_worker_never_takes_a_heavy_job(
    feed: Any, fake_api: FakeBotAPI, db: Any, deps: Any, arq: Any, start_worker: Any
) -> None:
    light = await start_worker()  # A2T__DEVICE=cpu: the light class
    assert f'"queue": "{LIGHT}"' in light.text

    jfk = audio_bytes("jfk.ogg")
    await feed(voice_note(fake_api, jfk, user=ALICE, chat=CHAT, duration=11))
    short_id = await _latest_id(db)
    short = await _wait_status(db, short_id, JobStatus.DONE, timeout=120)
    assert short.queue == LIGHT

    bob = f.user(id=7402, first_name="Bob")
    await feed(voice_note(fake_api, jfk, user=bob, chat=f.private_chat(bob), duration=200))
    long_id = await _latest_id(db)
    long = await _job_row(db, long_id)
    assert long.queue == HEAVY
    # Several sweep rounds of the light worker: the heavy job stays untouched in its queue.
    await asyncio.sleep(5)
    long = await _job_row(db, long_id)
    assert (long.status, long.attempts, long.generation) == (JobStatus.QUEUED, 0, 0)
    assert await arq.zscore(HEAVY, f"a2t:{long_id}:0") is not None
    assert _started_jobs(light) == {short_id}

    # Reported: the heavy queue has no live worker, the light one has one.
    queue = deps.job_queue
    assert await queue.live_workers() == {LIGHT: 1, HEAVY: 0}
    await refresh_live_workers(queue.live_workers)
    assert metrics.A2T_QUEUE_LIVE_WORKERS.labels(HEAVY)._value.get() == 0

    # A heavy worker (a multilingual model) joins the fleet and takes it.
    heavy = await start_worker(A2T__WORKER_CLASS="heavy", A2T__WHISPER__MODEL=str(WHISPER_BASE))
    assert f'"queue": "{HEAVY}"' in heavy.text
    await _wait_status(db, long_id, JobStatus.DONE, timeout=180)
    assert long_id in _started_jobs(heavy)
    assert _started_jobs(light) == {short_id}


def _started_jobs(worker: processes.Process) -> set[int]:
    started = set()
    for line in worker.output:
        if '"job started"' in line:
            started.add(int(json.loads(line)["job_id"]))
    return started


async def test_a_heavy_worker_needs_a_multilingual_model(start_worker: Any) -> None:
    with pytest.raises(AssertionError, match="multilingual model"):
        await start_worker(A2T__WORKER_CLASS="heavy")  # the bundled tiny.en
