"""The roster follows Telegram's own updates through the real dispatcher: chat_member and
my_chat_member changes, join/leave service messages, and throttled activity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.enums import MemberRole, MemberStatus
from bot.db.models import Chat, User
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.roster.conftest import COMMUNITY, MOD_CHAT, MODERATOR, membership

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def test_join_promote_restrict_ban_leave(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    ann = f.user(id=501, first_name="Ann", username="ann", language_code="ru", is_premium=True)
    admin = f.user(id=502, first_name="Owner")
    left, member = f.chat_member(ann, "left"), f.chat_member(ann, "member")

    await feed(f.chat_member_update(COMMUNITY, ann, left, member, date=T0))
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.role, row.joined_at, row.left_at) == (
        MemberStatus.ACTIVE,
        MemberRole.MEMBER,
        at(T0),
        None,
    )
    async with db() as session:
        user, chat = await session.get(User, 501), await session.get(Chat, COMMUNITY["id"])
    assert user is not None
    assert (user.first_name, user.username, user.language_code, user.is_premium) == (
        "Ann",
        "ann",
        "ru",
        True,
    )
    assert chat is not None
    assert chat.title == "Community"

    promoted = f.chat_member(ann, "administrator", can_delete_messages=True)
    await feed(f.chat_member_update(COMMUNITY, admin, member, promoted, date=T0 + 60))
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.role, row.joined_at) == (MemberStatus.ACTIVE, MemberRole.ADMIN, at(T0))

    restricted = f.chat_member(ann, "restricted", is_member=True, can_send_messages=False)
    await feed(f.chat_member_update(COMMUNITY, admin, promoted, restricted, date=T0 + 120))
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.role, row.joined_at) == (
        MemberStatus.RESTRICTED,
        MemberRole.MEMBER,
        at(T0),
    )

    banned = f.chat_member(ann, "kicked")
    await feed(f.chat_member_update(COMMUNITY, admin, restricted, banned, date=T0 + 180))
    # The "left" service message that follows a ban does not turn the ban into a leave.
    await feed(
        f.message_update(
            f.message(from_user=admin, chat=COMMUNITY, date=T0 + 181, left_chat_member=ann)
        )
    )
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.left_at) == (MemberStatus.BANNED, at(T0 + 180))

    # Unbanned, then joins again: a fresh joined_at.
    await feed(f.chat_member_update(COMMUNITY, admin, banned, left, date=T0 + 240))
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.left_at) == (MemberStatus.LEFT, at(T0 + 240))
    await feed(f.chat_member_update(COMMUNITY, ann, left, member, date=T0 + 300))
    row = await membership(db, COMMUNITY["id"], 501)
    assert row is not None
    assert (row.status, row.joined_at, row.left_at) == (MemberStatus.ACTIVE, at(T0 + 300), None)


async def test_configured_moderator_and_creator_roles(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    owner = f.user(id=503, first_name="Olga")
    left = f.chat_member(MODERATOR, "left")
    await feed(f.chat_member_update(COMMUNITY, MODERATOR, left, f.chat_member(MODERATOR), date=T0))
    await feed(
        f.chat_member_update(
            COMMUNITY, owner, f.chat_member(owner), f.chat_member(owner, "creator"), date=T0
        )
    )
    mod = await membership(db, COMMUNITY["id"], MODERATOR["id"])
    creator = await membership(db, COMMUNITY["id"], 503)
    assert mod is not None
    assert creator is not None
    assert (mod.role, creator.role) == (MemberRole.MODERATOR, MemberRole.ADMIN)


async def test_restricted_who_left_is_left(feed: Any, db: async_sessionmaker[AsyncSession]) -> None:
    bob = f.user(id=504, first_name="Bob")
    old = f.chat_member(bob, "restricted", is_member=True)
    new = f.chat_member(bob, "restricted", is_member=False)
    await feed(f.chat_member_update(COMMUNITY, bob, old, new, date=T0))
    row = await membership(db, COMMUNITY["id"], 504)
    assert row is not None
    assert (row.status, row.left_at) == (MemberStatus.LEFT, at(T0))


async def test_new_and_left_chat_members_messages(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    inviter = f.user(id=505, first_name="Ivy")
    cat, dan = f.user(id=506, first_name="Cat"), f.user(id=507, first_name="Dan")
    await feed(
        f.message_update(
            f.message(from_user=inviter, chat=COMMUNITY, date=T0, new_chat_members=[cat, dan])
        )
    )
    for uid in (506, 507):
        row = await membership(db, COMMUNITY["id"], uid)
        assert row is not None
        assert (row.status, row.joined_at) == (MemberStatus.ACTIVE, at(T0))
    await feed(
        f.message_update(
            f.message(from_user=dan, chat=COMMUNITY, date=T0 + 5, left_chat_member=dan)
        )
    )
    row = await membership(db, COMMUNITY["id"], 507)
    assert row is not None
    assert (row.status, row.left_at) == (MemberStatus.LEFT, at(T0 + 5))
    # A join/leave service message is not its sender's activity.
    assert await membership(db, COMMUNITY["id"], 505) is None


async def test_my_chat_member_records_the_bot(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    me = fake_api.bot_user
    admin = f.user(id=508, first_name="Admin")
    await feed(
        f.my_chat_member_update(
            MOD_CHAT,
            admin,
            f.chat_member(me, "left"),
            f.chat_member(me, "administrator", can_restrict_members=True),
            date=T0,
        )
    )
    row = await membership(db, MOD_CHAT["id"], me["id"])
    assert row is not None
    assert (row.status, row.role) == (MemberStatus.ACTIVE, MemberRole.ADMIN)


async def test_bot_blocked_in_private_is_no_membership(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    me, kim = fake_api.bot_user, f.user(id=515, first_name="Kim")
    await feed(
        f.my_chat_member_update(
            f.private_chat(kim), kim, f.chat_member(me), f.chat_member(me, "kicked"), date=T0
        )
    )
    assert await membership(db, kim["id"], me["id"]) is None


async def test_promotion_in_the_moderation_chat_makes_a_moderator(
    feed: Any, fake_api: FakeBotAPI
) -> None:
    """The Moderators cache is re-read after a chat_member change in the moderation chat."""
    eve = f.user(id=509, first_name="Eve")
    chat = f.private_chat(eve)
    await feed(f.message_update(f.message("/members", from_user=eve, chat=chat)))
    refusal = await fake_api.wait_for_call("sendMessage")
    assert refusal.params["text"] == "Only moderators can list the members."

    promoted = fake_api.set_chat_member(MOD_CHAT["id"], eve, "administrator")
    await feed(f.chat_member_update(MOD_CHAT, MODERATOR, f.chat_member(eve), promoted, date=T0))
    fake_api.reset_calls()
    await feed(f.message_update(f.message("/members", from_user=eve, chat=chat)))
    listing = await fake_api.wait_for_call("sendMessage")
    assert "match" in listing.params["text"]


async def test_activity_is_throttled(
    feed: Any, db: async_sessionmaker[AsyncSession], pg_engine: AsyncEngine
) -> None:
    """60 messages a minute apart by two members, interval 300 s: each member's
    last_seen_at is written at 0, 5, 10 min... (12 writes each), never per message."""
    ann, bob = f.user(id=510, first_name="Ann"), f.user(id=511, first_name="Bob")
    writes: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MEMBERSHIPS"):
            writes.append(statement)

    event.listen(pg_engine.sync_engine, "before_cursor_execute", count)
    try:
        for minute in range(60):
            for author in (ann, bob):
                msg = f.message("hi", from_user=author, chat=COMMUNITY, date=T0 + minute * 60)
                await feed(f.message_update(msg))
    finally:
        event.remove(pg_engine.sync_engine, "before_cursor_execute", count)

    assert len(writes) == 2 * 12
    row = await membership(db, COMMUNITY["id"], 510)
    assert row is not None
    assert row.last_seen_at == at(T0 + 55 * 60)  # the last write, not the last message
    assert (row.status, row.joined_at) == (MemberStatus.ACTIVE, None)  # join never seen


async def test_profile_change_is_written_at_once(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    ann = f.user(id=512, first_name="Ann", username="ann")
    await feed(f.message_update(f.message("hi", from_user=ann, chat=COMMUNITY, date=T0)))
    renamed = {**ann, "first_name": "Anna", "username": "anna"}
    await feed(f.message_update(f.message("hi", from_user=renamed, chat=COMMUNITY, date=T0 + 1)))
    async with db() as session:
        user = await session.scalar(select(User).where(User.id == 512))
    assert user is not None
    assert (user.first_name, user.username) == ("Anna", "anna")
    row = await membership(db, COMMUNITY["id"], 512)
    assert row is not None
    assert row.last_seen_at == at(T0 + 1)


async def test_activity_counts_messages_other_features_answer(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    """A karma vote is answered by the karma router; the voter's activity is still seen."""
    ann, bob = f.user(id=513, first_name="Ann"), f.user(id=514, first_name="Bob")
    said = f.message("a good point", from_user=ann, chat=COMMUNITY, date=T0)
    await feed(f.message_update(said))
    await feed(
        f.message_update(f.message("+", from_user=bob, chat=COMMUNITY, date=T0 + 9, reply_to=said))
    )
    vote_reply = await fake_api.wait_for_call("sendMessage")
    assert "karma" in vote_reply.params["text"]
    row = await membership(db, COMMUNITY["id"], 514)
    assert row is not None
    assert row.last_seen_at == at(T0 + 9)


