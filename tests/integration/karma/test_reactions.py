"""Reaction votes: per chat, off by default, switched by chat admins; 👍/👎 vote like
replies (same weights and rules, refusals silent), removing the reaction cancels exactly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.enums import KarmaSource
from bot.db.models import Chat, KarmaMessageAuthor
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma

ADMIN = f.user(first_name="Ada")


async def react(
    karma: Karma, who: dict[str, Any], msg: dict[str, Any], old: list[str], new: list[str]
) -> None:
    await karma.feed(f.message_reaction_update(GROUP, who, msg["message_id"], old, new))


async def switch(karma: Karma, state: str) -> str:
    karma.api.set_chat_member(GROUP["id"], ADMIN, "administrator", can_change_info=True)
    return await karma.command(ADMIN, f"/karma_reactions {state}")


async def test_an_admin_switches_reaction_votes(karma: Karma) -> None:
    assert (await switch(karma, "on")).startswith("Reaction votes are on")
    async with karma.db() as session:
        assert await session.scalar(select(Chat.karma_reactions).where(Chat.id == GROUP["id"]))
    assert await karma.command(ADMIN, "/karma_reactions") == (
        "Reaction votes are on in this chat.\nUse /karma_reactions on or /karma_reactions off."
    )
    assert (await switch(karma, "off")).startswith("Reaction votes are off")
    async with karma.db() as session:
        on = await session.scalar(select(Chat.karma_reactions).where(Chat.id == GROUP["id"]))
    assert on is False


async def test_only_admins_switch_reaction_votes(karma: Karma) -> None:
    text = await karma.command(f.user(), "/karma_reactions on")
    assert text == "Only chat admins allowed to change the chat's info can switch reaction votes."
    async with karma.db() as session:
        assert not await session.scalar(select(Chat.karma_reactions).where(Chat.id == GROUP["id"]))


async def test_thumbs_up_votes_and_removing_it_cancels_exactly(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(bob, 6.25)  # weight 2.5
    await karma.seed_total(alice, 0.3)
    msg = await karma.say(alice, "a helpful answer")
    sent_before = len(karma.api.calls_of("sendMessage"))

    await react(karma, bob, msg, [], ["👍"])
    assert await karma.total(alice) == 2.8
    [event] = await karma.events()
    assert (event.source, event.voter_id, event.target_id) == (
        KarmaSource.REACTION,
        bob["id"],
        alice["id"],
    )
    assert (event.message_id, event.delta) == (msg["message_id"], 2.5)

    await react(karma, bob, msg, ["👍"], [])
    assert await karma.total(alice) == 0.3 + 2.5 - 2.5
    [event] = await karma.events()
    assert event.cancelled_at is not None
    assert len(karma.api.calls_of("sendMessage")) == sent_before  # silent throughout


async def test_thumbs_down_and_switching_sides(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_karma(bob, 9.0)  # weight 3
    msg = await karma.say(alice)
    await react(karma, bob, msg, [], ["👎"])
    assert await karma.total(alice) == -3.0
    await react(karma, bob, msg, ["👎"], ["👍"])  # the 👎 withdrawn, the 👍 counted
    assert await karma.total(alice) == 3.0
    await react(karma, bob, msg, ["👍"], ["👍", "🔥"])  # other emoji change nothing
    assert await karma.total(alice) == 3.0
    events = [e for e in await karma.events() if e.voter_id == bob["id"]]
    assert [(e.delta, e.cancelled_at is None) for e in events] == [(-3.0, False), (3.0, True)]


async def test_reaction_refusals_are_silent(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    sent_before = len(karma.api.calls_of("sendMessage"))
    msg = await karma.say(alice)
    await react(karma, alice, msg, [], ["👍"])  # herself
    await react(karma, bob, msg, [], ["👎"])  # no karma to downvote with
    await react(karma, bob, msg, [], ["👍"])
    other = await karma.say(alice)
    await react(karma, bob, other, [], ["👍"])  # cooldown for the pair
    assert [e.delta for e in await karma.events()] == [1.0]
    assert await karma.total(alice) == 1.0
    assert len(karma.api.calls_of("sendMessage")) == sent_before


async def test_a_chat_without_reaction_votes_ignores_reactions(karma: Karma) -> None:
    alice, bob = f.user(), f.user()
    msg = await karma.say(alice)
    await react(karma, bob, msg, [], ["👍"])
    assert await karma.events() == []
    async with karma.db() as session:
        assert list(await session.scalars(select(KarmaMessageAuthor))) == []
    await switch(karma, "on")
    await react(karma, bob, msg, [], ["👍"])  # written before: its author is unknown
    assert await karma.events() == []


async def test_switched_off_again_reactions_stop_counting(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(), f.user()
    msg = await karma.say(alice)
    await switch(karma, "off")
    await react(karma, bob, msg, [], ["👍"])
    assert await karma.events() == []


@pytest.mark.parametrize("settings", [{"sanction_min_voters": 1}], indirect=True)
async def test_a_reaction_that_sanctions_says_so_and_removing_it_lifts(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(alice, -19.0)
    await karma.seed_karma(bob, 4.0)  # weight 2
    msg = await karma.say(alice)
    await react(karma, bob, msg, [], ["👎"])
    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert abs(restrict.params["until_date"] - (time.time() + 7 * 86_400)) < 60
    notice = karma.api.calls_of("sendMessage")[-1].params["text"]
    assert notice.startswith("Alice is read-only until")
    await react(karma, bob, msg, ["👎"], [])
    lift = (await karma.api.wait_for_calls("restrictChatMember", 2))[1]
    assert lift.params["permissions"]["can_send_messages"] is True
    assert await karma.total(alice) == -19.0


async def test_voice_notes_authors_are_remembered_too(karma: Karma) -> None:
    await switch(karma, "on")
    alice, bob = f.user(), f.user()
    voice = f.message(None, from_user=alice, chat=GROUP, voice=f.voice())
    await karma.feed(f.message_update(voice))
    await react(karma, bob, voice, [], ["👍"])
    assert await karma.total(alice) == 1.0
