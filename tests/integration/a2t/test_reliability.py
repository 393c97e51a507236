"""Nothing lost, nothing twice: transient errors retry, a dead worker's job is swept
back into the queue, a re-run continues posting where the last attempt stopped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from sqlalchemy import update

from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.jobs import ArqJobQueue, TransientJobError, arq_job_id
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker
from worker.sweep import sweep

ALICE = f.user(id=7201, first_name="Alice")
CHAT = f.private_chat(ALICE)


async def test_transient_telegram_errors_release_the_job_for_a_retry(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    # More 5xx than the sender retries by itself: the job must be retried later.
    fake_api.fail_next("getFile", error_code=502, times=4)
    with pytest.raises(TransientJobError):
        await worker.pipeline.run(job.id, job.generation)
    released = await worker.job(job.id)
    assert (released.status, released.attempts) == (JobStatus.QUEUED, 1)

    await worker.pipeline.run(job.id, job.generation)  # arq's retry
    done = await worker.job(job.id)
    assert (done.status, done.attempts) == (JobStatus.DONE, 2)
    assert JFK_PHRASE in " ".join(normalise(done.text or ""))


async def test_flood_control_is_waited_out_not_turned_into_new_messages(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    fake_api.fail_next("editMessageText", error_code=429, retry_after=1, times=3)
    await worker.run_all()
    job = await worker.job()
    assert job.status == JobStatus.DONE
    assert len(fake_api.calls_of("sendMessage")) == 1  # only the status message


async def test_sweep_requeues_a_job_whose_worker_died(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any, arq_redis: ArqRedis
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    # A worker claimed it and then died: running, heartbeat long gone.
    async with db() as session:
        await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id)
            .values(status=JobStatus.RUNNING, heartbeat_at=utcnow() - timedelta(minutes=5))
        )
        await session.commit()
    queue = ArqJobQueue(arq_redis, "test:a2t")

    assert await sweep(db, queue, timedelta(seconds=60)) == 1
    assert await sweep(db, queue, timedelta(seconds=60)) == 0  # exactly once
    swept = await worker.job(job.id)
    assert (swept.status, swept.generation) == (JobStatus.QUEUED, 1)
    assert await Job(arq_job_id(job.id, 1), arq_redis, _queue_name="test:a2t").status() == (
        ArqStatus.queued
    )
    # The dead worker's queue entry is stale now and does nothing.
    await worker.pipeline.run(job.id, 0)
    assert (await worker.job(job.id)).status == JobStatus.QUEUED
    await worker.pipeline.run(job.id, 1)
    assert (await worker.job(job.id)).status == JobStatus.DONE


async def test_sweep_requeues_queued_jobs_the_queue_forgot(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any, arq_redis: ArqRedis
) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    queue = ArqJobQueue(arq_redis, "test:a2t")
    assert await sweep(db, queue, timedelta(0)) == 0  # still in the queue: left alone
    await arq_redis.flushdb()  # Redis restarted without persistence
    assert await sweep(db, queue, timedelta(0)) == 1
    assert (await worker.job(job.id)).generation == 1


async def test_a_retry_posts_the_parts_split_by_the_first_try(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any, settings: Any
) -> None:
    """The footer says "delayed" once the result is late; a retry must not split the
    transcript again with the longer footer (words would repeat or go missing)."""
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    long_text = " ".join(f"w{i}" for i in range(3000))  # ~17,000 characters: 5 messages
    async with db() as session:  # an earlier try stored this transcript
        await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id)
            .values(text=long_text, language="en", audio_duration_s=900.0)
        )
        await session.commit()
    # Part 2 fails past the sender's own retries: the job is released for a retry.
    fake_api.fail_next("sendMessage", error_code=502, times=4)
    with pytest.raises(TransientJobError):
        await worker.pipeline.run(job.id, job.generation)
    first = await worker.job(job.id)
    assert first.status == JobStatus.QUEUED
    assert first.result_message_ids == [job.status_message_id]
    assert first.result_parts is not None
    assert len(first.result_parts) == 5
    assert "Delayed" not in first.result_parts[-1]

    async with db() as session:  # the retry comes late: now the footer would differ
        await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id)
            .values(received_at=utcnow() - timedelta(hours=2))
        )
        await session.commit()
    await worker.pipeline.run(job.id, job.generation)
    done = await worker.job(job.id)
    assert done.status == JobStatus.DONE
    assert done.result_parts == first.result_parts
    parts = done.result_message_ids or []
    assert len(parts) == 5
    texts = [fake_api.messages[(ALICE["id"], mid)]["text"] for mid in parts]
    assert all(len(t) <= 4096 for t in texts)
    words = " ".join(texts).split()
    assert [w for w in words if w.startswith("w")] == long_text.split()  # each word once
    assert len(fake_api.calls_of("sendMessage")) == 1 + 4 + 4  # status, parts 2-5, failures


async def test_a_part_whose_send_was_not_recorded_is_sent_again(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any, logs: Any
) -> None:
    """Died between Telegram taking part 2 and saving its id: the re-run cannot know
    whether part 2 exists, so it sends it again (twice at worst, never missing)."""
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    job = await worker.job()
    parts = ["part one", "part two", "part three"]
    async with db() as session:
        await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id)
            .values(
                text="part one part two part three",
                result_parts=parts,
                result_message_ids=[job.status_message_id],
                posting_part=1,
                status=JobStatus.RUNNING,
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
        await session.commit()
    fake_api.messages[(ALICE["id"], job.status_message_id)]["text"] = "part one"
    await worker.pipeline.run(job.id, job.generation)
    done = await worker.job(job.id)
    assert done.status == JobStatus.DONE
    assert done.posting_part is None
    texts = [fake_api.messages[(ALICE["id"], mid)]["text"] for mid in done.result_message_ids]
    assert texts == parts
    assert "result part may have been sent by a run that died" in logs()


async def test_late_results_are_marked_delayed(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    note = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT)
    note["message"]["date"] = int((utcnow() - timedelta(hours=3)).timestamp())
    await feed(note)
    await worker.run_all()
    job = await worker.job()
    text = fake_api.messages[(ALICE["id"], job.status_message_id)]["text"]
    assert "⏰ Delayed: the voice note arrived 3 h ago." in text
    assert JFK_PHRASE in " ".join(normalise(text))
