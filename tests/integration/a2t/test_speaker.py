"""Whose voice a job carries is kept apart from who asked for it: /forgetme reaches the
transcripts of someone's voice that others forwarded or answered from the cache."""

from __future__ import annotations

import time
from typing import Any

from bot.db.enums import JobStatus
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback
from tests import factories as f
from tests.a2t import audio_bytes, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker

ALICE = f.user(id=7501, first_name="Alice")
BOB = f.user(id=7502, first_name="Bob")
CAROL = f.user(id=7503, first_name="Carol")


async def test_forgetme_clears_transcripts_of_the_speakers_voice_whoever_asked(
    feed: Any, fake_api: FakeBotAPI, worker: Worker
) -> None:
    alices, bobs, carols = (f.private_chat(u) for u in (ALICE, BOB, CAROL))
    own = voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=alices)
    await feed(own)
    # Bob forwards a note of Alice's that the bot has not seen: transcribed for Bob.
    forwarded = voice_note(
        fake_api,
        audio_bytes("jfk.ogg"),
        user=BOB,
        chat=bobs,
        forward_origin=f.forward_origin_user(ALICE),
    )
    await feed(forwarded)
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=BOB, chat=bobs))  # Bob's own
    await worker.run_all()
    # Carol forwards Alice's first note with Alice's name hidden: answered from the
    # cache, and the copy still knows whose voice it is.
    hidden = {"type": "hidden_user", "sender_user_name": "Alice", "date": int(time.time())}
    copy = f.message(
        from_user=CAROL, chat=carols, voice=own["message"]["voice"], forward_origin=hidden
    )
    await feed(f.message_update(copy))

    jobs = {(j.chat_id, j.message_id): j for j in await _all(worker)}
    by_key = {
        "own": jobs[(ALICE["id"], own["message"]["message_id"])],
        "forwarded": jobs[(BOB["id"], forwarded["message"]["message_id"])],
        "copy": jobs[(CAROL["id"], copy["message_id"])],
    }
    assert {k: (j.user_id, j.speaker_id) for k, j in by_key.items()} == {
        "own": (ALICE["id"], ALICE["id"]),
        "forwarded": (BOB["id"], ALICE["id"]),
        "copy": (CAROL["id"], ALICE["id"]),
    }
    assert all(j.status == JobStatus.DONE and j.text for j in jobs.values())

    await feed(f.message_update(f.message("/forgetme", from_user=ALICE, chat=alices)))
    prompt = fake_api.sent_messages(ALICE["id"])[-1]
    confirm = ForgetCallback(action=ForgetAction.CONFIRM, user_id=ALICE["id"]).pack()
    count = len(fake_api.calls)
    await feed(f.callback_query_update(ALICE, prompt, confirm))
    report = (await fake_api.wait_for_call("editMessageText", after=count)).params["text"]
    assert "• 3 transcripts" in report.splitlines(), report

    after = {(j.chat_id, j.message_id): j for j in await _all(worker)}
    cleared = {key for key, j in after.items() if j.text is None and j.file_id == ""}
    assert cleared == {(j.chat_id, j.message_id) for j in by_key.values()}
    bobs_own = [j for j in after.values() if j.speaker_id == BOB["id"]]
    assert len(bobs_own) == 1
    assert bobs_own[0].text  # Bob's voice is Bob's to forget


async def _all(worker: Worker) -> list[Any]:
    return [await worker.job(job_id) for job_id in range(1, await worker.count() + 1)]
