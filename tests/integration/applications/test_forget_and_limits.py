"""What an application leaves behind and what its messages may hold: /forgetme commits
before it says "Done" and redacts the moderators' cards; a typed reason stays out of the
audit rows; a card with the longest answers and reason, and the digest, fit a message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models import Application, ApplicationEvent, User
from bot.telegram.applications.sweep import sweep_applications
from bot.telegram.callbacks import ModAction
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback
from tests import factories as f
from tests.fakes import ApiCall, FakeBotAPI, render_text
from tests.integration.applications.conftest import MOD2, MODCHAT, Flow

TYPED = "Trolled us before under the name Fay Smith, see her posts in March"


async def _rejected_with_a_typed_reason(flow: Flow, user: dict[str, Any], reason: str) -> Any:
    app = await flow.apply_and_submit(user)
    await flow.decide(MOD2, app, ModAction.REJECT)
    await flow.press_text(MOD2, flow.card(app), "Other reason")
    prompt = flow.last_to(MODCHAT["id"])
    await flow.feed(
        f.message_update(f.message(reason, from_user=MOD2, chat=MODCHAT, reply_to=prompt))
    )
    await flow.press_text(MOD2, flow.card(app), "keep the reason private")
    return await flow.application(user)


async def test_a_typed_reason_is_not_copied_into_the_audit_rows(flow: Flow) -> None:
    fay = f.user(id=7701, first_name="Fay")
    app = await _rejected_with_a_typed_reason(flow, fay, TYPED)
    assert app.reason == TYPED
    async with flow.db() as session:
        details = await session.scalar(
            select(ApplicationEvent.details).where(
                ApplicationEvent.application_id == app.id, ApplicationEvent.action == "reject"
            )
        )
    assert details == {"reason": None, "typed_reason": True, "shared": False}


async def test_forgetme_commits_then_says_done_and_redacts_the_card(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    fay = f.user(id=7702, first_name="Fay", last_name="Smith", username="faysmith")
    app = await _rejected_with_a_typed_reason(flow, fay, TYPED)
    card_before = flow.card(app)["text"]
    assert "Fay Smith" in card_before
    assert "answer 1" in card_before

    # When "Done" reaches Telegram, the data is gone in the database already.
    seen_at_done: list[tuple[str, str | None]] = []
    edit = fake_api.default_handler("editMessageText")

    async def observing(call: ApiCall) -> Any:
        if str(call.params.get("text", "")).startswith("Done"):
            async with flow.db() as session:
                user = await session.get(User, fay["id"])
                assert user is not None
                seen_at_done.append((user.first_name, user.username))
        return edit(call)

    fake_api.set_handler("editMessageText", observing)
    await flow.feed(f.message_update(f.message("/forgetme", from_user=fay)))
    prompt = flow.last_to(fay["id"])
    confirm = ForgetCallback(action=ForgetAction.CONFIRM, user_id=fay["id"]).pack()
    await flow.press(fay, prompt, confirm)
    assert seen_at_done == [("—", None)]
    report = fake_api.messages[(fay["id"], prompt["message_id"])]["text"]
    assert "your name and answers on 1 application card of the moderators" in report

    card = flow.card(app)["text"]
    for gone in ("Fay", "Smith", "faysmith", "answer 1", "Trolled"):
        assert gone not in card, (gone, card)
    assert "deleted at their request" in card
    assert "Rejected by Max" in card  # the decision is kept
    async with flow.db() as session:
        row = await session.get(Application, app.id)
        assert row is not None
        assert (row.status, row.reason) == (app.status, None)  # typed reason erased
    assert fake_api.rejected_calls() == []


@pytest.mark.parametrize("settings", [{"applications": {"max_answer_len": 3500}}], indirect=True)
async def test_a_decided_card_with_the_longest_answers_and_reason_fits(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    gus = f.user(id=7703, first_name="G" * 64, last_name="😀" * 64)
    await flow.say(gus, "/apply")
    await flow.answer_all(gus, ["😀" * 3500, "&<>" * 1166, "a" * 3500])
    await flow.press_text(gus, flow.last_to(gus["id"]), "Send")
    app = await flow.application(gus)
    before = len(fake_api.calls)
    await _reject_typed(flow, app, "r" * 500)
    edits = [c for c in fake_api.calls[before:] if c.method == "editMessageText"]
    assert edits
    assert fake_api.rejected_calls() == []
    card = flow.card(await flow.application(gus))["text"]
    assert "Rejected by Max" in card
    assert "r" * 500 in card
    assert "…" in card  # the answers were cut to fit
    assert len(card.encode("utf-16-le")) // 2 <= 4096


async def _reject_typed(flow: Flow, app: Any, reason: str) -> None:
    await flow.decide(MOD2, app, ModAction.REJECT)
    await flow.press_text(MOD2, flow.card(app), "Other reason")
    prompt = flow.last_to(MODCHAT["id"])
    await flow.feed(
        f.message_update(f.message(reason, from_user=MOD2, chat=MODCHAT, reply_to=prompt))
    )
    await flow.press_text(MOD2, flow.card(app), "keep the reason private")


async def test_the_digest_fits_one_message_however_many_wait(
    flow: Flow, fake_api: FakeBotAPI, bot: Any, settings: Any, dispatcher: Any
) -> None:
    for n in range(3):
        await flow.apply_and_submit(f.user(id=7710 + n, first_name="N" * 64))
    async with flow.db() as session:
        template = await session.scalar(select(Application).limit(1))
        assert template is not None
        users = [User(id=8000 + n, first_name="Q" * 256) for n in range(300)]
        session.add_all(users)
        await session.flush()
        session.add_all(
            Application(
                user_id=u.id,
                chat_id=template.chat_id,
                source=template.source,
                status=template.status,
                submitted_at=utcnow() - timedelta(hours=30),
                expires_at=utcnow() + timedelta(hours=30),
                card_chat_id=template.card_chat_id,
                card_message_id=template.card_message_id,
            )
            for u in users
        )
        await session.commit()
    i18n = dispatcher["i18n"]
    report = await sweep_applications(
        bot, flow.db, settings, i18n, now=utcnow() + timedelta(hours=1)
    )
    assert report.digest == 300
    digest = fake_api.calls_of("sendMessage")[-1]
    assert digest.params["chat_id"] == MODCHAT["id"]
    assert digest.response is not None
    assert digest.response["ok"], digest.response
    text = render_text(digest.params["text"], "HTML")
    assert "more" in text.splitlines()[-1]
    assert len(text) <= 4096
