"""`python -m bot.admin moderators add|remove|list`: the bot's moderator check consults
the list at once, through the real dispatcher (/members by a listed user)."""

from __future__ import annotations

import json
from typing import Any

from bot.db.models import User
from bot.settings import Settings
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.admin.conftest import invoke

EVE = f.user(id=777_001, first_name="Eve", username="eve_ops")
REFUSAL = "Only moderators can list the members."


def members_by(user: dict[str, Any]) -> dict[str, Any]:
    return f.message_update(f.message("/members", from_user=user, chat=f.private_chat(user)))


async def reply_to_members(feed: Any, fake_api: FakeBotAPI) -> str:
    fake_api.reset_calls()
    await feed(members_by(EVE))
    sent = await fake_api.wait_for_call("sendMessage")
    return str(sent.params["text"])


async def test_a_listed_user_is_a_moderator_at_once_and_not_after_removal(
    settings: Settings, feed: Any, fake_api: FakeBotAPI, db: Any
) -> None:
    assert await reply_to_members(feed, fake_api) == REFUSAL

    added = await invoke(
        settings, "moderators", "add", str(EVE["id"]), "--note", "night shift", "--by", "ops"
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == f"user {EVE['id']} is now a moderator"
    assert await reply_to_members(feed, fake_api) != REFUSAL

    again = await invoke(settings, "moderators", "add", str(EVE["id"]))
    assert (again.exit_code, again.stdout.strip()) == (
        0,
        f"user {EVE['id']} was a moderator already",
    )

    async with db() as session:  # as the roster would have stored her from a group
        session.add(User(id=EVE["id"], first_name="Eve", username="eve_ops"))
        await session.commit()
    listed = await invoke(settings, "moderators", "list", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [(m["user_id"], m["first_name"], m["note"], m["added_by"]) for m in data["listed"]] == [
        (EVE["id"], "Eve", "night shift", "ops")  # a user the bot knows: named
    ]
    assert data["admin_ids"] == settings.moderation.admin_ids
    human = await invoke(settings, "moderators", "list")
    assert "eve_ops" in human.stdout
    assert "night shift" in human.stdout

    removed = await invoke(settings, "moderators", "remove", str(EVE["id"]))
    assert removed.exit_code == 0, removed.output
    assert await reply_to_members(feed, fake_api) == REFUSAL

    missing = await invoke(settings, "moderators", "remove", str(EVE["id"]))
    assert missing.exit_code == 1
    assert "is not on the moderators list" in missing.stderr


async def test_a_configured_admin_stays_one_and_bad_ids_are_usage_errors(
    settings: Settings, db: Any
) -> None:
    configured = settings.moderation.admin_ids[0]
    await invoke(settings, "moderators", "add", str(configured))
    removed = await invoke(settings, "moderators", "remove", str(configured))
    assert removed.exit_code == 0
    assert "is in MODERATION__ADMIN_IDS and stays a moderator" in removed.stderr
    for bad in ("0", "-5", "abc"):
        result = await invoke(settings, "moderators", "add", bad)
        assert result.exit_code == 2, bad
