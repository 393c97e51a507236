"""Approval's personal invite link: it creates a join request, and only the approved
applicant's request is accepted. Anyone else who opens it is declined and the moderators
are told (once per person); a link of the older single-use kind that admitted a stranger
is revoked and reported."""

from __future__ import annotations

from typing import Any

from bot.db.enums import MemberStatus
from bot.telegram.callbacks import ModAction
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import COMMUNITY, MOD1, MODCHAT, STRANGER, Flow


async def _approved(flow: Flow, user: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    app = await flow.apply_and_submit(user)
    await flow.decide(MOD1, app, ModAction.APPROVE)
    app = await flow.application(user)
    assert app.invite_link
    link = {k: v for k, v in flow.api.invite_links[app.invite_link].items() if k != "chat_id"}
    assert link["creates_join_request"] is True
    return app, link


async def test_the_link_opened_by_someone_else_is_declined_and_reported(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    fake_api.require_join_request = True  # approving or declining needs a real request
    ann = f.user(id=7501, first_name="Ann")
    app, link = await _approved(flow, ann)
    before = len(fake_api.calls)

    await flow.feed(f.chat_join_request_update(COMMUNITY, STRANGER, invite_link=link))
    decline = await fake_api.wait_for_call("declineChatJoinRequest", after=before)
    assert (decline.params["chat_id"], decline.params["user_id"]) == (
        COMMUNITY["id"],
        STRANGER["id"],
    )
    acted = {c.method for c in fake_api.acting_calls(after=before)}
    assert acted == {"declineChatJoinRequest"}  # no approval, no new link, no revocation
    alert = flow.last_to(MODCHAT["id"])["text"]
    assert "Sam" in alert
    assert f"tried to join with the personal invite link of application #{app.id}" in alert
    assert await flow.membership(STRANGER) is None
    assert STRANGER["id"] not in {u for (c, u) in fake_api.members if c == COMMUNITY["id"]}
    # The question flow is not started for them either.
    assert flow.texts_to(STRANGER["id"]) == []

    # Again: declined again, the moderators are not told twice.
    told = len(flow.texts_to(MODCHAT["id"]))
    await flow.feed(f.chat_join_request_update(COMMUNITY, STRANGER, invite_link=link))
    assert len(fake_api.calls_of("declineChatJoinRequest")) == 2
    assert len(flow.texts_to(MODCHAT["id"])) == told
    assert (await flow.events(app)).count("invite_link_misused") == 2

    # The approved applicant is admitted with the same link, which then ends.
    await flow.feed(f.chat_join_request_update(COMMUNITY, ann, invite_link=link))
    approve = await fake_api.wait_for_call("approveChatJoinRequest")
    assert approve.params["user_id"] == ann["id"]
    revoke = await fake_api.wait_for_call("revokeChatInviteLink")
    assert revoke.params["invite_link"] == app.invite_link
    member = await flow.membership(ann)
    assert member is not None
    assert member.status == MemberStatus.ACTIVE
    assert fake_api.rejected_calls() == []


async def test_a_stranger_who_got_in_through_an_old_single_use_link_is_reported(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    """Links sent before links created join requests admitted whoever opened them first."""
    ann = f.user(id=7502, first_name="Ann")
    app, link = await _approved(flow, ann)
    old_kind = {**link, "creates_join_request": False, "member_limit": 1}
    before = len(fake_api.calls)
    await flow.feed(
        f.chat_member_update(
            COMMUNITY,
            STRANGER,
            f.chat_member(STRANGER, "left"),
            f.chat_member(STRANGER, "member"),
            invite_link=old_kind,
        )
    )
    revoke = await fake_api.wait_for_call("revokeChatInviteLink", after=before)
    assert revoke.params["invite_link"] == app.invite_link
    alert = flow.last_to(MODCHAT["id"])["text"]
    assert f"joined the community with the invite link of application #{app.id}" in alert
    events = await flow.events(app)
    assert "invite_link_misused" in events
    assert "joined" not in events  # the applicant did not join
