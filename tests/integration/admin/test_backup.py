"""`backup` / `restore`: every table, both databases, both directions; refusals that
write nothing; bounded memory for big tables."""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from bot.db.base import Base, utcnow
from bot.db.migrate import current_revision, head_revision, known_revisions, upgrade_to
from bot.db.models import (
    ApplicationEvent,
    Chat,
    KarmaMessageAuthor,
    Moderator,
    TranscriptionJob,
    User,
)
from bot.services.backup import FORMAT_VERSION, BackupService
from tests.integration.admin.conftest import Databases, Invoke, ops_settings
from tests.integration.admin.data import CHAT, ZOE, populate

PAIRS = [
    ("postgresql", "postgresql"),
    ("postgresql", "sqlite"),
    ("sqlite", "postgresql"),
    ("sqlite", "sqlite"),
]


def read_lines(path: Path) -> list[Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def content(path: Path) -> list[str]:
    """The backup's lines, less what names the moment and the source of the copy."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    header = json.loads(lines[0])
    del header["created_at"], header["source"]
    return [json.dumps(header, sort_keys=True), *lines[1:]]


def row_counts(path: Path) -> dict[str, int]:
    return {line["end"]: line["rows"] for line in read_lines(path) if "end" in line}


async def migrated(databases: Databases, kind: str) -> str:
    url = await databases.blank(kind)
    await upgrade_to(url, "head")
    return url


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
async def test_backup_restore_backup_gives_the_same_content(
    databases: Databases, run_cli: Invoke, tmp_path: Path, source_kind: str, target_kind: str
) -> None:
    source = await migrated(databases, source_kind)
    await populate(databases.sessions(source))
    first, second = tmp_path / "first.jsonl.gz", tmp_path / "second.jsonl.gz"

    done = await run_cli(ops_settings(source), "backup", str(first))
    assert done.exit_code == 0, done.output
    assert f"backup written: {len(Base.metadata.tables)} tables" in done.stdout
    assert first.stat().st_mode & 0o777 == 0o600  # personal data: owner only
    assert not [name for name in os.listdir(tmp_path) if "partial" in name]

    target = await databases.blank(target_kind)  # never migrated: restore migrates it
    restored = await run_cli(ops_settings(target), "restore", str(first))
    assert restored.exit_code == 0, restored.output
    again = await run_cli(ops_settings(target), "backup", str(second))
    assert again.exit_code == 0, again.output

    assert content(first) == content(second)
    counts = row_counts(first)
    assert set(counts) == set(Base.metadata.tables)
    untested = sorted(t for t in Base.metadata.tables if counts[t] == 0)
    assert not untested, f"add rows of {untested} to tests/integration/admin/data.py"

    engine = databases.engine(target)
    assert await current_revision(engine) == head_revision()
    async with databases.sessions(target)() as session:
        # SQL NULL stayed SQL NULL (the application tests JSON columns with IS NULL).
        assert await session.scalar(
            select(func.count()).where(
                TranscriptionJob.id == 21, TranscriptionJob.segments.is_(None)
            )
        )
        job = await session.get(TranscriptionJob, 20)
        assert job is not None
        assert job.segments is not None
        assert job.segments[1]["p"] == 0.1 + 0.2
        assert job.received_at.microsecond == 890_123
        user = await session.get(User, ZOE)
        assert user is not None
        assert user.first_name == 'Zoë 🎙️ "quoted"\nline'
        # Ids go on after the restored ones (PostgreSQL sequences were set).
        new_id = await session.scalar(
            insert(ApplicationEvent)
            .values(application_id=30, action="noted", created_at=utcnow())
            .returning(ApplicationEvent.id)
        )
        assert new_id == 52
        await session.commit()


async def test_restore_refuses_a_database_with_data_unless_forced(
    databases: Databases, run_cli: Invoke, tmp_path: Path
) -> None:
    source = await migrated(databases, "sqlite")
    await populate(databases.sessions(source))
    file = tmp_path / "b.gz"
    assert (await run_cli(ops_settings(source), "backup", str(file))).exit_code == 0

    target = await migrated(databases, "postgresql")
    sessions = databases.sessions(target)
    async with sessions() as session:
        session.add(Moderator(user_id=1, added_by="other", created_at=utcnow()))
        await session.commit()

    refused = await run_cli(ops_settings(target), "restore", str(file))
    assert refused.exit_code == 1
    assert "not empty (it has rows in moderators)" in refused.stderr
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0

    forced = await run_cli(ops_settings(target), "restore", "--force", "--json", str(file))
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.stdout)
    assert report["replaced_data"] is True
    async with sessions() as session:
        assert list(await session.scalars(select(Moderator.user_id))) == [ZOE]


async def test_a_damaged_or_foreign_file_writes_nothing(
    databases: Databases, run_cli: Invoke, tmp_path: Path
) -> None:
    source = await migrated(databases, "postgresql")
    await populate(databases.sessions(source))
    good = tmp_path / "good.gz"
    assert (await run_cli(ops_settings(source), "backup", str(good))).exit_code == 0
    lines = gzip.decompress(good.read_bytes()).decode().splitlines(keepends=True)

    # One value changed in the last table: its checksum no longer matches.
    tampered = tmp_path / "tampered.gz"
    row = next(i for i, line in enumerate(lines) if "not now; try again".lower() in line.lower())
    lines_t = [*lines]
    lines_t[row] = lines_t[row].replace("a month", "a week")
    tampered.write_bytes(gzip.compress("".join(lines_t).encode()))
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(gzip.compress("".join(lines[:-3]).encode()))
    not_gzip = tmp_path / "plain.txt"
    not_gzip.write_text("hello")

    target = await databases.blank("postgresql")
    for file, message in [
        (tampered, "does not match its checksum"),
        (truncated, "truncated"),
        (not_gzip, "not a readable backup file"),
    ]:
        result = await run_cli(ops_settings(target), "restore", str(file))
        assert result.exit_code == 1, result.output
        assert message in result.stderr
        checked = await run_cli(ops_settings(target), "restore", "--check", str(file))
        assert checked.exit_code == 1
    async with databases.sessions(target)() as session:
        for table in Base.metadata.sorted_tables:
            assert await session.scalar(select(func.count()).select_from(table)) == 0

    verified = await run_cli(ops_settings(target), "restore", "--check", "--json", str(good))
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["rows"] == sum(row_counts(good).values())


async def test_restore_refuses_newer_formats_and_unknown_schemas(
    databases: Databases, run_cli: Invoke, tmp_path: Path
) -> None:
    source = await migrated(databases, "sqlite")
    file = tmp_path / "b.gz"
    assert (await run_cli(ops_settings(source), "backup", str(file))).exit_code == 0
    lines = gzip.decompress(file.read_bytes()).decode().splitlines(keepends=True)
    header = json.loads(lines[0])
    target = await databases.blank("sqlite")

    for change, message in [
        ({"version": FORMAT_VERSION + 1}, f"format version {FORMAT_VERSION + 1} is newer"),
        ({"schema_revision": "ffffffffffff"}, "schema revision ffffffffffff, which this version"),
        ({"format": "something-else"}, "not a community-bot-backup file"),
    ]:
        edited = tmp_path / "edited.gz"
        edited.write_bytes(
            gzip.compress((json.dumps({**header, **change}) + "\n" + "".join(lines[1:])).encode())
        )
        result = await run_cli(ops_settings(target), "restore", str(edited))
        assert result.exit_code == 1
        assert message in result.stderr
    assert await current_revision(databases.engine(target)) is None  # not even migrated


async def test_a_backup_of_an_older_schema_is_restored_then_upgraded(
    databases: Databases, run_cli: Invoke, tmp_path: Path
) -> None:
    """Last month's backup after an upgrade: the new database is built at the backup's
    revision, filled, then migrated to the current one."""
    older = known_revisions()[-3]
    source = await databases.blank("sqlite")
    await upgrade_to(source, older)
    async with databases.engine(source).begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (id, is_bot, first_name, created_at, updated_at) "
                "VALUES (42, 0, 'Old', '2025-01-02 03:04:05.000000', '2025-01-02 03:04:05.000000')"
            )
        )
    file = tmp_path / "old.gz"
    assert (await run_cli(ops_settings(source), "backup", str(file))).exit_code == 0
    assert read_lines(file)[0]["schema_revision"] == older

    target = await databases.blank("postgresql")
    result = await run_cli(ops_settings(target), "restore", str(file))
    assert result.exit_code == 0, result.output
    assert f"then migrated to schema revision {head_revision()}" in result.stdout
    assert await current_revision(databases.engine(target)) == head_revision()
    async with databases.sessions(target)() as session:
        user = await session.get(User, 42)
        assert user is not None
        assert user.first_name == "Old"
        assert user.created_at.isoformat() == "2025-01-02T03:04:05+00:00"

    # A database already at another revision is not touched.
    at_head = await migrated(databases, "sqlite")
    refused = await run_cli(ops_settings(at_head), "restore", str(file))
    assert refused.exit_code == 1
    assert "restore into a new, empty database" in refused.stderr


async def test_backup_to_stdout_and_restore_from_stdin(
    databases: Databases, run_cli: Invoke
) -> None:
    source = await migrated(databases, "sqlite")
    await populate(databases.sessions(source))
    dumped = await run_cli(ops_settings(source), "backup", "-")
    assert dumped.exit_code == 0, dumped.stderr
    assert "backup written" in dumped.stderr  # the report stays off the data stream
    target = await databases.blank("sqlite")
    loaded = await run_cli(ops_settings(target), "restore", "-", input=dumped.stdout_bytes)
    assert loaded.exit_code == 0, loaded.output
    async with databases.sessions(target)() as session:
        assert await session.get(Chat, CHAT) is not None


async def _fill_authors(databases: Databases, url: str, start: int, count: int) -> None:
    async with databases.sessions(url)() as session:
        if start == 0:
            session.add(User(id=1, first_name="A", created_at=utcnow(), updated_at=utcnow()))
            session.add(Chat(id=-1, type="supergroup", created_at=utcnow(), updated_at=utcnow()))
            await session.flush()
        now = utcnow()
        rows = [
            {"chat_id": -1, "message_id": i, "user_id": 1, "created_at": now}
            for i in range(start, start + count)
        ]
        for i in range(0, len(rows), 5000):
            await session.execute(insert(KarmaMessageAuthor), rows[i : i + 5000])
        await session.commit()


async def _peak_of_backup(databases: Databases, url: str, path: Path) -> int:
    service = BackupService(databases.engine(url), url)
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            await service.backup(out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_memory_stays_bounded_as_a_table_grows(databases: Databases, tmp_path: Path) -> None:
    """Streamed table by table, batch by batch: three times the rows must not take three
    times the memory (a backup that loaded a table whole would)."""
    url = await migrated(databases, "postgresql")
    await _fill_authors(databases, url, 0, 20_000)
    small = await _peak_of_backup(databases, url, tmp_path / "small.gz")
    await _fill_authors(databases, url, 20_000, 40_000)
    large = await _peak_of_backup(databases, url, tmp_path / "large.gz")
    assert row_counts(tmp_path / "large.gz")["karma_message_authors"] == 60_000
    assert large < small * 1.5, (small, large)
