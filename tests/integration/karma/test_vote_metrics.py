"""Karma votes are counted for the dashboard's votes per minute; refusals are not."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests import factories as f
from tests.integration.karma.conftest import Karma


def _votes(direction: str) -> float:
    labels = {"source": "reply", "direction": direction}
    return REGISTRY.get_sample_value("bot_karma_votes_total", labels) or 0.0


async def test_counted_votes_and_only_those(karma: Karma) -> None:
    alice, bob = f.user(first_name="Alice"), f.user(first_name="Bob")
    await karma.seed_total(bob, 4.0)
    up, down = _votes("up"), _votes("down")
    assert await karma.vote(bob, await karma.say(alice), "+") is not None
    assert await karma.vote(bob, await karma.say(alice), "+") is not None  # cooldown: refused
    carol = f.user(first_name="Carol")  # no karma of her own: may not downvote
    assert await karma.vote(carol, await karma.say(alice), "-") is not None
    assert (_votes("up") - up, _votes("down") - down) == (1.0, 0.0)
    assert len(await karma.events()) == 1
