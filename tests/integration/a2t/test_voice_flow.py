"""A voice note's whole life through real parts: the dispatcher fed Bot API JSON, the
job row in PostgreSQL, the arq queue on Redis, the pipeline with ffmpeg and Whisper
tiny.en, and what the chat sees at the fake Bot API."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from prometheus_client import REGISTRY

from bot.db.enums import JobStatus
from bot.jobs import arq_job_id
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, references, voice_note, word_error_rate
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker

ALICE = f.user(id=7001, first_name="Alice")
CHAT = f.private_chat(ALICE)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _final_text(api: FakeBotAPI, chat_id: int, message_id: int) -> str:
    return str(api.messages[(chat_id, message_id)]["text"])


async def test_voice_note_is_queued_transcribed_and_replaced_in_place(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, arq_redis: ArqRedis
) -> None:
    before = _metric("a2t_time_to_first_status_seconds_count")
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    assert _metric("a2t_time_to_first_status_seconds_count") == before + 1

    status = await fake_api.wait_for_call("sendMessage")
    assert "Queued" in status.params["text"]
    assert "position 1" in status.params["text"]
    assert status.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Cancel"
    job = await worker.job()
    assert job.status == JobStatus.QUEUED
    assert job.status_message_id == status.response["result"]["message_id"]
    # Recorded first, then enqueued under a deterministic id.
    arq_job = Job(arq_job_id(job.id, 0), arq_redis, _queue_name="test:a2t")
    assert await arq_job.status() == ArqStatus.queued

    assert await worker.run_all() == 1

    done = await worker.job(job.id)
    assert done.status == JobStatus.DONE
    assert done.posted_at is not None
    assert done.result_message_ids == [job.status_message_id]
    text = _final_text(fake_api, CHAT["id"], job.status_message_id)
    assert JFK_PHRASE in " ".join(normalise(text))
    assert word_error_rate(references()["jfk.ogg"], done.text or "") < 0.15
    assert "🗣 en" in text
    assert "⏱ 0:11" in text
    # Progress was shown by editing the same message; nothing else was sent.
    assert len(fake_api.calls_of("sendMessage")) == 1
    edits = fake_api.calls_of("editMessageText")
    assert all(e.params["message_id"] == job.status_message_id for e in edits)
    assert _metric("a2t_jobs_total", outcome="done") >= 1


async def test_duplicate_update_and_forwarded_copy_are_not_transcribed_again(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    update = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT)
    await feed(update)
    await feed(update)  # Telegram re-delivers the same update
    assert await worker.count() == 1
    assert len(fake_api.calls_of("sendMessage")) == 1
    await worker.run_all()
    original = await worker.job()

    # The same voice note forwarded by someone else: same file_unique_id.
    bob = f.user(id=7002, first_name="Bob")
    voice = update["message"]["voice"]
    forwarded = f.message(
        from_user=bob,
        chat=f.private_chat(bob),
        voice=voice,
        forward_origin=f.forward_origin_user(ALICE),
    )
    calls_before = len(fake_api.calls)
    forwarded_update = f.message_update(forwarded)
    await feed(forwarded_update)
    answer = await fake_api.wait_for_call("sendMessage", after=calls_before)
    assert answer.params["chat_id"] == bob["id"]
    assert JFK_PHRASE in " ".join(normalise(answer.params["text"]))
    # Answered from the database: a finished row of Bob's chat (so its buttons act
    # there), nothing queued and nothing downloaded again.
    assert await worker.open_jobs() == []
    assert not fake_api.calls_of("getFile")[1:]
    copy = await worker.job()
    assert (copy.id, copy.source_job_id, copy.status) == (original.id + 1, original.id, "done")
    assert (copy.chat_id, copy.user_id, copy.speaker_id) == (bob["id"], bob["id"], ALICE["id"])
    assert copy.text == original.text
    assert copy.result_message_ids == [answer.response["result"]["message_id"]]
    buttons = answer.params["reply_markup"]["inline_keyboard"][0]
    assert buttons[0]["callback_data"] == f"a2t:t:{copy.id}:"
    # Telegram re-delivering the forwarded copy gets no second answer.
    await feed(forwarded_update)
    assert len(fake_api.calls_of("sendMessage")) == 2
    assert await worker.count() == 2
    assert original.status == JobStatus.DONE


async def test_broken_files_fail_clearly_and_leave_no_open_job(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    for name in ("truncated.ogg", "not_audio.ogg"):
        await feed(voice_note(fake_api, audio_bytes(name), user=ALICE, chat=CHAT, duration=3))
    await worker.run_all()
    assert await worker.open_jobs() == []
    for message in fake_api.sent_messages(CHAT["id"]):
        assert message["text"].startswith("⚠️ I could not transcribe this.")
        assert "not audio I can read" in message["text"]
    job = await worker.job()
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "unreadable", 1)


async def test_limits_are_checked_before_anything_is_downloaded(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    big = voice_note(fake_api, b"x", user=ALICE, chat=CHAT)
    big["message"]["voice"]["file_size"] = 25 * 1024 * 1024
    await feed(big)
    reply = await fake_api.wait_for_call("sendMessage")
    assert "25.0 MB" in reply.params["text"]
    assert "20.0 MB" in reply.params["text"]

    long = voice_note(fake_api, b"x", user=ALICE, chat=CHAT, duration=3600)
    count = len(fake_api.calls)
    await feed(long)
    reply = await fake_api.wait_for_call("sendMessage", after=count)
    assert "60:00 long" in reply.params["text"]
    assert "limit is 20:00" in reply.params["text"]

    assert await worker.count() == 0
    assert fake_api.calls_of("getFile") == []


async def test_decoded_length_is_checked_even_when_telegram_says_less(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.max_duration_s = 5  # the clip is 11 s but claims 3 s
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT, duration=3))
    await worker.run_all()
    job = await worker.job()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "too_long")
    assert "longer than the limit" in _final_text(fake_api, CHAT["id"], job.status_message_id)


async def test_rate_limit_quota_and_backpressure_answer_clearly(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.user_rate_per_minute = 2
    for _ in range(3):
        await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=CHAT, duration=2))
    texts = [m["text"] for m in fake_api.sent_messages(CHAT["id"])]
    assert sum("Queued" in t for t in texts) == 2
    assert "too fast" in texts[-1]

    settings.a2t.user_rate_per_minute = 100
    settings.a2t.user_daily_minutes = 1
    await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=CHAT, duration=58))
    assert "transcription quota" in fake_api.sent_messages(CHAT["id"])[-1]["text"]

    settings.a2t.max_queue_depth = 2
    bob = f.user(id=7003)
    await feed(voice_note(fake_api, b"ogg", user=bob, chat=f.private_chat(bob), duration=2))
    assert "busy" in fake_api.sent_messages(bob["id"])[-1]["text"]
    assert await worker.count() == 2


async def test_disabled_a2t_says_so_and_records_nothing(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, deps: Any
) -> None:
    from bot.services.transcription import A2TStatus

    deps.a2t_status = A2TStatus(False, "Voice transcription is switched off here.")
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT))
    reply = await fake_api.wait_for_call("sendMessage")
    assert reply.params["text"] == "Voice transcription is switched off here."
    assert await worker.count() == 0


async def test_audio_document_and_video_note_are_accepted(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    for kind in ("audio", "document", "video_note"):
        await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=CHAT, kind=kind))
    text_doc = f.message(from_user=ALICE, chat=CHAT, document=f.document(mime_type="text/plain"))
    await feed(f.message_update(text_doc))
    assert await worker.count() == 3
    await worker.run_all()
    for message_id in [j for j in [m["message_id"] for m in fake_api.sent_messages(CHAT["id"])]]:
        assert JFK_PHRASE in " ".join(normalise(_final_text(fake_api, CHAT["id"], message_id)))


async def test_status_result_and_failure_speak_the_requesters_language(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    """The worker renders in the language the requester had when the job was recorded."""
    ivan = f.user(id=7002, first_name="Иван", language_code="ru")
    chat = f.private_chat(ivan)
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ivan, chat=chat))
    await feed(voice_note(fake_api, audio_bytes("not_audio.ogg"), user=ivan, chat=chat, duration=3))
    statuses = await fake_api.wait_for_calls("sendMessage", 2)
    assert all(s.params["text"].startswith("🎙 В очереди на расшифровку") for s in statuses)
    assert statuses[0].params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Отмена"

    await worker.run_all()
    good, bad = (
        fake_api.messages[(chat["id"], s.response["result"]["message_id"])]["text"]
        for s in statuses
    )
    assert JFK_PHRASE in " ".join(normalise(good))
    assert bad == (
        "⚠️ Не удалось расшифровать. Этот файл — не аудио, которое я умею читать, или он повреждён."
    )
    failed = await worker.job()
    # The row keeps the English text for operators.
    assert failed.error_message == "This file is not audio I can read, or it is damaged."