def test_the_bot_asks_for_chat_member_updates(dispatcher: Any) -> None:
    used = set(dispatcher.resolve_used_update_types())
    assert {"chat_member", "my_chat_member", "message", "callback_query"} <= used


async def test_a_late_update_never_overwrites_a_newer_status(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    """Telegram may deliver updates late and out of order (a backlog after a restart,
    a retried webhook, several replicas): the newest change by Telegram's date wins."""
    eve, owner = f.user(id=521, first_name="Eve"), f.user(id=522, first_name="Owner")
    left, member = f.chat_member(eve, "left"), f.chat_member(eve, "member")
    banned = f.chat_member(eve, "kicked", until_date=0)

    await feed(f.chat_member_update(COMMUNITY, eve, left, member, date=T0 + 100))
    # A ban from before she rejoined, delivered only now:
    await feed(f.chat_member_update(COMMUNITY, owner, member, banned, date=T0 + 50))
    # and a "left" service message older still.
    await feed(
        f.message_update(
            f.message(from_user=eve, chat=COMMUNITY, date=T0 + 10, left_chat_member=eve)
        )
    )
    row = await membership(db, COMMUNITY["id"], 521)
    assert row is not None
    assert (row.status, row.joined_at, row.left_at, row.status_at) == (
        MemberStatus.ACTIVE,
        at(T0 + 100),
        None,
        at(T0 + 100),
    )

    # A newer change applies; so does one of the same second (arrival order).
    await feed(f.chat_member_update(COMMUNITY, owner, member, banned, date=T0 + 200))
    row = await membership(db, COMMUNITY["id"], 521)
    assert row is not None
    assert (row.status, row.left_at) == (MemberStatus.BANNED, at(T0 + 200))
    await feed(f.chat_member_update(COMMUNITY, owner, banned, left, date=T0 + 200))
    row = await membership(db, COMMUNITY["id"], 521)
    assert row is not None
    assert row.status == MemberStatus.LEFT


async def test_a_message_proves_presence_against_an_older_leave(
    feed: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    fay = f.user(id=523, first_name="Fay")
    await feed(f.message_update(f.message("hi", from_user=fay, chat=COMMUNITY, date=T0 + 100)))
    left = f.chat_member(fay, "left")
    await feed(f.chat_member_update(COMMUNITY, fay, f.chat_member(fay), left, date=T0 + 40))
    row = await membership(db, COMMUNITY["id"], 523)
    assert row is not None
    assert row.status == MemberStatus.ACTIVE
