"""The Cancel button of a vote reply: the voter only, within the window, once."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from bot.db.base import utcnow
from bot.db.models import KarmaEvent
from tests import factories as f
from tests.integration.karma.conftest import GROUP, Karma


async def _voted(karma: Karma) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(bob, 4.0)  # weight 2
    assert await karma.vote(bob, await karma.say(alice)) is not None
    # A copy: what the voter's client shows, even after the bot edits the message.
    [reply] = copy.deepcopy(karma.api.sent_messages(GROUP["id"]))
    assert reply["text"] == "Alice's karma: 2.0 (+2.0)"
    assert reply["reply_markup"]["inline_keyboard"][0][0]["text"] == "Cancel"
    return alice, bob, reply


async def test_voter_cancels_within_the_window(karma: Karma) -> None:
    alice, bob, reply = await _voted(karma)
    answer = await karma.press(bob, reply)
    assert answer.params["text"] == "Vote cancelled."
    edit = karma.api.calls_of("editMessageText")[-1]
    assert edit.params["text"] == "Vote cancelled (-2.0). Alice's karma: 0.0"
    assert "reply_markup" not in karma.api.messages[(GROUP["id"], reply["message_id"])]
    assert await karma.total(alice) == 0.0
    [event] = await karma.events()
    assert event.cancelled_at is not None
    # A cancelled vote no longer holds the cooldown or the quota.
    again = await karma.vote(bob, await karma.say(alice))
    assert again is not None
    assert again.params["text"] == "Alice's karma: 2.0 (+2.0)"


async def test_only_the_voter_can_cancel(karma: Karma) -> None:
    alice, _, reply = await _voted(karma)
    for someone in (alice, f.user()):
        answer = await karma.press(someone, reply)
        assert answer.params["text"] == "Only the voter can cancel this vote."
        assert answer.params["show_alert"] is True
    assert karma.api.calls_of("editMessageText") == []
    assert await karma.total(alice) == 2.0
    [event] = await karma.events()
    assert event.cancelled_at is None


async def test_too_late_to_cancel(karma: Karma) -> None:
    alice, bob, reply = await _voted(karma)
    async with karma.db() as session:
        await session.execute(
            update(KarmaEvent).values(created_at=utcnow() - timedelta(seconds=601))
        )
        await session.commit()
    answer = await karma.press(bob, reply)
    assert answer.params["show_alert"] is True
    assert "Too late" in answer.params["text"]
    assert await karma.total(alice) == 2.0
    assert karma.api.calls_of("editMessageText") == []


async def test_double_cancel_changes_nothing_twice(karma: Karma) -> None:
    alice, bob, reply = await _voted(karma)
    await karma.press(bob, reply)
    answer = await karma.press(bob, reply)  # a second tap on a stale copy of the message
    assert "already cancelled" in answer.params["text"]
    assert await karma.total(alice) == 0.0
    assert len(karma.api.calls_of("editMessageText")) == 1


async def test_forged_event_id_is_refused(karma: Karma) -> None:
    _, bob, reply = await _voted(karma)
    forged = {
        **reply,
        "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "k:x:999"}]]},
    }
    answer = await karma.press(bob, forged)
    assert "no longer exists" in answer.params["text"]
