"""The queue is shared fairly: whoever asks is charged (not the note's author), the
daily minutes count the decoded length (audio documents state none), no requester or
chat can fill the queue, and groups outside A2T__ALLOWED_GROUPS are not served."""

from __future__ import annotations

from typing import Any

from bot.db.enums import JobStatus
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker

ALICE = f.user(id=7401, first_name="Alice")
BOB = f.user(id=7402, first_name="Bob")
CAROL = f.user(id=7403, first_name="Carol")
ADA = f.user(id=7404, first_name="Ada")
GROUP = f.group_chat(id=-1007400, title="Voices")
OTHER = f.group_chat(id=-1007401, title="Elsewhere")

QUOTA = "transcription quota"


def last_text(api: FakeBotAPI, chat: dict[str, Any]) -> str:
    return str(api.sent_messages(chat["id"])[-1]["text"])


async def test_transcribe_is_charged_to_the_requester_not_the_author(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.user_daily_minutes = 1
    fake_api.set_chat_member(GROUP["id"], ADA, "administrator")
    await feed(f.message_update(f.message("/a2t_mode command", from_user=ADA, chat=GROUP)))
    # Alice has used 55 of her 60 seconds today.
    await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=f.private_chat(ALICE), duration=55))

    note = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=GROUP, duration=11)
    await feed(note)
    ask = f.message("/transcribe", from_user=BOB, chat=GROUP, reply_to=note["message"])
    await feed(f.message_update(ask))
    job = await worker.job()
    assert (job.user_id, job.speaker_id, job.message_id) == (
        BOB["id"],
        ALICE["id"],
        note["message"]["message_id"],
    )
    assert "Queued" in last_text(fake_api, GROUP)

    # Alice asking for her own note is charged to Alice, who is out of minutes.
    own = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=GROUP, duration=11)
    await feed(own)
    await feed(
        f.message_update(
            f.message("/transcribe", from_user=ALICE, chat=GROUP, reply_to=own["message"])
        )
    )
    assert QUOTA in last_text(fake_api, GROUP)
    assert await worker.count() == 2


async def test_an_audio_document_is_charged_its_decoded_length(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.user_daily_minutes = 1
    alices, bobs = f.private_chat(ALICE), f.private_chat(BOB)
    await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=alices, duration=55))
    # A document states no duration: accepted at submit, measured by the worker.
    await feed(
        voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=alices, kind="document")
    )
    document_job = await worker.job()
    assert document_job.declared_duration_s is None
    await worker.pipeline.run(document_job.id, document_job.generation)

    refused = await worker.job(document_job.id)
    assert (refused.status, refused.error_code, refused.text) == (
        JobStatus.FAILED,
        "over_quota",
        None,
    )
    shown = fake_api.messages[(ALICE["id"], refused.status_message_id)]["text"]
    assert shown == (
        "⚠️ I could not transcribe this. This recording is 0:11 long, more than is left of "
        "today's transcription quota (1 min); it resets at midnight UTC."
    )

    # Bob has minutes: his document is transcribed, and its real length is charged.
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=BOB, chat=bobs, kind="document"))
    bobs_job = await worker.job()
    await worker.pipeline.run(bobs_job.id, bobs_job.generation)
    done = await worker.job(bobs_job.id)
    assert done.status == JobStatus.DONE
    assert JFK_PHRASE in " ".join(normalise(done.text or ""))
    assert 10.5 < (done.audio_duration_s or 0) < 11.5
    await feed(voice_note(fake_api, b"ogg", user=BOB, chat=bobs, duration=50))
    assert QUOTA in last_text(fake_api, bobs)
    # The refused document cost Alice nothing: 5 s are still hers.
    await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=alices, duration=5))
    assert "Queued" in last_text(fake_api, alices)


async def test_open_jobs_are_capped_per_requester_and_per_chat(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.max_open_per_user = 2
    settings.a2t.max_open_per_chat = 3
    for _ in range(3):
        await feed(voice_note(fake_api, b"ogg", user=ALICE, chat=GROUP, duration=2))
    assert last_text(fake_api, GROUP) == (
        "Your earlier voice notes are still waiting; send this one when they are done."
    )
    await feed(voice_note(fake_api, b"ogg", user=BOB, chat=GROUP, duration=2))
    assert "Queued" in last_text(fake_api, GROUP)
    await feed(voice_note(fake_api, b"ogg", user=CAROL, chat=GROUP, duration=2))
    assert last_text(fake_api, GROUP) == (
        "Too many voice notes from this chat are waiting; please send it again later."
    )
    await feed(voice_note(fake_api, b"ogg", user=CAROL, chat=f.private_chat(CAROL), duration=2))
    assert "Queued" in last_text(fake_api, f.private_chat(CAROL))
    assert {(j.chat_id, j.user_id) for j in await worker.open_jobs()} == {
        (GROUP["id"], ALICE["id"]),
        (GROUP["id"], BOB["id"]),
        (CAROL["id"], CAROL["id"]),
    }
    assert len(await worker.open_jobs()) == 4


async def test_groups_outside_the_allow_list_get_no_transcription_and_no_reply(
    feed: Any, fake_api: FakeBotAPI, worker: Worker, settings: Any
) -> None:
    settings.a2t.allowed_groups = [GROUP["id"]]
    fake_api.set_chat_member(OTHER["id"], ADA, "administrator")
    count = len(fake_api.calls)
    note = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=OTHER)
    await feed(note)
    for text in ("/transcribe", "/transcribe@test_bot", "/a2t_mode off", "/a2t_mode@test_bot"):
        message = f.message(text, from_user=ADA, chat=OTHER, reply_to=note["message"])
        await feed(f.message_update(message))
    assert [c.method for c in fake_api.calls[count:] if c.method != "getMe"] == []
    assert await worker.count() == 0

    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=GROUP))
    assert "Queued" in last_text(fake_api, GROUP)
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=BOB, chat=f.private_chat(BOB)))
    assert "Queued" in last_text(fake_api, f.private_chat(BOB))
    assert await worker.count() == 2
