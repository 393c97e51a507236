"""A join request to the community chat: the bot DMs the questionnaire, a voice answer
is transcribed by the real pipeline (embedded in-process queue, Whisper tiny.en) onto
the moderators' card, and approval approves the join request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import ApplicationSource, ApplicationStatus, MemberStatus
from bot.jobs import InProcessJobQueue
from bot.services import AppDeps
from bot.services.transcription import A2TStatus
from bot.settings import A2TSettings, Settings
from bot.telegram.applications.card import transcript_ready
from bot.telegram.botapi import BotAPI
from bot.telegram.callbacks import ModAction
from tests import factories as f
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import ApiCall, FakeBotAPI
from tests.integration.applications.conftest import COMMUNITY, MOD1, MODCHAT, Flow
from worker.engines import Engine, load_engine
from worker.pipeline import Pipeline


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    return load_engine(A2TSettings(device="cpu"))


@pytest.fixture
async def deps(
    settings: Settings, db: async_sessionmaker[AsyncSession], botapi: BotAPI, tiny_engine: Engine
) -> AsyncIterator[AppDeps]:
    """The embedded default: the bot runs the real pipeline itself."""

    async def provider() -> Engine:
        return tiny_engine

    pipeline = Pipeline(
        settings=settings,
        session_factory=db,
        bot=botapi,
        engine=provider,
        executor=ThreadPoolExecutor(max_workers=1),
        on_done=[partial(transcript_ready, botapi, db, settings)],
    )
    queue = InProcessJobQueue(pipeline.run, max_jobs=1, max_tries=2)
    yield AppDeps(settings, job_queue=queue, a2t_status=A2TStatus(True))
    await queue.close()


async def _card_text_with(flow: Flow, app_id: int, words: str, timeout: float = 120) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    text = ""
    while loop.time() < deadline:
        app = await flow.application_by_id(app_id)
        if app.card_message_id is not None:
            text = flow.card(app)["text"]
            if words in " ".join(normalise(text)):
                return text
        await asyncio.sleep(0.25)
    raise AssertionError(f"the card never showed {words!r}: {text!r}")


async def test_join_request_voice_answer_approval(flow: Flow, fake_api: FakeBotAPI) -> None:
    fake_api.require_join_request = True  # approving needs the request Telegram saw
    kim = f.user(id=7401, first_name="Kim")
    await flow.feed(f.chat_join_request_update(COMMUNITY, kim))
    dm = flow.texts_to(kim["id"])
    assert "You asked to join Community" in dm[0]
    assert "Question 1 of 3" in dm[1]

    # The worker cannot fetch the voice note until the card is posted: the transcript
    # must reach the card by the worker's hook, not at posting time.
    release = asyncio.Event()

    async def held_get_file(call: ApiCall) -> dict[str, Any]:
        await release.wait()
        return fake_api.files[call.params["file_id"]].as_json()

    fake_api.set_handler("getFile", held_get_file)
    await flow.feed(
        voice_note(fake_api, audio_bytes("jfk.ogg"), user=kim, chat=f.private_chat(kim))
    )
    assert any("Got your voice answer" in t for t in flow.texts_to(kim["id"]))
    assert "Question 2 of 3" in flow.last_to(kim["id"])["text"]
    await flow.say(kim, "Because of the talks")
    await flow.say(kim, "A colleague")
    await flow.press_text(kim, flow.last_to(kim["id"]), "Send")

    app = await flow.application(kim)
    assert (app.status, app.source) == (ApplicationStatus.PENDING, ApplicationSource.JOIN_REQUEST)
    assert "transcribing" in flow.card(app)["text"]
    release.set()
    card = await _card_text_with(flow, app.id, JFK_PHRASE)
    assert "Because of the talks" in card
    assert "join request" in card

    await flow.decide(MOD1, app, ModAction.APPROVE)
    approve = await fake_api.wait_for_call("approveChatJoinRequest")
    assert (approve.params["chat_id"], approve.params["user_id"]) == (COMMUNITY["id"], kim["id"])
    assert fake_api.members[(COMMUNITY["id"], kim["id"])]["status"] == "member"
    assert fake_api.calls_of("createChatInviteLink") == []
    member = await flow.membership(kim)
    assert member is not None
    assert member.status == MemberStatus.ACTIVE
    app = await flow.application(kim)
    assert "Approved by Mona" in flow.card(app)["text"]
    assert "Welcome" in flow.last_to(kim["id"])["text"]
    events = await flow.events(app)
    assert events[:2] == ["started", "dm_sent"]
    assert events.count("answered") == 3
    assert events[-4:] == ["approve", "join_request_approved", "joined", "notified"]


async def test_unreachable_applicant_is_recorded_and_can_start_by_deep_link(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    lou = f.user(id=7402, first_name="Lou")
    fake_api.block_chat(lou["id"])
    await flow.feed(f.chat_join_request_update(COMMUNITY, lou))
    app = await flow.application(lou)
    assert "dm_failed" in await flow.events(app)
    note = flow.last_to(MODCHAT["id"])["text"]
    assert "could not write to Lou" in note
    assert "t.me/test_bot?start=apply" in note

    fake_api.unblock_chat(lou["id"])
    calls = await flow.say(lou, "/start apply")
    assert "Question 1 of 3" in calls[-1].params["text"]
    assert (await flow.application(lou)).id == app.id  # the same application continues


async def test_reapply_rules_decline_a_join_request_with_the_reason(
    flow: Flow, fake_api: FakeBotAPI, feed: Any
) -> None:
    max_ = f.user(id=7403, first_name="Max")
    app = await flow.apply_and_submit(max_)
    await flow.decide(MOD1, app, ModAction.BAN)
    await flow.press_text(MOD1, flow.card(app), "Yes, ban")
    await feed(f.chat_join_request_update(COMMUNITY, max_))
    decline = await fake_api.wait_for_call("declineChatJoinRequest")
    assert decline.params["user_id"] == max_["id"]
    assert "cannot apply" in flow.last_to(max_["id"])["text"]


async def test_apply_then_join_request_continues_the_same_application(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    sol = f.user(id=7404, first_name="Sol")
    await flow.say(sol, "/apply")
    await flow.say(sol, "Sol, a painter")
    await flow.feed(f.chat_join_request_update(COMMUNITY, sol))
    assert "Question 2 of 3" in flow.last_to(sol["id"])["text"]
    app = await flow.application(sol)
    assert app.source == ApplicationSource.JOIN_REQUEST  # approval approves the request
    assert "join_request" in await flow.events(app)
