"""/karma, /top and /karma_history in a group."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.db.base import utcnow
from bot.db.models import KarmaEvent
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma


async def test_karma_shows_own_and_replied_members_rank(karma: Karma) -> None:
    alice, bob, carol = f.user(first_name="Alice"), f.user(first_name="Bob"), f.user()
    await karma.seed_total(alice, 12.44)
    await karma.seed_total(bob, 3.0)
    assert await karma.command(bob, "/karma") == "Bob's karma: 3.0 (rank 2 of 2)"
    target = await karma.say(alice)
    assert (
        await karma.command(bob, "/karma", reply_to=target) == "Alice's karma: 12.4 (rank 1 of 2)"
    )
    assert await karma.command(carol, "/karma") == "Test has no karma in this chat yet."


async def test_karma_commands_are_for_groups(karma: Karma) -> None:
    bob = f.user()
    await karma.feed(f.message_update(f.message("/karma", from_user=bob)))
    call = await karma.api.wait_for_call("sendMessage")
    assert "group chats" in call.params["text"]


async def test_top_by_period(karma: Karma) -> None:
    voter = f.user(first_name="Voter")
    old, recent, mid = (f.user(first_name=n) for n in ("Old", "Recent", "Mid"))
    now = utcnow()
    await karma.seed_event(voter, old, 5.0, now - timedelta(days=40))
    await karma.seed_event(voter, recent, 2.0, now - timedelta(days=3))
    await karma.seed_event(voter, mid, 1.5, now - timedelta(days=10))
    await karma.seed_event(voter, mid, -0.5, now - timedelta(days=1))
    await karma.seed_event(voter, mid, 9.0, now - timedelta(days=2))  # cancelled below
    async with karma.db() as session:
        await session.execute(
            update(KarmaEvent).where(KarmaEvent.delta == 9.0).values(cancelled_at=now)
        )
        await session.commit()

    week = await karma.command(voter, "/top week")
    assert week.splitlines()[1:] == ["1. Recent — 2.0", "2. Mid — -0.5"]
    month = await karma.command(voter, "/top month")
    assert month.splitlines()[1:] == ["1. Recent — 2.0", "2. Mid — 1.0"]
    everything = await karma.command(voter, "/top all")
    # Totals, seeded with every event including the cancelled one's +9 (not undone here).
    assert everything.splitlines()[1:4] == ["1. Mid — 10.0", "2. Old — 5.0", "3. Recent — 2.0"]
    assert await karma.command(voter, "/top") == everything
    assert "Use /top" in await karma.command(voter, "/top year")


async def test_top_shows_the_callers_own_position_below_the_top(karma: Karma) -> None:
    members = [f.user(first_name=f"M{n}") for n in range(12)]
    for n, member in enumerate(members):
        await karma.seed_total(member, 100.0 - n)
    last = members[-1]
    lines = (await karma.command(last, "/top all")).splitlines()
    assert len(lines) == 1 + 10 + 2
    assert lines[1] == "1. M0 — 100.0"
    assert lines[10] == "10. M9 — 91.0"
    assert lines[-1] == "You: 12. M11 — 89.0"
    top = (await karma.command(members[0], "/top all")).splitlines()
    assert len(top) == 11


async def test_karma_history_is_for_admins(karma: Karma) -> None:
    alice, bob, admin = f.user(first_name="Alice"), f.user(first_name="Bob"), f.user()
    karma.api.set_chat_member(GROUP["id"], admin, "administrator")
    karma.api.set_chat_member(GROUP["id"], bob, "member")
    target = await karma.say(alice)
    assert await karma.vote(bob, target) is not None
    assert "Only chat admins" in await karma.command(bob, "/karma_history", reply_to=target)

    text = await karma.command(admin, "/karma_history", reply_to=target)
    lines = text.splitlines()
    assert lines[0] == "<b>Karma history of Alice</b> (last 1)"
    link = f"https://t.me/c/1234567890/{target['message_id']}"
    assert f'+1.0 from Bob — <a href="{link}">message</a>' in lines[1]
    assert "Reply to a member" in await karma.command(admin, "/karma_history")


async def test_karma_history_lists_the_last_20(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    voters = [f.user(first_name=f"V{n}") for n in range(25)]
    now = utcnow()
    for n, voter in enumerate(voters):
        await karma.seed_event(voter, alice, 1.0, now - timedelta(minutes=100 - n))
    admin = f.user()
    karma.api.set_chat_member(GROUP["id"], admin, "creator")
    lines = (
        await karma.command(admin, "/karma_history", reply_to=await karma.say(alice))
    ).splitlines()
    assert len(lines) == 21
    assert " from V24 " in lines[1]
    assert " from V5 " in lines[-1]


async def test_karma_history_of_the_longest_names_fits_one_message(karma: Karma) -> None:
    alice = f.user(first_name="😀" * 64, last_name="😀" * 64)
    now = utcnow()
    for n in range(20):
        voter = f.user(first_name="👍" * 64, last_name="👎" * 64)
        await karma.seed_event(voter, alice, -1.0, now - timedelta(minutes=n))
    admin = f.user()
    karma.api.set_chat_member(GROUP["id"], admin, "creator")
    before = len(karma.api.calls)
    await karma.command(admin, "/karma_history", reply_to=await karma.say(alice))
    assert karma.api.rejected_calls(after=before) == []
