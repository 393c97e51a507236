"""What users and admins do around a job: cancel, .txt/.srt, re-run in another
language, per-chat modes, and what happens when the chat goes away."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.db.enums import JobStatus
from bot.telegram.a2t_views import A2TAction
from bot.telegram.callbacks import A2TCallback
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker, make_worker

ALICE = f.user(id=7101, first_name="Alice")
BOB = f.user(id=7102, first_name="Bob")
ADMIN = f.user(id=7103, first_name="Ada")
GROUP = f.group_chat(id=-1007100, title="Voices")


def _press(user: dict[str, Any], message: dict[str, Any], data: A2TCallback) -> dict[str, Any]:
    return f.callback_query_update(user, message, data.pack())


async def _queued(feed: Any, api: FakeBotAPI, user: dict[str, Any], chat: dict[str, Any]) -> Any:
    count = len(api.calls)
    await feed(voice_note(api, audio_bytes("jfk.ogg"), user=user, chat=chat))
    return await api.wait_for_call("sendMessage", after=count)


async def test_only_sender_or_admin_can_cancel_a_queued_job(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    fake_api.set_chat_member(GROUP["id"], ADMIN, "administrator")
    fake_api.set_chat_member(GROUP["id"], BOB, "member")
    status = await _queued(feed, fake_api, ALICE, GROUP)
    message = status.response["result"]
    job = await worker.job()
    cancel = A2TCallback(action=A2TAction.CANCEL, job_id=job.id)

    await feed(_press(BOB, message, cancel))
    alert = await fake_api.wait_for_call("answerCallbackQuery")
    assert alert.params["show_alert"] is True
    assert "Only the sender or a chat admin" in alert.params["text"]
    assert (await worker.job(job.id)).status == JobStatus.QUEUED

    await feed(_press(ADMIN, message, cancel))
    await fake_api.wait_for_calls("answerCallbackQuery", 2)
    assert (await worker.job(job.id)).status == JobStatus.CANCELLED
    assert fake_api.messages[(GROUP["id"], message["message_id"])]["text"].startswith("✖️")
    # The worker skips it: nothing downloaded, nothing posted.
    await worker.pipeline.run(job.id, job.generation)
    assert fake_api.calls_of("getFile") == []


async def test_forged_callback_data_changes_nothing(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    status = await _queued(feed, fake_api, ALICE, f.private_chat(ALICE))
    message = status.response["result"]
    for data in (
        "a2t:x:not-a-number:",
        "a2t:zz:1:",
        "a2t:x:999999:",
        "a2t:t:99999999999999999999:",
        "a2t:r:-1:ru",
    ):
        await feed(f.callback_query_update(ALICE, message, data))
    assert (await worker.job()).status == JobStatus.QUEUED
    answers = [a.params.get("text", "") for a in fake_api.calls_of("answerCallbackQuery")]
    assert len(answers) == 5
    # Malformed or out-of-range data fails parsing (callback numbers are bounded);
    # a well-formed id of no job is looked up and refused.
    assert answers.count("This transcription no longer exists.") == 1
    assert answers.count("This button no longer works.") == 4
    assert not any("went wrong" in text for text in answers)  # nothing crashed


async def test_cancel_while_running_stops_at_next_segment(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    long_clip = audio_bytes("jfk.ogg")
    await feed(voice_note(fake_api, long_clip, user=ALICE, chat=f.private_chat(ALICE)))
    job = await worker.job()
    message = fake_api.sent_messages(ALICE["id"])[-1]
    run = asyncio.create_task(worker.pipeline.run(job.id, job.generation))
    await fake_api.wait_for_call("getFile")
    await feed(_press(ALICE, message, A2TCallback(action=A2TAction.CANCEL, job_id=job.id)))
    answer = await fake_api.wait_for_call("answerCallbackQuery")
    assert answer.params["text"] in {"Stopping…", "Cancelled."}
    await run
    final = await worker.job(job.id)
    assert final.status == JobStatus.CANCELLED
    assert final.text is None
    assert fake_api.messages[(ALICE["id"], message["message_id"])]["text"].startswith("✖️")


async def test_txt_and_srt_buttons_send_the_transcript(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    status = await _queued(feed, fake_api, ALICE, f.private_chat(ALICE))
    await worker.run_all()
    job = await worker.job()
    message = fake_api.messages[(ALICE["id"], status.response["result"]["message_id"])]
    buttons = [
        b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons[:2] == [
        A2TCallback(action=A2TAction.TXT, job_id=job.id).pack(),
        A2TCallback(action=A2TAction.SRT, job_id=job.id).pack(),
    ]
    for action in (A2TAction.TXT, A2TAction.SRT):
        await feed(_press(ALICE, message, A2TCallback(action=action, job_id=job.id)))
    documents = await fake_api.wait_for_calls("sendDocument", 2)
    txt, srt = (d.files["document"].decode() for d in documents)
    assert JFK_PHRASE in " ".join(normalise(txt))
    assert srt.startswith("1\n00:00:00,000 --> 00:00:")
    assert documents[0].params["reply_parameters"]["message_id"] == job.message_id


async def test_rerun_in_another_language_with_a_multilingual_model(
    feed: Any, fake_api: FakeBotAPI, settings: Any, db: Any, botapi: Any, base_engine: Any
) -> None:
    worker = make_worker(settings, db, botapi, base_engine)
    chat = f.private_chat(ALICE)
    await feed(
        voice_note(fake_api, audio_bytes("pv_test_de.wav"), user=ALICE, chat=chat, duration=5)
    )
    await worker.run_all()
    first = await worker.job()
    assert first.language == "de"
    result = fake_api.messages[(ALICE["id"], first.status_message_id)]
    assert "🗣 de" in result["text"]
    reruns = [b for b in result["reply_markup"]["inline_keyboard"][1]]
    assert [b["text"] for b in reruns] == ["↻ en", "↻ ru", "↻ fr", "↻ es"]

    await feed(
        _press(ALICE, result, A2TCallback(action=A2TAction.RERUN, job_id=first.id, language="en"))
    )
    await worker.run_all()
    second = await worker.job()
    assert (second.id, second.language_hint, second.language) == (first.id + 1, "en", "en")
    assert second.message_id == first.message_id
    assert second.text
    assert second.text != first.text


async def test_group_modes_and_transcribe_command(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    fake_api.set_chat_member(GROUP["id"], ADMIN, "administrator")
    fake_api.set_chat_member(GROUP["id"], BOB, "member")
    await _queued(feed, fake_api, ALICE, GROUP)  # default: auto
    assert await worker.count() == 1

    await feed(f.message_update(f.message("/a2t_mode command", from_user=BOB, chat=GROUP)))
    assert "Only chat admins" in fake_api.sent_messages(GROUP["id"])[-1]["text"]
    await feed(f.message_update(f.message("/a2t_mode command", from_user=ADMIN, chat=GROUP)))
    assert fake_api.sent_messages(GROUP["id"])[-1]["text"] == "Transcription mode set to command."

    note = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=GROUP)
    await feed(note)
    assert await worker.count() == 1  # command mode: not automatic
    ask = f.message("/transcribe", from_user=BOB, chat=GROUP, reply_to=note["message"])
    await feed(f.message_update(ask))
    assert await worker.count() == 2
    job = await worker.job()
    assert job.message_id == note["message"]["message_id"]

    await feed(f.message_update(f.message("/a2t_mode off", from_user=ADMIN, chat=GROUP)))
    await feed(f.message_update(ask))
    assert "switched off" in fake_api.sent_messages(GROUP["id"])[-1]["text"]
    await feed(f.message_update(f.message("/transcribe", from_user=BOB, chat=GROUP)))
    assert "Reply to a voice note" in fake_api.sent_messages(GROUP["id"])[-1]["text"]
    assert await worker.count() == 2


async def test_blocked_chat_stops_its_pending_jobs(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    chat = f.private_chat(ALICE)
    for _ in range(2):
        await _queued(feed, fake_api, ALICE, chat)
    fake_api.block_chat(ALICE["id"])
    await worker.run_all()
    jobs = [await worker.job(job_id) for job_id in (1, 2)]
    assert {(j.status, j.error_code) for j in jobs} == {(JobStatus.CANCELLED, "chat_unavailable")}


async def test_bot_removed_from_group_cancels_pending_jobs(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    await _queued(feed, fake_api, ALICE, GROUP)
    me = fake_api.bot_user
    removed = f.my_chat_member_update(
        GROUP, ADMIN, f.chat_member(me, "member"), f.chat_member(me, "kicked", until_date=0)
    )
    await feed(removed)
    assert (await worker.job()).status == JobStatus.CANCELLED
