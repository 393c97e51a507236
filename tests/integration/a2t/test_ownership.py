"""Ownership and poison: every write after the claim is fenced by the generation, a
worker that lost its job is told so (not "cancelled"), and a job is tried at most
A2T__MAX_TRIES times, whatever ended each try."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.jobs import TransientJobError
from bot.repositories.jobs import JobRepository, Lease
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, jfk_repeated, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker, make_worker

ALICE = f.user(id=7401, first_name="Alice")
CHAT = f.private_chat(ALICE)


async def _set(db: Any, job_id: int, **values: Any) -> None:
    async with db() as session:
        await session.execute(
            update(TranscriptionJob).where(TranscriptionJob.id == job_id).values(**values)
        )
        await session.commit()


async def test_writes_of_a_superseded_generation_touch_nothing(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    async with db() as session:
        jobs = JobRepository(session)
        old = await jobs.claim(job.id, 0, timedelta(seconds=60))
        assert old is not None
        await session.commit()
        # The old owner stalled; the sweep re-queued the job and a new worker took it.
        await _set(db, job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
        view = await jobs.get(job.id)
        assert view is not None
        assert await jobs.bump_generation(view) == 1
        assert await jobs.claim(job.id, 1, timedelta(seconds=60)) is not None
        await session.commit()

        assert await jobs.beat(job.id, 0, 50.0) is Lease.LOST  # not "cancel requested"
        assert not await jobs.update_owned(job.id, 0, text="stale words")
        assert not await jobs.release(job.id, 0)
        assert not await jobs.finish(job.id, 0, JobStatus.CANCELLED)
        await session.commit()
        current = await jobs.get(job.id)
        assert current is not None
        assert (current.status, current.generation, current.text) == (JobStatus.RUNNING, 1, None)
        assert await jobs.beat(job.id, 1, 10.0) is Lease.HELD
        await jobs.request_cancel(job.id, ALICE["id"])
        assert await jobs.beat(job.id, 1) is Lease.CANCEL_REQUESTED
        await session.commit()


async def test_a_worker_whose_job_was_requeued_stops_without_a_word(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any, logs: Any
) -> None:
    """The old owner's run meets the new generation: no "cancelled", no edit, no
    write; the new owner's run posts the one transcript."""
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    fake_api.delay("getFile", 1.5)
    first = asyncio.create_task(worker.pipeline.run(job.id, 0))
    await fake_api.wait_for_call("getFile")
    # Meanwhile the sweep re-queues it under generation 1 (the first run stalled).
    async with db() as session:
        jobs = JobRepository(session)
        await _set(db, job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
        view = await jobs.get(job.id)
        assert view is not None
        assert await jobs.bump_generation(view) == 1
        await session.commit()
    await first
    fake_api.delay("getFile", 0)
    edits_before = len(fake_api.calls_of("editMessageText"))
    assert edits_before == 0
    assert "ownership lost" in logs()
    await worker.pipeline.run(job.id, 1)
    done = await worker.job(job.id)
    assert (done.status, done.generation) == (JobStatus.DONE, 1)
    texts = [str(c.params.get("text", "")) for c in fake_api.calls_of("editMessageText")]
    assert not [t for t in texts if "cancelled" in t]
    assert JFK_PHRASE in " ".join(normalise(texts[-1]))


async def test_a_job_whose_workers_kept_dying_fails_with_a_message(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    # Five tries claimed it and none finished (each worker died on it).
    await _set(db, job.id, attempts=5)
    await worker.pipeline.run(job.id, job.generation)
    failed = await worker.job(job.id)
    assert (failed.status, failed.error_code, failed.attempts) == (JobStatus.FAILED, "gave_up", 6)
    text = fake_api.messages[(ALICE["id"], job.status_message_id)]["text"]
    assert "I tried 5 times and could not finish this one" in text
    assert not fake_api.calls_of("getFile")  # not tried a sixth time


async def test_transient_failures_are_retried_until_the_tries_run_out(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    fake_api.fail_next_download(502, times=5)  # the file server is down, for good
    for attempt in range(1, 5):
        with pytest.raises(TransientJobError):
            await worker.pipeline.run(job.id, job.generation)
        assert (await worker.job(job.id)).attempts == attempt
    await worker.pipeline.run(job.id, job.generation)  # the fifth: no more retries
    failed = await worker.job(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "gave_up")


async def test_a_job_past_its_time_limit_is_a_counted_try(
    feed: Any,
    fake_api: FakeBotAPI,
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    db: Any,
    botapi: Any,
    tiny_engine: Any,
    decoder: Any,
) -> None:
    settings = make_settings(
        pg_url,
        a2t={"job_timeout_s": 1, "max_tries": 2, "retry_delay_s": 0.1},
        redis={"url": redis_url, "queue_name": "test:a2t"},
    )
    slow = make_worker(settings, db, botapi, tiny_engine, decoder)
    await feed(voice_note(fake_api, jfk_repeated(12), user=ALICE, chat=CHAT, duration=132))
    job = await slow.job()
    with pytest.raises(TransientJobError, match="TimeoutError"):
        await slow.pipeline.run(job.id, job.generation)
    released = await slow.job(job.id)
    assert (released.status, released.attempts) == (JobStatus.QUEUED, 1)
    await slow.pipeline.run(job.id, job.generation)
    failed = await slow.job(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "gave_up")


async def test_download_errors_are_classified_and_never_show_the_token(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, capsys: Any
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    fake_api.fail_next_download(502)
    with pytest.raises(TransientJobError, match="HTTP 502"):
        await worker.pipeline.run(job.id, job.generation)
    assert (await worker.job(job.id)).status == JobStatus.QUEUED
    fake_api.fail_next_download(404)
    await worker.pipeline.run(job.id, job.generation)
    gone = await worker.job(job.id)
    assert (gone.status, gone.error_code) == (JobStatus.FAILED, "unavailable")
    assert (
        "Telegram no longer has this file."
        in fake_api.messages[(ALICE["id"], job.status_message_id)]["text"]
    )
    out = capsys.readouterr()
    assert fake_api.token not in out.out + out.err
