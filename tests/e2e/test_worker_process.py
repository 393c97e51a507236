"""The production shape: fake Bot API -> real dispatcher -> PostgreSQL row -> arq on
real Redis -> `python -m worker` processes -> edits and transcript at the fake API."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from tests import factories as f
from tests import processes
from tests.a2t import JFK_PHRASE, jfk_repeated, normalise, voice_note
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e
ALICE = f.user(id=7301, first_name="Alice")
CHAT = f.private_chat(ALICE)


@pytest.fixture
def settings(make_settings: Any, pg_url: str, redis_url: str) -> Any:
    return make_settings(pg_url, redis={"url": redis_url, "queue_name": "e2e:a2t"})


@pytest.fixture
def deps(settings: Any, redis: Any) -> Any:
    from arq.connections import ArqRedis

    from bot.jobs import ArqJobQueue
    from bot.services import AppDeps
    from bot.services.transcription import A2TStatus

    arq = ArqRedis(connection_pool=redis.connection_pool)
    return AppDeps(settings, ArqJobQueue(arq, "e2e:a2t"), A2TStatus(True))


@pytest.fixture(scope="module")
def minute_long_note() -> bytes:
    """JFK six times over (66 s), encoded like a Telegram voice note."""
    return jfk_repeated(6)


@pytest.fixture
def worker_env(fake_api: FakeBotAPI, settings: Any) -> dict[str, str]:
    return {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "DB__URL": settings.db.url.get_secret_value(),
        "REDIS__URL": settings.redis.url.get_secret_value(),
        "REDIS__QUEUE_NAME": "e2e:a2t",
        "A2T__DEVICE": "cpu",
        "A2T__PROGRESS_INTERVAL_S": "0.3",
        "A2T__HEARTBEAT_INTERVAL_S": "0.5",
        "A2T__STALE_AFTER_S": "2",
        "A2T__SWEEP_INTERVAL_S": "1",
        "METRICS__ENABLED": "false",
        "LOG__FORMAT": "json",
    }


@pytest.fixture
async def start_worker(worker_env: dict[str, str]) -> AsyncIterator[Any]:
    started: list[processes.Process] = []

    async def start() -> processes.Process:
        proc = await processes.start("worker", worker_env)
        started.append(proc)
        await proc.wait_for_output("engine ready", timeout=60)
        return proc

    yield start
    for proc in started:
        proc.kill()
        await proc.wait()


async def _job(db: Any, status: JobStatus | None = None, timeout: float = 10) -> TranscriptionJob:
    """The latest job; with `status`, wait until it has that status."""
    async with asyncio.timeout(timeout):
        while True:
            async with db() as session:
                job = await session.scalar(
                    select(TranscriptionJob).order_by(TranscriptionJob.id.desc())
                )
            assert job is not None
            if status is None or job.status == status:
                return job
            await asyncio.sleep(0.05)


def _is_transcript(call: Any) -> bool:
    text = str(call.params.get("text", ""))
    return "Transcribing" not in text and JFK_PHRASE in " ".join(normalise(text))


async def test_worker_process_posts_progress_and_transcript(
    feed: Any, fake_api: FakeBotAPI, db: Any, start_worker: Any, minute_long_note: bytes
) -> None:
    worker = await start_worker()
    await feed(voice_note(fake_api, minute_long_note, user=ALICE, chat=CHAT, duration=66))
    final = await fake_api.wait_for_call("editMessageText", _is_transcript, timeout=120)
    progress = [
        c for c in fake_api.calls_of("editMessageText") if "Transcribing" in c.params["text"]
    ]
    assert progress, "no progress edits"
    assert int(progress[-1].params["text"].split("…")[1].split("%")[0]) > 0
    job = await _job(db, JobStatus.DONE)
    assert final.params["message_id"] == job.status_message_id
    assert await worker.terminate() == 0
    assert "worker stopped" in worker.text
    assert fake_api.token not in worker.text


async def test_sigkill_mid_job_second_worker_finishes_exactly_once(
    feed: Any, fake_api: FakeBotAPI, db: Any, start_worker: Any, minute_long_note: bytes
) -> None:
    first = await start_worker()
    await feed(voice_note(fake_api, minute_long_note, user=ALICE, chat=CHAT, duration=66))
    await first.wait_for_output('"job started"', timeout=30)
    await fake_api.wait_for_call(
        "editMessageText", lambda c: "Transcribing" in c.params["text"], timeout=60
    )
    first.proc.send_signal(signal.SIGKILL)
    await first.wait()
    assert (await _job(db)).status == JobStatus.RUNNING  # orphaned mid-job

    second = await start_worker()
    await fake_api.wait_for_call("editMessageText", _is_transcript, timeout=120)
    job = await _job(db, JobStatus.DONE)
    await asyncio.sleep(1.0)  # anything duplicated would arrive now
    assert (job.status, job.attempts, job.generation) == (JobStatus.DONE, 2, 1)
    assert job.result_message_ids == [job.status_message_id]
    transcripts = [c for c in fake_api.calls if _is_transcript(c)]
    assert len(transcripts) == 1
    assert len(fake_api.calls_of("sendMessage")) == 1  # the status message only
    assert "stale job re-enqueued" in second.text
    await second.terminate()


async def test_worker_without_redis_url_is_one_clear_line(tmp_path: Path) -> None:
    proc = await processes.start("worker", {"BOT__TOKEN": "1:x"}, cwd=tmp_path)
    assert await proc.wait() == 2
    assert proc.output == ["error: REDIS__URL is not set: workers take their jobs from Redis"]


@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_download_errors_retry_or_fail_and_never_log_the_token(
    feed: Any,
    fake_api: FakeBotAPI,
    db: Any,
    worker_env: dict[str, str],
    log_format: str,
) -> None:
    """The file URL holds the token and aiohttp's errors hold the URL: a 502 is tried
    again, a 404 says the file is gone, and neither log format shows the token."""
    from tests.a2t import audio_bytes

    worker = await processes.start(
        "worker", {**worker_env, "LOG__FORMAT": log_format, "A2T__RETRY_DELAY_S": "0.2"}
    )
    try:
        await worker.wait_for_output("engine ready", timeout=60)
        fake_api.fail_next_download(502)
        await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
        await fake_api.wait_for_call("editMessageText", _is_transcript, timeout=120)
        retried = await _job(db, JobStatus.DONE)
        assert retried.attempts == 2

        fake_api.fail_next_download(404)
        bob = f.user(id=7302, first_name="Bob")
        await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=bob, chat=f.private_chat(bob)))
        gone = await _job(db, JobStatus.FAILED, timeout=60)
        assert gone.error_code == "unavailable"
        assert (
            "Telegram no longer has this file."
            in fake_api.messages[(bob["id"], gone.status_message_id)]["text"]
        )
    finally:
        await worker.terminate()
    assert "HTTP 502" in worker.text
    assert fake_api.token not in worker.text
    assert fake_api.token.split(":")[1] not in worker.text
