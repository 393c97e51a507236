"""Karma falling to KARMA__RESTRICT_BELOW: the next step of KARMA__ESCALATION (read-only
for a while, then longer, then a ban), applied through the Bot API, recorded, lifted by
undoing the vote or by a moderator's /karma_pardon.

One downvoter is enough here (KARMA__SANCTION_MIN_VOTERS=1): the rule that several must
agree has its own tests (test_abuse.py)."""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.db.base import utcnow
from bot.db.enums import KarmaLift, KarmaSanction
from bot.domain.karma_rules import parse_escalation
from bot.settings import Settings
from tests import factories as f
from tests.fakes import BotAPIError
from tests.integration.karma.conftest import GROUP, Karma

DAY = 86_400
DEFAULT_PERMISSIONS = {"can_send_messages": True, "can_send_photos": False}


@pytest.fixture
def settings(request: pytest.FixtureRequest, make_settings: Any, pg_url: str) -> Settings:
    karma = {"sanction_min_voters": 1, **getattr(request, "param", {})}
    moderation = karma.pop("moderation", {})
    return make_settings(pg_url, karma=karma, moderation=moderation)  # type: ignore[no-any-return]


async def seasoned(karma: Karma) -> dict[str, Any]:
    """Bob, with karma 4 (weight 2) and history: his downvotes count."""
    bob = f.user(first_name="Bob")
    await karma.seed_karma(bob, 4.0)
    return bob


async def fall(karma: Karma, alice: dict[str, Any]) -> Any:
    """Bob (weight 2) votes Alice from -19 to -21: over the limit (-20)."""
    bob = await seasoned(karma)
    await karma.seed_total(alice, -19.0)
    reply = await karma.vote(bob, await karma.say(alice), "-")
    assert reply is not None
    return bob, reply


async def test_falling_below_the_limit_restricts_and_undo_lifts(karma: Karma) -> None:
    karma.api.set_chat({**GROUP, "permissions": DEFAULT_PERMISSIONS})
    alice = f.user(first_name="Alice")
    bob, reply = await fall(karma, alice)
    assert reply.params["text"].startswith("Alice's karma: -21.0 (-2.0)\nAlice is read-only until")
    assert reply.params["text"].endswith("UTC: karma too low (step 1).")

    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert restrict.params["chat_id"] == GROUP["id"]
    assert restrict.params["user_id"] == alice["id"]
    assert restrict.params["permissions"]["can_send_messages"] is False
    assert abs(restrict.params["until_date"] - (time.time() + 7 * DAY)) < 60
    assert karma.api.members[(GROUP["id"], alice["id"])]["status"] == "restricted"
    [row] = await karma.sanctions(alice)
    assert (row.step, row.kind, row.lifted_at) == (0, KarmaSanction.READ_ONLY, None)

    [sent] = copy.deepcopy(karma.api.sent_messages(GROUP["id"]))
    await karma.press(bob, sent)
    lift = (await karma.api.wait_for_calls("restrictChatMember", 2))[1]
    assert lift.params["user_id"] == alice["id"]
    assert lift.params["permissions"] == DEFAULT_PERMISSIONS  # the chat's defaults
    assert "until_date" not in lift.params
    assert "Alice may write again." in karma.api.calls_of("editMessageText")[-1].params["text"]
    assert await karma.total(alice) == -19.0
    [row] = await karma.sanctions(alice)
    assert row.lifted_at is not None
    assert (row.lift_reason, row.lifted_by) == (KarmaLift.UNDO, bob["id"])


@pytest.mark.parametrize(
    ("earlier", "step", "days"),
    [
        ([], 0, 7),
        ([KarmaLift.UNDO, KarmaLift.UNDO], 0, 7),  # undone steps do not count
        ([None], 1, 30),  # an expired step counts
        ([KarmaLift.PARDON], 1, 30),  # so does a pardoned one
    ],
)
async def test_the_step_follows_earlier_sanctions(
    karma: Karma, earlier: list[KarmaLift | None], step: int, days: int
) -> None:
    alice = f.user(first_name="Alice")
    for reason in earlier:
        await karma.seed_sanction(alice, lift_reason=reason)
    _, reply = await fall(karma, alice)
    assert reply.params["text"].endswith(f"karma too low (step {step + 1}).")
    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert abs(restrict.params["until_date"] - (time.time() + days * DAY)) < 60
    assert karma.api.calls_of("banChatMember") == []
    row = (await karma.sanctions(alice))[-1]
    assert (row.step, row.kind, row.event_id is not None) == (step, KarmaSanction.READ_ONLY, True)


