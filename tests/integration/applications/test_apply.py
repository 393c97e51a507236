"""/apply through the dispatcher: questionnaire, confirm/edit, moderators' decisions,
invite links, the guards on the card's buttons, re-apply rules, both languages."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.enums import ApplicationStatus, MemberStatus
from bot.db.models import Application, ApplicationAnswer
from bot.services.applications import DEFAULT_QUESTIONS
from bot.telegram.callbacks import ApplyAction, ApplyCallback, ModAction, ModCallback
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import COMMUNITY, MOD1, MOD2, MODCHAT, STRANGER, Flow


async def test_apply_edit_submit_approve_with_invite_link_revoked_after_join(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    ann = f.user(id=7301, first_name="Ann")
    calls = await flow.say(ann, "/apply")
    assert "Question 1 of 3" in calls[-1].params["text"]
    await flow.say(ann, "   ")  # empty: refused, same question again
    assert "empty" in flow.last_to(ann["id"])["text"]
    await flow.say(ann, "x" * 1001)
    assert "under 1000" in flow.last_to(ann["id"])["text"]
    await flow.answer_all(ann, ["I am Ann", "To learn", "A friend"])
    summary = flow.last_to(ann["id"])
    assert "I am Ann" in summary["text"]
    assert "A friend" in summary["text"]

    # Edit: redo the second answer, then back at the summary.
    await flow.press_text(ann, summary, "Change an answer")
    edited = fake_api.messages[(ann["id"], summary["message_id"])]
    await flow.press_text(ann, edited, "2.")
    assert "Question 2 of 3" in flow.last_to(ann["id"])["text"]
    await flow.say(ann, "To meet people")
    summary = flow.last_to(ann["id"])
    assert "To meet people" in summary["text"]
    assert "To learn" not in summary["text"]
    await flow.press_text(ann, summary, "Send")

    app = await flow.application(ann)
    assert app.status == ApplicationStatus.PENDING
    card = flow.card(app)
    assert card["chat"]["id"] == MODCHAT["id"]
    assert "To meet people" in card["text"]
    assert "Ann" in card["text"]

    answer = await flow.decide(MOD1, app, ModAction.APPROVE)
    assert not answer.params.get("show_alert")
    link_call = fake_api.calls_of("createChatInviteLink")[-1]
    assert link_call.params["chat_id"] == COMMUNITY["id"]
    assert link_call.params["creates_join_request"] is True  # personal: see test_invite_links
    assert "member_limit" not in link_call.params
    assert link_call.params["expire_date"]
    app = await flow.application(ann)
    assert app.status == ApplicationStatus.APPROVED
    assert app.decided_by == MOD1["id"]
    told = fake_api.calls_of("sendMessage")[-1]
    assert told.params["chat_id"] == ann["id"]
    assert app.invite_link
    assert app.invite_link in told.params["text"]
    card = flow.card(app)
    assert "Approved by Mona" in card["text"]
    assert "reply_markup" not in card

    # Ann opens the link: her join request is approved, the link revoked, the roster has her.
    link = {k: v for k, v in fake_api.invite_links[app.invite_link].items() if k != "chat_id"}
    await flow.feed(f.chat_join_request_update(COMMUNITY, ann, invite_link=link))
    approve = await fake_api.wait_for_call("approveChatJoinRequest")
    assert approve.params["user_id"] == ann["id"]
    revoke = await fake_api.wait_for_call("revokeChatInviteLink")
    assert revoke.params["invite_link"] == app.invite_link
    member = await flow.membership(ann)
    assert member is not None
    assert member.status == MemberStatus.ACTIVE
    # Telegram's chat_member update of her joining changes nothing more.
    await flow.feed(
        f.chat_member_update(
            COMMUNITY,
            ann,
            f.chat_member(ann, "left"),
            f.chat_member(ann, "member"),
            invite_link=link,
            via_join_request=True,
        )
    )
    assert await flow.events(app) == [
        "started",
        "answered",
        "answered",
        "answered",
        "answered",
        "submitted",
        "card_posted",
        "approve",
        "invite_link_created",
        "notified",
        "join_request_approved",
        "joined",
        "invite_link_revoked",
    ]


async def test_non_moderator_press_changes_nothing(flow: Flow, fake_api: FakeBotAPI) -> None:
    bob = f.user(id=7302, first_name="Bob")
    app = await flow.apply_and_submit(bob)
    card_before = dict(flow.card(app))
    for action in (ModAction.APPROVE, ModAction.BAN_NOW, ModAction.REJECT_NOW):
        answer = await flow.decide(STRANGER, app, action)
        assert answer.params["show_alert"] is True
        assert "Only moderators" in answer.params["text"]
    assert (await flow.application(bob)).status == ApplicationStatus.PENDING
    assert fake_api.calls_of("createChatInviteLink") == []
    assert fake_api.calls_of("banChatMember") == []
    assert flow.card(app)["text"] == card_before["text"]
    assert "approve" not in await flow.events(app)


async def test_forged_and_misplaced_callback_data_is_rejected(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    cid = f.user(id=7303, first_name="Cid")
    app = await flow.apply_and_submit(cid)
    card = flow.card(app)
    # Unparsable data with our prefix.
    answer = await flow.press(MOD1, card, "am:zz:notanumber")
    assert answer.params["show_alert"] is True
    assert "not valid" in answer.params["text"]
    # Well-formed, but for an application that does not exist.
    answer = await flow.press(MOD1, card, ModCallback(action=ModAction.APPROVE, app_id=999).pack())
    assert "not valid" in answer.params["text"]
    # Well-formed, for this application, but pressed on another message.
    other = f.message("not a card", from_user=fake_api.bot_user, chat=MODCHAT)
    fake_api.observe(f.message_update(other))
    data = ModCallback(action=ModAction.APPROVE, app_id=app.id).pack()
    answer = await flow.press(MOD1, other, data)
    assert "not valid" in answer.params["text"]
    # The applicant's summary buttons are the applicant's: another user's press is refused.
    dee = f.user(id=7315, first_name="Dee")
    await flow.say(dee, "/apply")
    await flow.answer_all(dee)
    summary = flow.last_to(dee["id"])
    draft = await flow.application(dee)
    for action in (ApplyAction.SUBMIT, ApplyAction.CANCEL, ApplyAction.REDO):
        data = ApplyCallback(action=action, app_id=draft.id).pack()
        answer = await flow.press(STRANGER, summary, data)
        assert "not your application" in answer.params["text"]
    assert (await flow.application(dee)).status == ApplicationStatus.DRAFT
    answer = await flow.press(dee, summary, "ap:s:1:2:3:4")
    assert "not valid" in answer.params["text"]
    assert (await flow.application(cid)).status == ApplicationStatus.PENDING
    assert fake_api.calls_of("createChatInviteLink") == []


async def test_concurrent_approvals_make_one_decision(flow: Flow, fake_api: FakeBotAPI) -> None:
    dan = f.user(id=7304, first_name="Dan")
    app = await flow.apply_and_submit(dan)
    card = flow.card(app)
    data = ModCallback(action=ModAction.APPROVE, app_id=app.id).pack()
    before = len(fake_api.calls)
    await asyncio.gather(
        flow.feed(f.callback_query_update(MOD1, card, data)),
        flow.feed(f.callback_query_update(MOD2, card, data)),
    )
    answers = [c for c in fake_api.calls[before:] if c.method == "answerCallbackQuery"]
    assert len(answers) == 2
    assert sum("Too late" in str(a.params.get("text")) for a in answers) == 1
    assert len(fake_api.calls_of("createChatInviteLink")) == 1
    assert (await flow.events(app)).count("approve") == 1
    app = await flow.application(dan)
    assert app.status == ApplicationStatus.APPROVED
    assert app.decided_by in (MOD1["id"], MOD2["id"])


async def test_reject_with_a_shared_canned_reason_and_with_a_typed_private_one(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    eve = f.user(id=7305, first_name="Eve")
    app = await flow.apply_and_submit(eve)
    await flow.decide(MOD1, app, ModAction.REJECT)
    await flow.press_text(MOD1, flow.card(app), "Not enough information")
    await flow.press_text(MOD1, flow.card(app), "tell the reason")
    app = await flow.application(eve)
    assert app.status == ApplicationStatus.REJECTED
    assert app.reason_shared
    assert app.reason == "Not enough information in the answers"
    told = flow.last_to(eve["id"])["text"]
    assert "declined" in told
    assert "Not enough information in the answers" in told
    card = flow.card(app)
    assert "Rejected by Mona" in card["text"]
    assert "told the applicant" in card["text"]

    # A typed reason, kept private.
    fay = f.user(id=7306, first_name="Fay")
    app = await flow.apply_and_submit(fay)
    await flow.decide(MOD2, app, ModAction.REJECT)
    await flow.press_text(MOD2, flow.card(app), "Other reason")
    prompt = flow.last_to(MODCHAT["id"])
    asked = fake_api.calls_of("sendMessage")[-1]
    assert asked.params["reply_markup"]["force_reply"] is True
    assert "reply with the reason" in prompt["text"]
    reply = f.message("Trolled us before", from_user=MOD2, chat=MODCHAT, reply_to=prompt)
    await flow.feed(f.message_update(reply))
    await flow.press_text(MOD2, flow.card(app), "keep the reason private")
    app = await flow.application(fay)
    assert (app.status, app.reason, app.reason_shared) == (
        ApplicationStatus.REJECTED,
        "Trolled us before",
        False,
    )
    told = flow.last_to(fay["id"])["text"]
    assert "declined" in told
    assert "Trolled" not in told
    assert "not told" in flow.card(app)["text"]


async def test_ban_needs_a_confirmation_and_bans(flow: Flow, fake_api: FakeBotAPI) -> None:
    gus = f.user(id=7307, first_name="Gus")
    app = await flow.apply_and_submit(gus)
    await flow.decide(MOD1, app, ModAction.BAN)
    assert (await flow.application(gus)).status == ApplicationStatus.PENDING
    await flow.press_text(MOD1, flow.card(app), "Yes, ban")
    ban = await fake_api.wait_for_call("banChatMember")
    assert (ban.params["chat_id"], ban.params["user_id"]) == (COMMUNITY["id"], gus["id"])
    assert (await flow.application(gus)).status == ApplicationStatus.BANNED
    # Banned: no new application.
    calls = await flow.say(gus, "/apply")
    assert "cannot apply" in calls[-1].params["text"]


@pytest.mark.parametrize(
    "settings",
    [{"applications": {"reapply_cooldown_h": 24, "max_per_period": 2, "period_days": 30}}],
    indirect=True,
)
async def test_reapply_cooldown_and_limit(flow: Flow, fake_api: FakeBotAPI) -> None:
    hal = f.user(id=7308, first_name="Hal")
    app = await flow.apply_and_submit(hal)
    await flow.decide(MOD1, app, ModAction.REJECT)
    await flow.press_text(MOD1, flow.card(app), "Reject without a reason")
    calls = await flow.say(hal, "/apply")
    assert "apply again in 24 h" in calls[-1].params["text"]

    await _age_decisions(flow, timedelta(hours=25))  # the cooldown has passed
    await flow.apply_and_submit(hal)  # the second one in 30 days: allowed
    second = await flow.application(hal)
    await flow.decide(MOD1, second, ModAction.REJECT)
    await flow.press_text(MOD1, flow.card(second), "Reject without a reason")
    await _age_decisions(flow, timedelta(hours=25))
    calls = await flow.say(hal, "/apply")
    assert "applied 2 times in 30 days" in calls[-1].params["text"]
    assert (await flow.application(hal)).id == second.id  # nothing new


async def _age_decisions(flow: Flow, by: timedelta) -> None:
    async with flow.db() as session:
        for app in await session.scalars(select(Application)):
            if app.decided_at is not None:
                app.decided_at -= by
        await session.commit()


async def test_cancel_withdraws_and_resume_continues(flow: Flow, fake_api: FakeBotAPI) -> None:
    ivy = f.user(id=7309, first_name="Ivy")
    await flow.say(ivy, "/apply")
    await flow.say(ivy, "first answer")
    calls = await flow.say(ivy, "/apply")  # resumes at question 2
    assert "Question 2 of 3" in calls[-1].params["text"]
    await flow.say(ivy, "/cancel")
    assert "cancelled" in flow.last_to(ivy["id"])["text"]
    app = await flow.application(ivy)
    assert app.status == ApplicationStatus.WITHDRAWN
    await flow.say(ivy, "a stray message")  # no questionnaire any more: not an answer
    async with flow.db() as session:
        answers = await session.get(ApplicationAnswer, (app.id, 1))
    assert answers is None


async def test_questionnaire_in_russian(flow: Flow, fake_api: FakeBotAPI) -> None:
    ru = f.user(id=7310, first_name="Иван", language_code="ru")
    calls = await flow.say(ru, "/apply")
    text = calls[-1].params["text"]
    assert "Вопрос 1 из 3" in text
    assert DEFAULT_QUESTIONS[0] not in text  # the question itself is translated
    await flow.answer_all(ru)
    summary = flow.last_to(ru["id"])
    assert "Ваши ответы" in summary["text"]
    labels = [b["text"] for row in summary["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Отправить" in label for label in labels)
    await flow.press_text(ru, summary, "Отправить")
    assert "модератор" in flow.last_to(ru["id"])["text"]
    # The card is in the moderation chat's language (English by default).
    app = await flow.application(ru)
    assert "Application #" in flow.card(app)["text"]


@pytest.mark.parametrize("settings", [{"moderation": {"chat_id": None}}], indirect=True)
async def test_without_a_moderation_chat_applications_say_so(flow: Flow, feed: Any) -> None:
    jo = f.user(id=7311, first_name="Jo")
    calls = await flow.say(jo, "/apply")
    assert "not open yet" in calls[-1].params["text"]
    # A join request is left to the chat's admins: neither approved nor declined.
    before = len(flow.api.calls)
    await feed(f.chat_join_request_update(COMMUNITY, jo))
    methods = {c.method for c in flow.api.calls[before:]}
    assert not methods & {"approveChatJoinRequest", "declineChatJoinRequest", "sendMessage"}


async def test_cancel_after_submitting_withdraws_and_the_card_says_so(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    kai = f.user(id=7312, first_name="Kai")
    app = await flow.apply_and_submit(kai)
    await flow.say(kai, "/cancel")
    app = await flow.application(kai)
    assert app.status == ApplicationStatus.WITHDRAWN
    card = flow.card(app)
    assert "Withdrawn by the applicant" in card["text"]
    assert "reply_markup" not in card
    answer = await flow.decide(MOD1, app, ModAction.APPROVE)  # a stale card's button
    assert "Too late" in answer.params["text"]
    assert fake_api.calls_of("createChatInviteLink") == []


async def test_members_need_not_apply(flow: Flow, fake_api: FakeBotAPI) -> None:
    lea = f.user(id=7313, first_name="Lea")
    fake_api.set_chat_member(COMMUNITY["id"], lea, "member")
    calls = await flow.say(lea, "/apply")
    assert "already a member" in calls[-1].params["text"]


async def test_approval_without_invite_rights_tells_the_moderators(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    max_ = f.user(id=7314, first_name="Mia")
    app = await flow.apply_and_submit(max_)
    fake_api.fail_next(
        "createChatInviteLink", error_code=400, description="Bad Request: not enough rights"
    )
    await flow.decide(MOD1, app, ModAction.APPROVE)
    assert "could not create an invite link" in flow.last_to(MODCHAT["id"])["text"]
    app = await flow.application(max_)
    assert app.status == ApplicationStatus.APPROVED
    assert "Approved by Mona" in flow.card(app)["text"]
    assert "invite_link_failed" in await flow.events(app)
