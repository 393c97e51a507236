"""The karma abuse rules (bot/domain/karma_rules.py) through the real dispatcher: no
sanction without several distinct downvoters, a daily cap per voter and target, weight 0
for downvoters without karma history, and ring damping that sees chains, not only pairs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.db.base import utcnow
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma


async def seasoned(karma: Karma, name: str, total: float = 4.0) -> dict[str, Any]:
    """A member with karma `total` earned days ago: their downvotes count."""
    member = f.user(first_name=name)
    await karma.seed_karma(member, total)
    return member


def text_of(reply: Any) -> str:
    assert reply is not None
    return str(reply.params["text"])


@pytest.mark.parametrize(
    "settings", [{"cooldown_s": 0, "downvote_daily_cap": 100.0}], indirect=True
)
async def test_one_heavy_member_cannot_sanction_alone(karma: Karma) -> None:
    heavy = await seasoned(karma, "Heavy", 25.0)  # weight 5
    alice = f.user(first_name="Alice")
    for _ in range(5):
        await karma.vote(heavy, await karma.say(alice), "-")
    assert await karma.total(alice) == -25.0
    assert await karma.sanctions(alice) == []
    assert karma.api.calls_of("restrictChatMember") == []


async def test_the_third_distinct_downvoter_sanctions_and_a_fourth_adds_nothing(
    karma: Karma,
) -> None:
    alice = f.user(first_name="Alice")
    await karma.seed_total(alice, -15.0)
    voters = [await seasoned(karma, name) for name in ("Vi", "Wu", "Xe", "Yo")]  # weight 2
    said = await karma.say(alice)
    for voter in voters[:2]:
        await karma.vote(voter, said, "-")
    assert await karma.total(alice) == -19.0
    third = await karma.vote(voters[2], said, "-")
    assert "Alice is read-only until" in text_of(third)
    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert restrict.params["chat_id"] == GROUP["id"]
    fourth = await karma.vote(voters[3], said, "-")
    assert "read-only" not in text_of(fourth)
    assert len(await karma.sanctions(alice)) == 1


async def test_below_the_limit_a_new_distinct_voter_completes_the_count(karma: Karma) -> None:
    """Two voters took Alice far below the limit: no sanction until a third agrees."""
    alice = f.user(first_name="Alice")
    await karma.seed_total(alice, -30.0)
    voters = [await seasoned(karma, name) for name in ("Vi", "Wu", "Xe")]
    said = await karma.say(alice)
    for voter in voters[:2]:
        assert "read-only" not in text_of(await karma.vote(voter, said, "-"))
    assert "read-only" in text_of(await karma.vote(voters[2], said, "-"))


@pytest.mark.parametrize("settings", [{"cooldown_s": 0, "downvote_daily_cap": 3.0}], indirect=True)
async def test_the_daily_cap_cuts_a_downvote_then_refuses(karma: Karma) -> None:
    bob = await seasoned(karma, "Bob")  # weight 2
    alice = f.user(first_name="Alice")
    first = text_of(await karma.vote(bob, await karma.say(alice), "-"))
    assert first == "Alice's karma: -2.0 (-2.0)"
    second = text_of(await karma.vote(bob, await karma.say(alice), "-"))
    assert second.startswith("Alice's karma: -3.0 (-1.0)\nWeight limited")
    third = text_of(await karma.vote(bob, await karma.say(alice), "-"))
    assert third == "You have downvoted Alice as much as one member may today."
    assert await karma.total(alice) == -3.0
    # Upvotes are not capped, and the cap is per target.
    assert text_of(await karma.vote(bob, await karma.say(alice), "+")).endswith("(+2.0)")
    carol = f.user(first_name="Carol")
    assert text_of(await karma.vote(bob, await karma.say(carol), "-")).endswith("(-2.0)")


async def test_downvotes_without_karma_history_weigh_nothing(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    fresh, recent = f.user(first_name="Fresh"), f.user(first_name="Recent")
    await karma.seed_total(fresh, 25.0)  # karma without any vote received
    await karma.seed_event(f.user(), recent, 25.0, utcnow() - timedelta(hours=2))  # too new
    for voter in (fresh, recent):
        reply = text_of(await karma.vote(voter, await karma.say(alice), "-"))
        assert reply.startswith("Alice's karma: 0.0 (0.0)\nNot counted")
    assert await karma.total(alice) == 0.0
    downvotes = [e for e in await karma.events() if e.target_id == alice["id"]]
    assert [(e.direction, e.weight) for e in downvotes] == [(-1, 0.0), (-1, 0.0)]  # recorded
    # Their upvotes keep the usual weight.
    carol = f.user(first_name="Carol")
    assert text_of(await karma.vote(fresh, await karma.say(carol), "+")).endswith("(+5.0)")


async def test_weightless_downvotes_do_not_count_towards_a_sanction(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    await karma.seed_total(alice, -25.0)
    fresh = [f.user(first_name=f"Fresh {n}") for n in range(2)]
    for member in fresh:
        await karma.seed_total(member, 9.0)
    said = await karma.say(alice)
    for member in fresh:
        await karma.vote(member, said, "-")
    await karma.vote(await seasoned(karma, "Old"), said, "-")
    assert await karma.sanctions(alice) == []


async def test_ring_damping_sees_chains(karma: Karma) -> None:
    """Carol upvoted Dave and Dave upvoted Bob: Bob's upvote for Carol closes the circle
    Carol -> Dave -> Bob -> Carol, and is damped like a reciprocal pair."""
    bob, carol, dave = (f.user(first_name=n) for n in ("Bob", "Carol", "Dave"))
    await karma.vote(carol, await karma.say(dave), "+")
    await karma.vote(dave, await karma.say(bob), "+")
    reply = text_of(await karma.vote(bob, await karma.say(carol), "+"))
    assert reply.startswith("Carol's karma: 0.5 (+0.5)\nWeight reduced to ×0.5")


async def test_a_pair_and_a_chain_compound_and_strangers_are_not_damped(karma: Karma) -> None:
    bob, carol, dave, erin = (f.user(first_name=n) for n in ("Bob", "Carol", "Dave", "Erin"))
    await karma.vote(carol, await karma.say(bob), "+")  # a pair: Carol -> Bob
    await karma.vote(carol, await karma.say(dave), "+")  # a chain: Carol -> Dave -> Bob
    await karma.vote(dave, await karma.say(bob), "+")
    reply = text_of(await karma.vote(bob, await karma.say(carol), "+"))
    # Bob's karma is 2 (weight 1.41), damped twice: x0.25.
    assert reply.startswith("Carol's karma: 0.4 (+0.4)\nWeight reduced to ×0.25")
    # Two members upvoting the same third (Bob -> Erin <- Dave) is no ring.
    assert text_of(await karma.vote(bob, await karma.say(erin), "+")) == "Erin's karma: 1.4 (+1.4)"
    assert text_of(await karma.vote(dave, await karma.say(erin), "+")) == "Erin's karma: 2.4 (+1.0)"


async def test_chains_older_than_the_ring_window_do_not_count(karma: Karma) -> None:
    bob, carol, dave = (f.user(first_name=n) for n in ("Bob", "Carol", "Dave"))
    old = utcnow() - timedelta(hours=25)
    await karma.seed_event(carol, dave, 1.0, old)
    await karma.seed_event(dave, bob, 1.0, old)
    reply = text_of(await karma.vote(bob, await karma.say(carol), "+"))
    assert reply == "Carol's karma: 1.0 (+1.0)"
