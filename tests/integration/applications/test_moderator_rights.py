"""Who moderates: the moderation chat's administrators are cached briefly and, once the
cache is old and Telegram cannot list them, nobody but the configured ids counts (fail
closed). A card's Ban needs a moderator allowed to restrict members."""

from __future__ import annotations

import asyncio

import pytest

from bot.db.enums import ApplicationStatus
from bot.telegram.callbacks import ModAction
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.applications.conftest import MOD1, MODCHAT, Flow

ADA = f.user(id=9101, first_name="Ada")  # an admin of the moderation chat, not configured
TTL = 0.2


@pytest.mark.parametrize("settings", [{"moderation": {"admins_ttl_s": TTL}}], indirect=True)
async def test_admins_fail_closed_when_telegram_cannot_list_them(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    fake_api.set_chat_member(MODCHAT["id"], ADA, "administrator", can_restrict_members=True)
    app = await flow.apply_and_submit(f.user(id=7601, first_name="Ann"))
    card = dict(flow.card(app))
    # Listed: Ada may act (here: open the reasons).
    answer = await flow.decide(ADA, app, ModAction.REJECT)
    assert not answer.params.get("show_alert")

    await asyncio.sleep(TTL * 2)  # the list is old now, and Telegram fails to give one
    fake_api.fail_next(
        "getChatAdministrators", error_code=403, description="Forbidden: no", times=3
    )
    before = len(fake_api.calls)
    answer = await flow.decide(ADA, app, ModAction.APPROVE)
    assert answer.params["text"] == "Only moderators can decide applications."
    assert answer.params["show_alert"] is True
    assert fake_api.acting_calls(after=before) == []
    app = await flow.application_by_id(app.id)
    assert app.status == ApplicationStatus.PENDING
    assert flow.card(app)["text"] == card["text"]

    # A configured moderator still works meanwhile.
    answer = await flow.decide(MOD1, app, ModAction.APPROVE)
    assert not answer.params.get("show_alert")
    assert (await flow.application_by_id(app.id)).status == ApplicationStatus.APPROVED


@pytest.mark.parametrize("settings", [{"moderation": {"admins_ttl_s": TTL}}], indirect=True)
async def test_a_demotion_counts_once_the_cache_is_old(flow: Flow, fake_api: FakeBotAPI) -> None:
    fake_api.set_chat_member(MODCHAT["id"], ADA, "administrator", can_restrict_members=True)
    app = await flow.apply_and_submit(f.user(id=7602, first_name="Ann"))
    assert not (await flow.decide(ADA, app, ModAction.REJECT)).params.get("show_alert")
    fake_api.set_chat_member(MODCHAT["id"], ADA, "member")  # demoted, seen by another replica
    await asyncio.sleep(TTL * 2)
    before = len(fake_api.calls)
    answer = await flow.decide(ADA, app, ModAction.APPROVE)
    assert answer.params["text"] == "Only moderators can decide applications."
    assert fake_api.acting_calls(after=before) == []


async def test_banning_needs_the_right_to_restrict_members(
    flow: Flow, fake_api: FakeBotAPI
) -> None:
    # Ada moderates (decides) but may not restrict members in the moderation chat.
    fake_api.set_chat_member(MODCHAT["id"], ADA, "administrator", can_delete_messages=True)
    app = await flow.apply_and_submit(f.user(id=7603, first_name="Ann"))
    card = dict(flow.card(app))
    for action in (ModAction.BAN, ModAction.BAN_NOW):
        before = len(fake_api.calls)
        answer = await flow.decide(ADA, app, action)
        assert answer.params["text"] == "Only moderators allowed to restrict members can ban."
        assert fake_api.acting_calls(after=before) == []
    app = await flow.application_by_id(app.id)
    assert app.status == ApplicationStatus.PENDING
    assert flow.card(app)["text"] == card["text"]
    # Rejecting needs no such right.
    assert not (await flow.decide(ADA, app, ModAction.REJECT)).params.get("show_alert")


async def test_the_owner_of_the_moderation_chat_may_ban(flow: Flow, fake_api: FakeBotAPI) -> None:
    fake_api.set_chat_member(MODCHAT["id"], ADA, "creator")
    app = await flow.apply_and_submit(f.user(id=7604, first_name="Ann"))
    await flow.decide(ADA, app, ModAction.BAN)
    await flow.press_text(ADA, flow.card(app), "Yes, ban")
    assert (await flow.application_by_id(app.id)).status == ApplicationStatus.BANNED
    await fake_api.wait_for_call("banChatMember")
