"""Votes by reply, their weights and every anti-abuse refusal, through the real dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db.base import utcnow
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma

UP = [
    "+",
    "+1",
    "thanks a lot",
    "Thank you!",
    "THX",
    "ty",
    "Спасибо!",
    "спс",
    "благодарю",
    "пасиб",
    "👍",
    "👍🏻 great",
]
DOWN = ["-", "-1", "👎", "-1 that is wrong"]
NOT_VOTES = ["no thanks", "+5", "--", "tyre", "hello +1", "спасибочки", "-100"]


@pytest.mark.parametrize("text", UP)
async def test_upvote_triggers(karma: Karma, text: str) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    target = await karma.say(alice)
    reply = await karma.vote(bob, target, text)
    assert reply is not None
    assert reply.params["text"] == "Alice's karma: 1.0 (+1.0)"
    assert reply.params["reply_parameters"]["message_id"] != target["message_id"]
    assert await karma.total(alice) == 1.0
    [event] = await karma.events()
    assert (event.voter_id, event.target_id, event.direction) == (bob["id"], alice["id"], 1)
    assert event.message_id == target["message_id"]


@pytest.mark.parametrize("text", DOWN)
async def test_downvote_triggers_weighted(karma: Karma, text: str) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_karma(bob, 9.0)  # weight sqrt(9) = 3
    reply = await karma.vote(bob, await karma.say(alice), text)
    assert reply is not None
    assert reply.params["text"] == "Alice's karma: -3.0 (-3.0)"
    assert await karma.total(alice) == -3.0


@pytest.mark.parametrize("text", NOT_VOTES)
async def test_other_replies_are_ordinary_messages(karma: Karma, text: str) -> None:
    alice, bob = f.user(), f.user()
    await karma.seed_total(bob, 9.0)
    assert await karma.vote(bob, await karma.say(alice), text) is None
    assert await karma.events() == []


async def test_a_captioned_reply_votes(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user()
    target = await karma.say(alice)
    photo = [{"file_id": "AgACAgIAAxkBAAIBp", "file_unique_id": "AQADp", "width": 90, "height": 90}]
    await karma.feed(
        f.message_update(
            f.message(from_user=bob, chat=GROUP, reply_to=target, photo=photo, caption="+1")
        )
    )
    [reply] = karma.api.calls_of("sendMessage")
    assert reply.params["text"] == "Alice's karma: 1.0 (+1.0)"


@pytest.mark.parametrize("media", ["voice", "audio", "video_note"])
async def test_a_voice_note_captioned_plus_is_for_a2t_not_a_vote(karma: Karma, media: str) -> None:
    # A2T owns voice notes whatever their caption (this chat's mode leaves them alone).
    alice, bob = f.user(), f.user()
    target = await karma.say(alice)
    note = getattr(f, media)()
    await karma.feed(
        f.message_update(
            f.message(from_user=bob, chat=GROUP, reply_to=target, caption="+", **{media: note})
        )
    )
    assert karma.api.calls_of("sendMessage") == []
    assert await karma.events() == []


async def test_a_message_that_is_not_a_reply_is_no_vote(karma: Karma) -> None:
    assert await karma.say(f.user(), "+") is not None
    assert karma.api.calls_of("sendMessage") == []
    assert await karma.events() == []


async def test_no_votes_for_yourself_or_for_bots(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    robot = f.user(first_name="Robo", is_bot=True)
    reply = await karma.vote(alice, await karma.say(alice), "+")
    assert reply is not None
    assert "yourself" in reply.params["text"]
    reply = await karma.vote(alice, await karma.say(robot), "+")
    assert reply is not None
    assert "Bots have no karma" in reply.params["text"]
    assert await karma.events() == []
    assert await karma.totals() == {}


async def test_downvote_needs_positive_karma(karma: Karma) -> None:
    alice, bob = f.user(), f.user()
    await karma.seed_total(bob, 0.0)
    reply = await karma.vote(bob, await karma.say(alice), "-")
    assert reply is not None
    assert "positive karma to downvote" in reply.params["text"]
    assert await karma.events() == []
    assert await karma.total(alice) == 0.0


@pytest.mark.parametrize(
    ("voter_karma", "weight"),
    [(-5.0, "1.0"), (0.0, "1.0"), (0.5, "1.0"), (2.25, "1.5"), (16.0, "4.0"), (100.0, "5.0")],
)
async def test_weight_grows_with_karma_within_floor_and_cap(
    karma: Karma, voter_karma: float, weight: str
) -> None:
    alice, bob = f.user(first_name="Alice"), f.user()
    await karma.seed_total(bob, voter_karma)
    reply = await karma.vote(bob, await karma.say(alice))
    assert reply is not None
    assert reply.params["text"] == f"Alice's karma: {weight} (+{weight})"


async def test_cooldown_per_pair(karma: Karma) -> None:
    alice, bob, carol = f.user(first_name="Alice"), f.user(), f.user(first_name="Carol")
    first = await karma.vote(bob, await karma.say(alice))
    assert first is not None
    again = await karma.vote(bob, await karma.say(alice))
    assert again is not None
    assert "recently" in again.params["text"]
    # Another target is fine, and so is the same one once the cooldown is over.
    other = await karma.vote(bob, await karma.say(carol))
    assert other is not None
    assert other.params["text"].startswith("Carol's karma: 1.0")
    assert await karma.total(alice) == 1.0


async def test_cooldown_is_over_after_cooldown_s(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user()
    await karma.seed_event(bob, alice, 1.0, utcnow() - timedelta(seconds=61))
    reply = await karma.vote(bob, await karma.say(alice))
    assert reply is not None
    assert reply.params["text"] == "Alice's karma: 2.0 (+1.0)"


@pytest.mark.parametrize("settings", [{"daily_quota": 2, "cooldown_s": 0}], indirect=True)
async def test_daily_quota_per_voter(karma: Karma) -> None:
    bob = f.user()
    targets = [f.user(), f.user(), f.user()]
    # Yesterday's votes do not count.
    await karma.seed_event(bob, targets[0], 1.0, utcnow() - timedelta(days=1, hours=1))
    for target in targets[:2]:
        reply = await karma.vote(bob, await karma.say(target))
        assert reply is not None
        assert "karma:" in reply.params["text"]
    refused = await karma.vote(bob, await karma.say(targets[2]))
    assert refused is not None
    assert "all 2 of today's votes" in refused.params["text"]
    assert await karma.total(targets[2]) == 0.0


@pytest.mark.parametrize("settings", [{"cooldown_s": 0}], indirect=True)
async def test_reciprocal_votes_are_damped(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    reply = await karma.vote(bob, await karma.say(alice))  # Bob -> Alice: full weight
    assert reply is not None
    assert reply.params["text"] == "Alice's karma: 1.0 (+1.0)"
    reply = await karma.vote(alice, await karma.say(bob))  # Alice -> Bob: one reciprocal vote
    assert reply is not None
    assert reply.params["text"].startswith("Bob's karma: 0.5 (+0.5)")
    assert "×0.5" in reply.params["text"]
    # Bob's second vote for Alice: Alice voted for him once -> 0.5 again.
    reply = await karma.vote(bob, await karma.say(alice))
    assert reply is not None
    assert reply.params["text"].startswith("Alice's karma: 1.5 (+0.5)")
    weights = [e.weight for e in await karma.events()]
    assert weights == [1.0, 0.5, 0.5]


@pytest.mark.parametrize("settings", [{"cooldown_s": 0}], indirect=True)
async def test_ring_damping_compounds_to_its_minimum(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    now = utcnow()
    for n in range(2):
        await karma.seed_event(alice, bob, 1.0, now - timedelta(hours=n + 1), total=False)
    # Outside the 24 h window: not counted.
    await karma.seed_event(alice, bob, 1.0, now - timedelta(hours=25), total=False)
    reply = await karma.vote(bob, await karma.say(alice))
    assert reply is not None
    assert reply.params["text"].startswith("Alice's karma: 0.2 (+0.2)")  # 0.5 ** 2 = 0.25
    assert (await karma.events())[-1].weight == 0.25
    for n in range(3):
        await karma.seed_event(alice, bob, 1.0, now - timedelta(minutes=n + 1), total=False)
    reply = await karma.vote(bob, await karma.say(alice))
    assert reply is not None
    assert (await karma.events())[-1].weight == pytest.approx(0.1)  # 0.5 ** 5 -> floor 0.1


@pytest.mark.parametrize("settings", [{"enabled": False}], indirect=True)
async def test_disabled_karma_ignores_votes_and_says_so_on_commands(karma: Karma) -> None:
    alice, bob = f.user(), f.user()
    assert await karma.vote(bob, await karma.say(alice), "+") is None
    assert await karma.events() == []
    assert "switched off" in await karma.command(bob, "/karma")
    assert "switched off" in await karma.command(bob, "/top")


async def test_the_reply_speaks_the_voters_language(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    bob = f.user(first_name="Bob", language_code="ru")
    reply = await karma.vote(bob, await karma.say(alice), "спасибо")
    assert reply is not None
    assert reply.params["text"] == "Карма Alice: 1.0 (+1.0)"
    [[button]] = reply.params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Отмена"
    refused = await karma.vote(bob, await karma.say(bob), "+")
    assert refused is not None
    assert refused.params["text"] == "Нельзя голосовать за себя."