async def test_the_last_step_bans_and_undo_unbans(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    await karma.seed_sanction(alice)
    await karma.seed_sanction(alice, lift_reason=KarmaLift.PARDON)
    bob, reply = await fall(karma, alice)
    assert reply.params["text"].endswith("Alice is banned: karma too low (step 3).")
    [ban] = await karma.api.wait_for_calls("banChatMember", 1)
    assert (ban.params["chat_id"], ban.params["user_id"]) == (GROUP["id"], alice["id"])
    assert "until_date" not in ban.params  # for good
    assert karma.api.calls_of("restrictChatMember") == []
    assert karma.api.members[(GROUP["id"], alice["id"])]["status"] == "kicked"
    row = (await karma.sanctions(alice))[-1]
    assert (row.step, row.kind, row.until) == (2, KarmaSanction.BAN, None)

    [sent] = copy.deepcopy(karma.api.sent_messages(GROUP["id"]))
    await karma.press(bob, sent)
    [unban] = await karma.api.wait_for_calls("unbanChatMember", 1)
    assert unban.params["user_id"] == alice["id"]
    assert unban.params["only_if_banned"] is True
    assert "Alice is unbanned" in karma.api.calls_of("editMessageText")[-1].params["text"]
    assert (await karma.sanctions(alice))[-1].lift_reason == KarmaLift.UNDO


@pytest.mark.parametrize("settings", [{"escalation": "2h, ban"}], indirect=True)
async def test_the_ladder_is_configurable_and_its_last_step_repeats(karma: Karma) -> None:
    alice = f.user(first_name="Alice")
    await karma.seed_sanction(alice)
    await karma.seed_sanction(alice)  # two earlier: past the end, the ban again
    await fall(karma, alice)
    await karma.api.wait_for_calls("banChatMember", 1)
    assert [s.step for s in await karma.sanctions(alice)][-1] == 1


@pytest.mark.parametrize("settings", [{"escalation": "2h, ban"}], indirect=True)
async def test_a_configured_duration(karma: Karma) -> None:
    await fall(karma, f.user())
    [restrict] = await karma.api.wait_for_calls("restrictChatMember", 1)
    assert abs(restrict.params["until_date"] - (time.time() + 2 * 3600)) < 60


async def test_a_moderator_pardons_a_read_only_member(karma: Karma) -> None:
    karma.api.set_chat({**GROUP, "permissions": DEFAULT_PERMISSIONS})
    admin = f.user(first_name="Ada")
    karma.api.set_chat_member(GROUP["id"], admin, "administrator", can_restrict_members=True)
    alice = f.user(first_name="Alice")
    await fall(karma, alice)
    await karma.api.wait_for_calls("restrictChatMember", 1)
    text = await karma.command(admin, "/karma_pardon", reply_to=await karma.say(alice))
    assert text == "Karma sanction lifted by a moderator.\nAlice may write again."
    lift = karma.api.calls_of("restrictChatMember")[-1]
    assert (lift.params["user_id"], lift.params["permissions"]) == (
        alice["id"],
        DEFAULT_PERMISSIONS,
    )
    [row] = await karma.sanctions(alice)
    assert (row.lift_reason, row.lifted_by) == (KarmaLift.PARDON, admin["id"])
    assert await karma.total(alice) == -21.0  # a pardon lifts the sanction, not the votes

    again = await karma.command(admin, "/karma_pardon", reply_to=await karma.say(alice))
    assert again == "Alice has no karma sanction to lift."
    assert len(karma.api.calls_of("restrictChatMember")) == 2


async def test_a_moderator_pardons_a_ban_by_user_id(karma: Karma) -> None:
    admin = f.user(first_name="Ada")
    karma.api.set_chat_member(GROUP["id"], admin, "creator")
    alice = f.user(first_name="Alice")
    await karma.seed_sanction(alice)
    await karma.seed_sanction(alice)
    await fall(karma, alice)
    await karma.api.wait_for_calls("banChatMember", 1)
    text = await karma.command(admin, f"/karma_pardon {alice['id']}")
    assert text.endswith("Alice is unbanned and may rejoin.")
    [unban] = await karma.api.wait_for_calls("unbanChatMember", 1)
    assert (unban.params["user_id"], unban.params["only_if_banned"]) == (alice["id"], True)
    assert (await karma.sanctions(alice))[-1].lifted_by == admin["id"]


@pytest.mark.parametrize("settings", [{"moderation": {"admin_ids": [4242]}}], indirect=True)
async def test_a_configured_moderator_pardons_without_being_a_chat_admin(karma: Karma) -> None:
    moderator = f.user(id=4242, first_name="Mo")
    alice = f.user(first_name="Alice")
    await fall(karma, alice)
    await karma.api.wait_for_calls("restrictChatMember", 1)
    text = await karma.command(moderator, "/karma_pardon", reply_to=await karma.say(alice))
    assert text.endswith("Alice may write again.")
    [row] = await karma.sanctions(alice)
    assert (row.lift_reason, row.lifted_by) == (KarmaLift.PARDON, 4242)


async def test_only_moderators_pardon(karma: Karma) -> None:
    alice, mallory = f.user(first_name="Alice"), f.user(first_name="Mallory")
    await fall(karma, alice)
    await karma.api.wait_for_calls("restrictChatMember", 1)
    text = await karma.command(mallory, "/karma_pardon", reply_to=await karma.say(alice))
    assert text == "Only chat admins allowed to restrict members can lift karma sanctions."
    assert len(karma.api.calls_of("restrictChatMember")) == 1
    [row] = await karma.sanctions(alice)
    assert row.lifted_at is None


async def test_pardon_usage(karma: Karma) -> None:
    admin = f.user(first_name="Ada")
    karma.api.set_chat_member(GROUP["id"], admin, "administrator", can_restrict_members=True)
    text = await karma.command(admin, "/karma_pardon")
    assert text.startswith("Reply to a member's message with /karma_pardon")


async def test_no_restriction_above_the_limit_or_when_already_below(karma: Karma) -> None:
    alice, carol, bob = f.user(), f.user(), await seasoned(karma)
    await karma.seed_total(alice, -17.0)  # -17 -> -19: above the limit
    await karma.seed_total(carol, -25.0)  # already below: restricted before, not again
    await karma.seed_event(f.user(), carol, -1.0, utcnow() - timedelta(days=1), total=False)
    assert await karma.vote(bob, await karma.say(alice), "-") is not None
    assert await karma.vote(bob, await karma.say(carol), "-") is not None
    assert karma.api.calls_of("restrictChatMember") == []
    assert karma.api.calls_of("banChatMember") == []


async def test_a_refused_restriction_keeps_the_vote(karma: Karma) -> None:
    def refuse(_: object) -> None:
        raise BotAPIError(400, "Bad Request: not enough rights to restrict/unrestrict chat member")

    karma.api.set_handler("restrictChatMember", refuse)
    alice = f.user(first_name="Alice")
    await fall(karma, alice)
    assert await karma.total(alice) == -21.0
    assert len(karma.api.calls_of("restrictChatMember")) == 1
    assert len(await karma.sanctions(alice)) == 1


@pytest.mark.parametrize("spec", ["", "7", "7w", "0d", "367d", "ban,7d", "7d,,ban", "30s"])
def test_bad_escalation_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"step|366d"):
        parse_escalation(spec)


def test_a_bad_escalation_setting_stops_start_up(make_settings: Any, pg_url: str) -> None:
    with pytest.raises(ValueError, match="ban must be the last step"):
        make_settings(pg_url, karma={"escalation": "ban,7d"})
