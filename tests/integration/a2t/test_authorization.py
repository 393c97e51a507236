"""Every A2T button is bound to the chat it was pressed in and to who may act there.

A modified client can send any callback data on any bot message it can see, and job
ids are sequential. Each test forges a press, checks that the database is unchanged and
that no Telegram method that acts was called (only the callback answer, and lookups),
then shows the legitimate press still working.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.telegram.a2t_views import A2TAction
from bot.telegram.callbacks import A2TCallback
from tests import factories as f
from tests.a2t import audio_bytes, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker

ALICE = f.user(id=7301, first_name="Alice")
BOB = f.user(id=7302, first_name="Bob")
EVE = f.user(id=7303, first_name="Eve")
ADA = f.user(id=7304, first_name="Ada")
GROUP = f.group_chat(id=-1007300, title="Voices")
EVES_GROUP = f.group_chat(id=-1007399, title="Eve's")

# Calls that change nothing anyone sees (lookups, and the answer to the press itself).
PASSIVE = {"getme", "getchat", "getchatmember", "getchatadministrators", "answercallbackquery"}


def acting_calls(api: FakeBotAPI, after: int) -> list[tuple[str, Any]]:
    return [
        (c.method, c.params.get("chat_id"))
        for c in api.calls[after:]
        if c.method.lower() not in PASSIVE
    ]


async def jobs_table(db: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id))
        return [
            {c.key: getattr(row, c.key) for c in TranscriptionJob.__table__.columns} for row in rows
        ]


def press(user: dict[str, Any], message: dict[str, Any], data: A2TCallback) -> dict[str, Any]:
    return f.callback_query_update(user, message, data.pack())


async def status_message(
    feed: Any, api: FakeBotAPI, user: dict[str, Any], chat: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Send a voice note; returns the bot's "queued" reply (as Telegram would show it)."""
    count = len(api.calls)
    await feed(voice_note(api, audio_bytes("jfk.ogg"), user=user, chat=chat, **extra))
    call = await api.wait_for_call("sendMessage", after=count)
    return api.messages[(call.params["chat_id"], call.response["result"]["message_id"])]


async def refused(
    feed: Any,
    api: FakeBotAPI,
    db: async_sessionmaker[AsyncSession],
    update: dict[str, Any],
) -> str:
    """Feed a forged press; assert it changed nothing and acted nowhere. Returns the alert."""
    before, count = await jobs_table(db), len(api.calls)
    await feed(update)
    answer = await api.wait_for_call("answerCallbackQuery", after=count)
    assert acting_calls(api, count) == []
    assert await jobs_table(db) == before
    assert answer.params.get("show_alert") is True
    return str(answer.params["text"])


