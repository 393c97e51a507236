"""`import-legacy`: a legacy database with every documented quirk, built here with the
stdlib's sqlite3, imported into PostgreSQL and SQLite; the dry run writes nothing and
predicts the import; a second import changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import Base, utcnow
from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import ApplicationStatus, MemberRole, MemberStatus
from bot.db.models import (
    Application,
    ApplicationAnswer,
    ApplicationEvent,
    Chat,
    KarmaTotal,
    LegacyImport,
    Membership,
    User,
)
from bot.settings import DbSettings
from tests.integration.admin.conftest import Invoke, ops_settings

CHAT = -1_001_999_000_111

LEGACY_SCHEMA = """
CREATE TABLE profiles (
    user_id INTEGER PRIMARY KEY, username TEXT, first_name TEXT, last_name TEXT,
    language TEXT, karma INTEGER, created_at TEXT
);
CREATE TABLE roster (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, username TEXT, full_name TEXT,
    role TEXT, status TEXT, joined_at TEXT
);
CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, answers TEXT, status TEXT,
    reviewer_id INTEGER, reason TEXT, created_at TEXT, decided_at TEXT
);
CREATE TABLE settings (key TEXT, value TEXT);
"""
PROFILES = [
    (1001, "@Alice_A", "Alice", "Smith", "en", 12, "2023-05-01 10:00:00"),
    (1002, "bob", "Bob", None, "ru", None, "01.06.2023 12:30"),  # NULL karma; day first
    (1003, "", None, None, None, -3, "1685620800"),  # no name; Unix time as text
    (1004, "https://t.me/carol", "Carol", "", None, 0, "2023-06-02T08:00:00Z"),
    (1005, "bad name!", "Dan", None, None, "lots", "yesterday"),
    (1006, "@eve", "Eve", None, None, 5, 1_685_620_800_123),  # milliseconds
    (0, "ghost", "Ghost", None, None, 1, None),  # not a user id
]
ROSTER = [
    # Seeded at every start-up: Alice three times.
    (1, 1001, "@alice_a", "Alice Smith", "member", "member", "2023-05-01 10:05:00"),
    (2, 1001, "alice_a", "Alice Smith", "member", "active", "2023-04-30 09:00:00"),
    (3, None, "@bob", None, None, "member", None),  # placeholder, matched by username
    (4, 0, "@nobody", None, None, "member", None),  # placeholder, no match
    (5, 1007, "frank", "Frank Ocean", None, "kicked", "15.07.2023"),  # no profile
    (6, 1003, None, None, None, "Left", "2023-06-03"),
    (7, 1004, None, None, "moderator", "weird", None),
    (8, 1001, "@alice_a", "Alice Smith", "admin", "active", "2023-05-01 10:05:00"),
]
APPLICATIONS = [
    (
        1,
        1002,
        json.dumps([{"question": "Who?", "answer": "Bob"}, {"question": "Why?", "answer": "fun"}]),
        "Approved",
        1001,
        None,
        "2023-06-01 12:00",
        "2023-06-02 12:00",
    ),
    (
        2,
        1003,
        '["first answer", "second"]',
        "declined",
        1001,
        "spam",
        "02.06.2023 10:00",
        "03.06.2023 10:00",
    ),
    (3, 1005, "plain text application", "new", None, None, "2023-07-01", None),
    (4, 1005, '{"Who?": "Dan", "Age?": 30}', "pending", None, None, "2023-07-02", None),
    (5, 1008, None, "ban", 1001, "troll", "2023-07-03", "2023-07-03"),  # no profile
    (6, 1006, None, "maybe", None, None, None, None),  # status not understood
    (7, None, None, "new", None, None, None, None),  # no user
    (8, 1006, "[]", "draft", None, None, "2023-07-04", None),
]


def build_legacy(path: Path) -> Path:
    connection = sqlite3.connect(path)
    with connection:
        connection.executescript(LEGACY_SCHEMA)
        connection.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?, ?, ?, ?)", PROFILES)
        connection.executemany("INSERT INTO roster VALUES (?, ?, ?, ?, ?, ?, ?)", ROSTER)
        connection.executemany(
            "INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?, ?)", APPLICATIONS
        )
        connection.execute("INSERT INTO settings VALUES ('fix_karma_null', 'done')")
    connection.close()
    return path


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(DbSettings(url=SecretStr(sqlite_url)))
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def target(request: pytest.FixtureRequest) -> tuple[str, async_sessionmaker[AsyncSession]]:
    """A migrated, empty database of each kind, and sessions on it."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url"), request.getfixturevalue("db")
    return request.getfixturevalue("sqlite_url"), request.getfixturevalue("sqlite_sessions")


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            t.name: int(await session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def by_table(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["table"]: t for t in report["tables"]}


async def seed_live_data(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What the new bot wrote before the import: newer than the legacy file."""
    now = utcnow()
    async with sessions() as session:
        session.add(
            Chat(id=CHAT, type="supergroup", title="Community", created_at=now, updated_at=now)
        )
        session.add(User(id=1001, first_name="Alice (new)", created_at=now, updated_at=now))
        await session.flush()
        session.add(Membership(chat_id=CHAT, user_id=1001, created_at=now, updated_at=now))
        session.add(KarmaTotal(chat_id=CHAT, user_id=1001, karma=2.0, updated_at=now))
        await session.commit()


async def test_import_with_every_quirk_dry_run_first_then_idempotent(
    target: tuple[str, async_sessionmaker[AsyncSession]], run_cli: Invoke, tmp_path: Path
) -> None:
    url, sessions = target
    legacy = build_legacy(tmp_path / "legacy.sqlite3")
    settings = ops_settings(url, community={"chat_id": CHAT})
    await seed_live_data(sessions)
    before = await counts(sessions)

    dry = await run_cli(settings, "import-legacy", str(legacy), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert await counts(sessions) == before  # nothing written
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["ignored_tables"] == ["settings"]
    assert planned["writes"] == {
        "users": 7,  # 6 profiles + Frank (roster) + 1008 (applicant), less Alice (known)
        "memberships": 4,  # Alice is a member already
        "karma_totals": 3,
        "applications": 6,
        "application_answers": 7,
    }
    tables = by_table(planned)
    assert {k: tables["profiles"][k] for k in ("read", "new", "existing", "skipped")} == {
        "read": 7,
        "new": 5,
        "existing": 1,
        "skipped": 1,
    }
    assert {k: tables["roster"][k] for k in ("read", "new", "existing", "skipped")} == {
        "read": 8,
        "new": 4,
        "existing": 1,
        "skipped": 1,
    }
    assert {k: tables["applications"][k] for k in ("read", "new", "existing", "skipped")} == {
        "read": 8,
        "new": 6,
        "existing": 0,
        "skipped": 2,
    }
    problems = "\n".join(p for t in planned["tables"] for p in t["problems"])
    for expected in [
        "1 profiles with NULL karma read as 0 (fix_karma_null)",
        "row 1003: no first name; stored as '—'",
        "row 1005: username 'bad name!' is not a Telegram username; dropped",
        "row 1005: karma 'lots' is not a number; read as 0",
        "row 1005: created_at: unreadable timestamp 'yesterday'; left empty",
        "row 0: skipped: no Telegram user id",
        "user 1001: rows 1, 2, 8 merged (duplicates)",
        "row 3: placeholder @bob matched user 1002",
        "row 4: skipped: placeholder without a Telegram id (@nobody is in no profile)",
        "row 7: status 'weird' not understood; read as active",
        "row 6: skipped: status 'maybe' not understood",
        "row 7: skipped: user id None is not a user",
        "row 8: unfinished ('draft'): imported as expired",
        "row 3: user 1005 has a newer open application; imported as expired",
        "row 5: applicant 1008 has no profile; user stored without a name",
    ]:
        assert expected in problems

    done = await run_cli(settings, "import-legacy", str(legacy), "--json")
    assert done.exit_code == 0, done.output
    imported = json.loads(done.stdout)
    assert imported["writes"] == planned["writes"]
    assert imported["tables"] == planned["tables"]  # the dry run told the truth
    assert any(e.get("event") == "legacy data imported" for e in done.logs)  # type: ignore[attr-defined]
    after = await counts(sessions)

    async with sessions() as session:
        users = {u.id: u for u in await session.scalars(select(User))}
        assert users[1001].first_name == "Alice (new)"  # the bot's newer data stays
        assert (users[1002].username, users[1002].language_code) == ("bob", "ru")
        assert users[1002].created_at == datetime(2023, 6, 1, 12, 30, tzinfo=UTC)
        assert (users[1003].first_name, users[1003].username) == ("—", None)
        assert users[1003].created_at == datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
        assert (users[1004].username, users[1004].last_name) == ("carol", None)
        assert users[1005].username is None
        assert users[1006].created_at == datetime(2023, 6, 1, 12, 0, 0, 123_000, tzinfo=UTC)
        assert (users[1007].first_name, users[1007].last_name) == ("Frank", "Ocean")
        assert users[1008].first_name == "—"
        assert 0 not in users

        members = {
            m.user_id: m
            for m in await session.scalars(select(Membership).where(Membership.chat_id == CHAT))
        }
        assert set(members) == {1001, 1002, 1003, 1004, 1007}
        assert (members[1001].role, members[1001].joined_at) == (MemberRole.MEMBER, None)
        assert (members[1002].status, members[1002].role) == (
            MemberStatus.ACTIVE,
            MemberRole.MEMBER,
        )
        assert members[1003].status == MemberStatus.LEFT
        assert (members[1004].status, members[1004].role) == (
            MemberStatus.ACTIVE,
            MemberRole.MODERATOR,
        )
        assert members[1007].status == MemberStatus.BANNED
        assert members[1007].joined_at == datetime(2023, 7, 15, tzinfo=UTC)

        karma = {
            k.user_id: k.karma
            for k in await session.scalars(select(KarmaTotal).where(KarmaTotal.chat_id == CHAT))
        }
        assert karma == {1001: 14.0, 1003: -3.0, 1006: 5.0}  # Alice: 2 earned here + 12

        apps = {
            e.details["legacy_id"]: (a, e)
            for a, e in await session.execute(
                select(Application, ApplicationEvent).join(
                    ApplicationEvent, ApplicationEvent.application_id == Application.id
                )
            )
        }
        assert {k: a.status for k, (a, _) in apps.items()} == {
            1: ApplicationStatus.APPROVED,
            2: ApplicationStatus.REJECTED,
            3: ApplicationStatus.EXPIRED,
            4: ApplicationStatus.PENDING,
            5: ApplicationStatus.BANNED,
            8: ApplicationStatus.EXPIRED,
        }
        approved, event = apps[1]
        assert (approved.decided_by, approved.chat_id) == (1001, CHAT)
        assert approved.decided_at == datetime(2023, 6, 2, 12, tzinfo=UTC)
        assert (event.action, event.details["legacy_status"]) == ("imported", "Approved")
        pending = apps[4][0]
        assert pending.expires_at is not None
        assert pending.expires_at > utcnow()
        assert apps[2][0].reason == "spam"
        answers = {
            (a.application_id, a.position): (a.question, a.answer)
            for a in await session.scalars(select(ApplicationAnswer))
        }
        assert answers[(approved.id, 1)] == ("Why?", "fun")
        assert answers[(apps[2][0].id, 0)] == ("Question 1", "first answer")
        assert answers[(apps[3][0].id, 0)] == ("Application", "plain text application")
        assert answers[(pending.id, 1)] == ("Age?", "30")
        mapped = {
            (m.source, m.legacy_id): m.target_id
            for m in await session.scalars(select(LegacyImport))
        }
        assert mapped[("applications", 4)] == pending.id
        assert mapped[("profiles.karma", 1001)] == 1001

    again = await run_cli(settings, "import-legacy", str(legacy), "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert set(second["writes"].values()) == {0}
    tables = by_table(second)
    assert (tables["profiles"]["new"], tables["profiles"]["existing"]) == (0, 6)
    assert (tables["roster"]["new"], tables["roster"]["existing"]) == (0, 5)
    assert (tables["applications"]["new"], tables["applications"]["existing"]) == (0, 6)
    assert await counts(sessions) == after
    async with sessions() as session:
        assert (
            await session.scalar(
                select(KarmaTotal.karma).where(
                    KarmaTotal.chat_id == CHAT, KarmaTotal.user_id == 1001
                )
            )
            == 14.0
        )


async def test_human_output_lists_counts_and_problems(
    sqlite_url: str,
    sqlite_sessions: async_sessionmaker[AsyncSession],
    run_cli: Invoke,
    tmp_path: Path,
) -> None:
    legacy = build_legacy(tmp_path / "legacy.sqlite3")
    result = await run_cli(
        ops_settings(sqlite_url), "import-legacy", str(legacy), "--dry-run", "--chat-id", str(CHAT)
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"legacy import into chat {CHAT} (dry run, nothing written)"
    assert lines[1].split() == ["legacy", "table", "read", "new", "existing", "skipped", "problems"]
    assert lines[3].split()[:6] == ["profiles", "7", "6", "0", "1", "6"]
    assert "would write: users 8, memberships 5, karma_totals 3" in result.stdout
    assert "  roster: user 1001: rows 1, 2, 8 merged (duplicates)" in lines
    async with sqlite_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_refuses_what_is_not_a_legacy_database(
    sqlite_url: str, run_cli: Invoke, tmp_path: Path
) -> None:
    settings = ops_settings(sqlite_url, community={"chat_id": CHAT})
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database at all, just some words " * 20)
    result = await run_cli(settings, "import-legacy", str(text_file))
    assert result.exit_code == 1
    assert "is not a SQLite database" in result.stderr

    other = tmp_path / "other.sqlite3"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE things (id INTEGER)")
    connection.commit()
    connection.close()
    result = await run_cli(settings, "import-legacy", str(other))
    assert result.exit_code == 1
    assert "has none of the legacy tables" in result.stderr

    no_chat = await run_cli(ops_settings(sqlite_url), "import-legacy", str(other))
    assert no_chat.exit_code == 2
    assert "set COMMUNITY__CHAT_ID or pass --chat-id" in no_chat.stderr
