"""`stats`: counts per aggregate, for the community chat or all chats, on both databases."""

from __future__ import annotations

import json

import pytest

from bot.db.migrate import upgrade_to
from bot.db.models import TranscriptionJob
from tests.integration.admin.conftest import Databases, Invoke, ops_settings
from tests.integration.admin.data import CHAT, populate


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_stats_counts_every_aggregate(
    databases: Databases, run_cli: Invoke, kind: str
) -> None:
    url = await databases.blank(kind)
    await upgrade_to(url, "head")
    await populate(databases.sessions(url))
    settings = ops_settings(url, community={"chat_id": CHAT})

    result = await run_cli(settings, "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["chat_id"] == CHAT  # COMMUNITY__CHAT_ID by default
    assert (stats["users"], stats["bots"]) == (2, 1)
    assert stats["members"] == {"active": 1, "banned": 1}
    assert stats["applications"] == {"pending": 1, "rejected": 1}
    # The fixture's votes are from March 2026: none in the last 24 hours.
    assert stats["karma"] == {"events": 2, "cancelled": 1, "since": 0}
    assert stats["jobs"] == {"done": 1, "queued": 1}
    assert stats["open_jobs"] == 1
    assert stats["oldest_queued_s"] > 0
    assert stats["queue_depth"] is None  # embedded: no Redis to ask

    other = await run_cli(settings, "stats", "--chat-id", "-5", "--json")
    assert json.loads(other.stdout)["members"] == {}
    everywhere = await run_cli(ops_settings(url), "stats")
    assert everywhere.exit_code == 0, everywhere.output
    assert "members (all chats): 2 (active 1, banned 1)" in everywhere.stdout
    assert "applications (all chats): 2 (pending 1, rejected 1)" in everywhere.stdout
    assert "karma events (all chats): 2 (1 cancelled, 0 in the last 24 h)" in everywhere.stdout
    both = await run_cli(settings, "stats", "--chat-id", "1", "--all-chats")
    assert both.exit_code == 2


async def test_redis_down_stats_still_count_and_requeue_changes_nothing(
    databases: Databases, run_cli: Invoke
) -> None:
    url = await databases.blank("sqlite")
    await upgrade_to(url, "head")
    await populate(databases.sessions(url))
    # Nothing listens on port 1: connection refused.
    settings = ops_settings(url, redis={"url": "redis://:secret@127.0.0.1:1/0"})

    result = await run_cli(settings, "stats", "--all-chats")
    assert result.exit_code == 0, result.output
    assert "arq queue unavailable (" in result.stdout
    assert "secret" not in result.output
    assert "transcription jobs: 2 (done 1, queued 1)" in result.stdout

    requeue = await run_cli(settings, "jobs", "requeue", "21")
    assert requeue.exit_code == 1
    async with databases.sessions(url)() as session:
        job = await session.get(TranscriptionJob, 21)
        assert job is not None
        assert job.generation == 0  # refused before anything changed
