"""Karma's buttons and commands bound to who acts, on which vote, in which chat: a forged
press or command changes nothing in the database and calls no Telegram method that acts."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models import Chat
from bot.settings import Settings
from bot.telegram.callbacks import KarmaAction, KarmaCallback
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma

OTHER = f.group_chat(id=-1_001_777_000_002, title="Other Group")


@pytest.fixture
def settings(make_settings: Any, pg_url: str) -> Settings:
    """One downvoter is enough to sanction here: these tests are about who may undo it."""
    return make_settings(pg_url, karma={"sanction_min_voters": 1})  # type: ignore[no-any-return]


async def _sanctioned(karma: Karma) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Bob's downvote takes Alice to -21 (read-only); the bot's reply with its Cancel."""
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(alice, -19.0)
    await karma.seed_karma(bob, 4.0)
    assert await karma.vote(bob, await karma.say(alice), "-") is not None
    await karma.api.wait_for_calls("restrictChatMember", 1)
    [reply] = copy.deepcopy(karma.api.sent_messages(GROUP["id"]))
    return alice, bob, reply


async def test_a_forged_undo_pressed_in_another_chat_changes_nothing(karma: Karma) -> None:
    alice, bob, _ = await _sanctioned(karma)
    [event] = [e for e in await karma.events() if e.voter_id == bob["id"]]
    # Bob is the voter, but presses data naming his vote on a bot message in another chat
    # (the reply to a vote there), as a modified client can.
    carol = f.user(first_name="Carol")
    carol_says = f.message("hi", from_user=carol, chat=OTHER)
    await karma.feed(f.message_update(carol_says))
    await karma.feed(
        f.message_update(f.message("+", from_user=bob, chat=OTHER, reply_to=carol_says))
    )
    [there] = karma.api.sent_messages(OTHER["id"])
    forged = KarmaCallback(action=KarmaAction.CANCEL, event_id=event.id).pack()
    before = len(karma.api.calls)
    await karma.feed(f.callback_query_update(bob, there, forged))

    answer = await karma.api.wait_for_call("answerCallbackQuery", after=before)
    assert answer.params["text"] == "This button is not valid."
    assert answer.params["show_alert"] is True
    assert karma.api.acting_calls(after=before) == []
    assert await karma.total(alice) == -21.0
    [event] = [e for e in await karma.events() if e.id == event.id]
    assert event.cancelled_at is None
    [row] = await karma.sanctions(alice)
    assert row.lifted_at is None


async def test_undo_lifts_the_sanction_in_the_votes_chat(karma: Karma) -> None:
    alice, bob, reply = await _sanctioned(karma)
    before = len(karma.api.calls)
    await karma.press(bob, reply)
    [lift] = [c for c in karma.api.acting_calls(after=before) if c.method == "restrictChatMember"]
    assert (lift.params["chat_id"], lift.params["user_id"]) == (GROUP["id"], alice["id"])
    assert lift.params["permissions"]["can_send_messages"] is True


async def test_an_admin_not_allowed_to_restrict_cannot_pardon(karma: Karma) -> None:
    alice, _, _ = await _sanctioned(karma)
    helper = f.user(first_name="Helper")
    # An administrator the owner allowed to pin and delete, not to restrict members.
    karma.api.set_chat_member(
        GROUP["id"], helper, "administrator", can_delete_messages=True, can_pin_messages=True
    )
    said = await karma.say(alice)
    before = len(karma.api.calls)
    text = await karma.command(helper, "/karma_pardon", reply_to=said)
    assert text == "Only chat admins allowed to restrict members can lift karma sanctions."
    assert karma.api.acting_calls(after=before) == []
    [row] = await karma.sanctions(alice)
    assert row.lifted_at is None

    karma.api.set_chat_member(GROUP["id"], helper, "administrator", can_restrict_members=True)
    text = await karma.command(helper, "/karma_pardon", reply_to=said)
    assert text.endswith("Alice may write again.")


async def test_an_admin_check_telegram_cannot_answer_refuses(karma: Karma) -> None:
    alice, _, _ = await _sanctioned(karma)
    owner = f.user(first_name="Owner")
    karma.api.set_chat_member(GROUP["id"], owner, "creator")
    karma.api.fail_next("getChatMember", error_code=400, description="Bad Request: user not found")
    before = len(karma.api.calls)
    text = await karma.command(owner, f"/karma_pardon {alice['id']}")
    assert text == "Only chat admins allowed to restrict members can lift karma sanctions."
    assert karma.api.acting_calls(after=before) == []


@pytest.mark.parametrize(
    "argument", ["99999999999999999999", "9223372036854775808", "0", "-5", "²", "١٢٣", "12 34"]
)
async def test_pardon_by_an_impossible_id_is_a_clear_error(karma: Karma, argument: str) -> None:
    owner = f.user(first_name="Owner")
    karma.api.set_chat_member(GROUP["id"], owner, "creator")
    before = len(karma.api.calls)
    text = await karma.command(owner, f"/karma_pardon {argument}")
    assert text == "That is not a user id: a user id is a whole number, as /whoami shows it."
    assert karma.api.acting_calls(after=before) == []
    assert karma.api.rejected_calls() == []


async def test_reaction_votes_are_switched_by_admins_allowed_to_change_the_chat(
    karma: Karma,
) -> None:
    helper = f.user(first_name="Helper")
    karma.api.set_chat_member(GROUP["id"], helper, "administrator", can_delete_messages=True)
    text = await karma.command(helper, "/karma_reactions on")
    assert text == "Only chat admins allowed to change the chat's info can switch reaction votes."
    async with karma.db() as session:
        assert not await session.scalar(select(Chat.karma_reactions).where(Chat.id == GROUP["id"]))
    owner = f.user(first_name="Owner")
    karma.api.set_chat_member(GROUP["id"], owner, "creator")  # the owner holds every right
    assert (await karma.command(owner, "/karma_reactions on")).startswith("Reaction votes are on")


async def test_an_expired_undo_window_is_not_reopened_by_a_forged_press(karma: Karma) -> None:
    alice, bob, reply = await _sanctioned(karma)
    async with karma.db() as session:
        for event in await karma.events():
            merged = await session.merge(event)
            merged.created_at = utcnow() - timedelta(hours=1)
        await session.commit()
    before = len(karma.api.calls)
    answer = await karma.press(bob, reply)
    assert "Too late" in answer.params["text"]
    assert karma.api.acting_calls(after=before) == []
    [row] = await karma.sanctions(alice)
    assert row.lifted_at is None
