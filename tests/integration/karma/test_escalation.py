"""Karma at or below KARMA__RESTRICT_BELOW: the member is made read-only; undoing the
vote that did it lifts the restriction."""

from __future__ import annotations

import copy
import time

from sqlalchemy import select

from bot.db.models import KarmaRestriction
from tests import factories as f
from tests.fakes import BotAPIError
from tests.integration.karma.conftest import GROUP, Karma

DAY = 86_400


async def test_falling_below_the_limit_restricts_and_undo_lifts(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(alice, -19.0)
    await karma.seed_total(bob, 4.0)  # weight 2: -19 -> -21
    reply = await karma.vote(bob, await karma.say(alice), "-")
    assert reply is not None
    assert reply.params["text"].startswith("Alice's karma: -21.0 (-2.0)\nAlice is read-only until")

    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert restrict.params["chat_id"] == GROUP["id"]
    assert restrict.params["user_id"] == alice["id"]
    assert restrict.params["permissions"]["can_send_messages"] is False
    assert abs(restrict.params["until_date"] - (time.time() + 7 * DAY)) < 60
    assert karma.api.members[(GROUP["id"], alice["id"])]["status"] == "restricted"
    async with karma.db() as session:
        [row] = await session.scalars(select(KarmaRestriction))
    assert (row.user_id, row.lifted_at) == (alice["id"], None)

    [sent] = copy.deepcopy(karma.api.sent_messages(GROUP["id"]))
    await karma.press(bob, sent)
    lift = (await karma.api.wait_for_calls("restrictChatMember", 2))[1]
    assert lift.params["user_id"] == alice["id"]
    assert all(lift.params["permissions"].values())
    assert "Alice may write again." in karma.api.calls_of("editMessageText")[-1].params["text"]
    assert await karma.total(alice) == -19.0
    async with karma.db() as session:
        [row] = await session.scalars(select(KarmaRestriction))
    assert row.lifted_at is not None


async def test_no_restriction_above_the_limit_or_when_already_below(karma: Karma) -> None:
    alice, carol, bob = f.user(), f.user(), f.user()
    await karma.seed_total(alice, -17.0)  # -17 -> -19: above the limit
    await karma.seed_total(carol, -25.0)  # already below: restricted before, not again
    await karma.seed_total(bob, 4.0)
    assert await karma.vote(bob, await karma.say(alice), "-") is not None
    assert await karma.vote(bob, await karma.say(carol), "-") is not None
    assert karma.api.calls_of("restrictChatMember") == []


async def test_a_refused_restriction_keeps_the_vote(karma: Karma) -> None:
    def refuse(_: object) -> None:
        raise BotAPIError(400, "Bad Request: not enough rights to restrict/unrestrict chat member")

    karma.api.set_handler("restrictChatMember", refuse)
    alice, bob = f.user(first_name="Alice"), f.user()
    await karma.seed_total(alice, -19.0)
    await karma.seed_total(bob, 4.0)
    reply = await karma.vote(bob, await karma.say(alice), "-")
    assert reply is not None
    assert await karma.total(alice) == -21.0
    assert len(karma.api.calls_of("restrictChatMember")) == 1
