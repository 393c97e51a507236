"""Routing on the bot's side and in recovery: a job lands in the queue of the workers
that can serve it, and the lost-job sweep and `jobs requeue` put it back there (routed
again by its length and language), never in the default queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from bot.db.enums import JobStatus
from bot.jobs import arq_job_id, arq_job_queue
from bot.routing import WorkerRegistry
from bot.settings import Settings
from tests import factories as f
from tests.a2t import audio_bytes, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker
from tests.integration.a2t.test_ops_jobs import set_job
from tests.integration.admin.conftest import invoke
from worker.sweep import sweep

ALICE = f.user(id=7501, first_name="Alice")
LIGHT, HEAVY = "test:a2t:light", "test:a2t:heavy"


@pytest.fixture
def settings(make_settings: Any, pg_url: str, redis_url: str) -> Settings:
    from tests.integration.a2t.conftest import A2T_TEST_SETTINGS

    routed: Settings = make_settings(
        pg_url,
        a2t={**A2T_TEST_SETTINGS, "routing": {"enabled": True, "light_max_duration_s": 60}},
        redis={"url": redis_url, "queue_name": "test:a2t"},
        moderation={"admin_ids": [ALICE["id"]]},
    )
    return routed


async def _voice(feed: Any, fake_api: FakeBotAPI, duration: int, user: Any = ALICE) -> None:
    note = voice_note(
        fake_api, audio_bytes("jfk.ogg"), user=user, chat=f.private_chat(user), duration=duration
    )
    await feed(note)


async def _in_queue(arq: Redis, queue: str, job_id: int, generation: int) -> bool:
    return await arq.zscore(queue, arq_job_id(job_id, generation)) is not None


async def test_jobs_go_to_their_class_queue_and_light_overflows_to_heavy(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker, arq_redis: ArqRedis
) -> None:
    registry = WorkerRegistry(arq_redis, ttl_s=30)
    await registry.beat(LIGHT, "cpu-1")
    await _voice(feed, fake_api, duration=11)
    short = await worker.job()
    await _voice(feed, fake_api, duration=300, user=f.user(id=7502, first_name="Bob"))
    long = await worker.job()
    assert (short.queue, long.queue) == (LIGHT, HEAVY)
    assert await _in_queue(arq_redis, LIGHT, short.id, 0)
    assert await _in_queue(arq_redis, HEAVY, long.id, 0)

    # No light worker alive, a heavy one is: short notes go to the heavy queue.
    await registry.leave(LIGHT, "cpu-1")
    await registry.beat(HEAVY, "gpu-1")
    await _voice(feed, fake_api, duration=11, user=f.user(id=7503, first_name="Carol"))
    overflow = await worker.job()
    assert overflow.queue == HEAVY
    assert await _in_queue(arq_redis, HEAVY, overflow.id, 0)


async def test_the_sweep_reenqueues_a_lost_job_into_its_queue(
    settings: Settings,
    feed: Any,
    fake_api: FakeBotAPI,
    worker: Worker,
    arq_redis: ArqRedis,
    db: Any,
) -> None:
    await _voice(feed, fake_api, duration=300)
    job = await worker.job()
    await arq_redis.flushdb()  # Redis lost its queues
    await sweep(db, arq_job_queue(arq_redis, settings), timedelta(seconds=0))
    again = await worker.job(job.id)
    assert (again.status, again.generation, again.queue) == (JobStatus.QUEUED, 1, HEAVY)
    assert await _in_queue(arq_redis, HEAVY, job.id, 1)
    assert not await _in_queue(arq_redis, "test:a2t", job.id, 1)


async def test_requeue_enqueues_into_the_jobs_queue(
    settings: Settings,
    feed: Any,
    fake_api: FakeBotAPI,
    worker: Worker,
    arq_redis: ArqRedis,
    db: Any,
) -> None:
    await _voice(feed, fake_api, duration=300)
    job = await worker.job()
    await set_job(db, job.id, status=JobStatus.FAILED, error_code="unavailable")

    result = await invoke(settings, "jobs", "requeue", str(job.id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"enqueued in {HEAVY}")
    assert await _in_queue(arq_redis, HEAVY, job.id, 1)
    assert (await worker.job(job.id)).queue == HEAVY


async def test_moderators_see_a_queue_no_live_worker_serves(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, arq_redis: ArqRedis
) -> None:
    await WorkerRegistry(arq_redis, ttl_s=30).beat(LIGHT, "cpu-1")
    bob = f.user(id=7502, first_name="Bob")
    await _voice(feed, fake_api, duration=300, user=bob)  # heavy: no GPU worker alive

    await feed(
        f.message_update(f.message("/a2t_status", from_user=ALICE, chat=f.private_chat(ALICE)))
    )
    status = fake_api.sent_messages(ALICE["id"])[-1]["text"]
    assert f"• {LIGHT}: 0 waiting (oldest –), 0 running; 1 live workers" in status
    assert f"• {HEAVY}: 1 waiting (oldest 0:0" in status
    assert "0 running; 0 live workers" in status
    assert f"⚠️ {HEAVY}: jobs are waiting and no live worker serves this queue." in status
    assert f"⚠️ {LIGHT}" not in status

    await feed(f.message_update(f.message("/a2t_status", from_user=bob, chat=f.private_chat(bob))))
    assert "Only moderators" in fake_api.sent_messages(bob["id"])[-1]["text"]
