"""`python -m bot.admin jobs list|show|requeue|cancel` and `stats` on real jobs: voice
notes fed through the real dispatcher, a real arq queue on Redis, the real pipeline with
a real model playing the worker."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from sqlalchemy import update

from bot.db.base import utcnow
from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.jobs import TRANSCRIBE, arq_job_id, deserialize_job
from bot.services.ops import OPERATOR_ID
from bot.settings import RedisSettings, Settings
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker
from tests.integration.admin.conftest import invoke

ALICE = f.user(id=7301, first_name="Alice")
BOB = f.user(id=7302, first_name="Bob", language_code="ru")
QUEUE = "test:a2t"


async def voice(feed: Any, fake_api: FakeBotAPI, user: dict[str, Any] = ALICE) -> None:
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=user, chat=f.private_chat(user)))


async def set_job(db: Any, job_id: int, **values: Any) -> None:
    async with db() as session:
        await session.execute(
            update(TranscriptionJob).where(TranscriptionJob.id == job_id).values(**values)
        )
        await session.commit()


async def test_requeue_runs_a_failed_job_again_through_arq(
    settings: Settings,
    feed: Any,
    fake_api: FakeBotAPI,
    worker: Worker,
    arq_redis: ArqRedis,
) -> None:
    await voice(feed, fake_api)
    fake_api.fail_next(
        "getFile", error_code=400, description="Bad Request: file is temporarily unavailable"
    )
    await worker.run_all()
    failed = await worker.job()
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "unavailable")

    result = await invoke(settings, "jobs", "requeue", str(failed.id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"job {failed.id} requeued (was failed, now generation 1); enqueued in {QUEUE}"
    )
    assert any(e["event"] == "job requeued by an operator" for e in result.logs)  # type: ignore[attr-defined]
    reopened = await worker.job(failed.id)
    assert (reopened.status, reopened.generation, reopened.error_code, reopened.attempts) == (
        JobStatus.QUEUED,
        1,
        None,
        0,
    )
    queued = Job(
        arq_job_id(failed.id, 1), arq_redis, _queue_name=QUEUE, _deserializer=deserialize_job
    )
    assert await queued.status() == ArqStatus.queued
    info = await queued.info()
    assert info is not None
    assert (info.function, tuple(info.args)) == (TRANSCRIBE, (failed.id, 1))

    await worker.pipeline.run(failed.id, 0)  # the old generation's entry does nothing
    assert (await worker.job(failed.id)).status == JobStatus.QUEUED
    await worker.pipeline.run(failed.id, 1)
    done = await worker.job(failed.id)
    assert done.status == JobStatus.DONE
    assert JFK_PHRASE in " ".join(normalise(done.text or ""))

    again = await invoke(settings, "jobs", "requeue", str(failed.id))
    assert again.exit_code == 1
    assert "is done (its result was posted): nothing to requeue" in again.stderr
    missing = await invoke(settings, "jobs", "requeue", "999999")
    assert (missing.exit_code, missing.stderr.strip()) == (1, "Error: there is no job 999999")


async def test_requeue_leaves_live_workers_and_cancelled_jobs_alone_unless_forced(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await voice(feed, fake_api)
    job = await worker.job()
    await set_job(db, job.id, status=JobStatus.RUNNING, heartbeat_at=utcnow())
    live = await invoke(settings, "jobs", "requeue", str(job.id))
    assert live.exit_code == 1
    assert "is running on a live worker" in live.stderr
    assert (await worker.job(job.id)).generation == 0

    # Its worker stopped beating: requeued as the sweep would.
    await set_job(db, job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
    stale = await invoke(settings, "jobs", "requeue", str(job.id), "--json")
    assert stale.exit_code == 0, stale.output
    assert json.loads(stale.stdout) == {
        "job_id": job.id,
        "previous": "running",
        "generation": 1,
        "enqueued": True,
        "queue": QUEUE,
    }

    await set_job(db, job.id, status=JobStatus.CANCELLED, cancel_requested_by=ALICE["id"])
    cancelled = await invoke(settings, "jobs", "requeue", str(job.id))
    assert cancelled.exit_code == 1
    assert "was cancelled; pass --force" in cancelled.stderr
    forced = await invoke(settings, "jobs", "requeue", str(job.id), "--force")
    assert forced.exit_code == 0, forced.output
    reopened = await worker.job(job.id)
    assert (reopened.status, reopened.generation, reopened.cancel_requested_by) == (
        JobStatus.QUEUED,
        2,
        None,
    )


async def test_requeue_without_redis_leaves_the_job_to_the_bots_sweep(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await voice(feed, fake_api)
    job = await worker.job()
    await set_job(db, job.id, status=JobStatus.FAILED, error_code="unavailable")
    embedded = settings.model_copy(update={"redis": RedisSettings()})
    result = await invoke(embedded, "jobs", "requeue", str(job.id))
    assert result.exit_code == 0, result.output
    assert "no REDIS__URL: the bot's sweep runs it within about 3 s" in result.stdout
    assert (await worker.job(job.id)).status == JobStatus.QUEUED


async def test_cancel_a_queued_job_and_tell_the_user(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    await voice(feed, fake_api, BOB)
    job = await worker.job()
    assert job.status_message_id is not None
    fake_api.reset_calls()

    result = await invoke(settings, "jobs", "cancel", str(job.id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"job {job.id} cancelled (it was queued); the user's status message says so"
    )
    cancelled = await worker.job(job.id)
    assert (cancelled.status, cancelled.cancel_requested_by) == (JobStatus.CANCELLED, OPERATOR_ID)
    [edit] = fake_api.calls_of("editMessageText")
    assert (edit.params["chat_id"], edit.params["message_id"]) == (
        BOB["id"],
        job.status_message_id,
    )
    assert edit.params["text"] == "✖️ Расшифровка отменена."  # in Bob's language
    await worker.pipeline.run(job.id, 0)  # the queue entry finds nothing to do
    assert (await worker.job(job.id)).status == JobStatus.CANCELLED

    again = await invoke(settings, "jobs", "cancel", str(job.id))
    assert again.exit_code == 1
    assert "is already cancelled: nothing to cancel" in again.stderr


async def test_cancel_a_running_job_flags_it_for_its_worker(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await voice(feed, fake_api)
    job = await worker.job()
    await set_job(db, job.id, status=JobStatus.RUNNING, heartbeat_at=utcnow())
    fake_api.reset_calls()
    result = await invoke(settings, "jobs", "cancel", str(job.id), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "job_id": job.id,
        "previous": "running",
        "user_told": True,
        "note": None,
    }
    flagged = await worker.job(job.id)
    assert (flagged.status, flagged.cancel_requested_by) == (JobStatus.RUNNING, OPERATOR_ID)
    assert not fake_api.calls_of("editMessageText")  # the worker tells the user


async def test_list_show_and_stats(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    await voice(feed, fake_api, ALICE)
    await voice(feed, fake_api, BOB)
    first, second = sorted([j.id for j in await worker.open_jobs()])
    await set_job(db, first, status=JobStatus.FAILED, error_code="too_long")

    listed = await invoke(settings, "jobs", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["status"], r["user_id"]) for r in rows] == [
        (second, "queued", BOB["id"]),
        (first, "failed", ALICE["id"]),
    ]
    only = await invoke(settings, "jobs", "list", "--status", "failed", "--json")
    assert [r["id"] for r in json.loads(only.stdout)] == [first]
    by_user = await invoke(settings, "jobs", "list", "--user-id", str(BOB["id"]), "--json")
    assert [r["id"] for r in json.loads(by_user.stdout)] == [second]
    older = await invoke(settings, "jobs", "list", "--before", str(second), "--json")
    assert [r["id"] for r in json.loads(older.stdout)] == [first]
    human = await invoke(settings, "jobs", "list", "--limit", "1")
    lines = human.stdout.splitlines()
    assert lines[0].split() == [
        "id", "status", "chat", "user", "media", "seconds", "tries", "gen", "error", "received"
    ]  # fmt: skip
    assert lines[2].split()[:3] == [str(second), "queued", str(BOB["id"])]
    assert len(lines) == 3
    bad = await invoke(settings, "jobs", "list", "--status", "lost")
    assert bad.exit_code == 2

    shown = await invoke(settings, "jobs", "show", str(first), "--json")
    assert shown.exit_code == 0, shown.output
    job = json.loads(shown.stdout)
    assert (job["id"], job["status"], job["error_code"], job["ui_locale"]) == (
        first,
        "failed",
        "too_long",
        "en",
    )
    assert job["dedup_key"].startswith(f"{ALICE['id']}:")
    human_show = await invoke(settings, "jobs", "show", str(first))
    assert any(
        line.split() == ["error_code", "too_long"] for line in human_show.stdout.splitlines()
    )

    stats = await invoke(settings, "stats", "--all-chats", "--json")
    assert stats.exit_code == 0, stats.output
    counted = json.loads(stats.stdout)
    assert counted["jobs"] == {"failed": 1, "queued": 1}
    assert counted["open_jobs"] == 1
    assert counted["queue_depth"] == 2  # both voice notes were enqueued in arq
    assert counted["oldest_queued_s"] >= 0
    assert (counted["users"], counted["bots"]) == (2, 0)
    human_stats = await invoke(settings, "stats", "--all-chats")
    assert "transcription jobs: 2 (failed 1, queued 1)" in human_stats.stdout
    assert "queue: 1 open jobs;" in human_stats.stdout
    assert "arq queue 2" in human_stats.stdout