async def test_cancel_needs_the_requester_or_an_admin_of_the_jobs_own_chat(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    fake_api.set_chat_member(GROUP["id"], ADA, "administrator")
    fake_api.set_chat_member(GROUP["id"], EVE, "member")
    fake_api.set_chat_member(EVES_GROUP["id"], EVE, "creator")
    status = await status_message(feed, fake_api, ALICE, GROUP)
    job = await worker.job()
    eves_status = await status_message(feed, fake_api, EVE, EVES_GROUP)
    cancel = A2TCallback(action=A2TAction.CANCEL, job_id=job.id)

    # Eve owns her group: the forged id on her own job's button does nothing to Alice's.
    text = await refused(feed, fake_api, db, press(EVE, eves_status, cancel))
    assert text == "This button is not for a transcription in this chat."
    # Alice's own job, pressed from another chat, is refused too: the button is the
    # job's, in the job's chat.
    alices = await status_message(feed, fake_api, ALICE, f.private_chat(ALICE))
    await refused(feed, fake_api, db, press(ALICE, alices, cancel))
    # In the job's chat, a member who is neither the requester nor an admin.
    text = await refused(feed, fake_api, db, press(EVE, status, cancel))
    assert text == "Only the sender or a chat admin can cancel this."
    assert (await worker.job(job.id)).status == JobStatus.QUEUED

    # The chat's admin, in the chat: cancelled, and the job's status message says so.
    count = len(fake_api.calls)
    await feed(press(ADA, status, cancel))
    await fake_api.wait_for_call("answerCallbackQuery", after=count)
    assert (await worker.job(job.id)).status == JobStatus.CANCELLED
    edits = fake_api.calls_of("editMessageText")
    assert [(e.params["chat_id"], e.params["message_id"]) for e in edits] == [
        (GROUP["id"], job.status_message_id)
    ]


async def test_file_and_rerun_buttons_act_only_in_the_jobs_chat(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    alices_chat = f.private_chat(ALICE)
    await status_message(feed, fake_api, ALICE, alices_chat)
    await worker.run_all()
    job = await worker.job()
    assert job.status == JobStatus.DONE
    eves_message = await status_message(feed, fake_api, EVE, f.private_chat(EVE))
    await worker.run_all()

    # Eve, in her private chat, names Alice's job: no file, no re-run, nothing sent
    # to Alice's chat (or Eve's).
    for data in (
        A2TCallback(action=A2TAction.TXT, job_id=job.id),
        A2TCallback(action=A2TAction.SRT, job_id=job.id),
        A2TCallback(action=A2TAction.RERUN, job_id=job.id, language="ru"),
    ):
        text = await refused(feed, fake_api, db, press(EVE, eves_message, data))
        assert text == "This button is not for a transcription in this chat."

    # Alice, in her chat: the file comes, and a re-run is a new job charged to her.
    result = fake_api.messages[(ALICE["id"], job.status_message_id)]
    count = len(fake_api.calls)
    await feed(press(ALICE, result, A2TCallback(action=A2TAction.TXT, job_id=job.id)))
    document = await fake_api.wait_for_call("sendDocument", after=count)
    assert document.params["chat_id"] == ALICE["id"]
    assert document.params["reply_parameters"]["message_id"] == job.message_id
    rerun = A2TCallback(action=A2TAction.RERUN, job_id=job.id, language="ru")
    await feed(press(ALICE, result, rerun))
    again = await worker.job()
    assert (again.chat_id, again.user_id, again.speaker_id) == (
        ALICE["id"],
        ALICE["id"],
        ALICE["id"],
    )
    assert (again.language_hint, again.status) == ("ru", JobStatus.QUEUED)


async def test_buttons_obey_the_chats_a2t_mode_off(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    fake_api.set_chat_member(GROUP["id"], ADA, "administrator")
    await status_message(feed, fake_api, ALICE, GROUP)
    await worker.run_all()
    job = await worker.job()
    result = fake_api.messages[(GROUP["id"], job.status_message_id)]
    await feed(f.message_update(f.message("/a2t_mode off", from_user=ADA, chat=GROUP)))

    for data in (
        A2TCallback(action=A2TAction.RERUN, job_id=job.id, language="ru"),
        A2TCallback(action=A2TAction.TXT, job_id=job.id),
    ):
        text = await refused(feed, fake_api, db, press(BOB, result, data))
        assert text == "Transcription is switched off in this chat."

    await feed(f.message_update(f.message("/a2t_mode auto", from_user=ADA, chat=GROUP)))
    count = len(fake_api.calls)
    await feed(press(BOB, result, A2TCallback(action=A2TAction.SRT, job_id=job.id)))
    document = await fake_api.wait_for_call("sendDocument", after=count)
    assert document.params["chat_id"] == GROUP["id"]


async def test_a_cached_answer_has_its_own_job_in_the_chat_it_was_posted_in(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, db: Any
) -> None:
    note = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=f.private_chat(ALICE))
    await feed(note)
    await worker.run_all()
    original = await worker.job()

    # Bob forwards Alice's note into the group: answered from the cache.
    forwarded = f.message(
        from_user=BOB,
        chat=GROUP,
        voice=note["message"]["voice"],
        forward_origin=f.forward_origin_user(ALICE),
    )
    count = len(fake_api.calls)
    await feed(f.message_update(forwarded))
    answer_call = await fake_api.wait_for_call("sendMessage", after=count)
    answer = fake_api.messages[(GROUP["id"], answer_call.response["result"]["message_id"])]
    copy = await worker.job()
    assert (copy.chat_id, copy.source_job_id) == (GROUP["id"], original.id)

    # The answer's buttons are the copy's; the original's id on them is refused.
    text = await refused(
        feed,
        fake_api,
        db,
        press(BOB, answer, A2TCallback(action=A2TAction.TXT, job_id=original.id)),
    )
    assert text == "This button is not for a transcription in this chat."
    count = len(fake_api.calls)
    await feed(press(EVE, answer, A2TCallback(action=A2TAction.TXT, job_id=copy.id)))
    document = await fake_api.wait_for_call("sendDocument", after=count)
    assert document.params["chat_id"] == GROUP["id"]
    assert document.params["reply_parameters"]["message_id"] == forwarded["message_id"]
    assert [c.params["chat_id"] for c in fake_api.calls_of("sendDocument")] == [GROUP["id"]]
    assert len(fake_api.sent_messages(ALICE["id"])) == 1  # her own result, nothing more
