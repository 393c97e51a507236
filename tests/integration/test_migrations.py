"""Migrations: the stairway (each revision up, down, up again) on PostgreSQL and SQLite,
and the models match what the migrations build (autogenerate finds nothing)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.db.base import Base
from bot.db.engine import create_engine
from bot.db.migrate import MIGRATIONS_DIR, alembic_config
from bot.settings import DbSettings
from tests.conftest import create_database, drop_database

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()))
]


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/stairway.sqlite3"
        return
    url = await create_database("bot_migrations")
    yield url
    await drop_database(url)


async def _alembic(url: str, action: str, revision: str) -> None:
    await asyncio.to_thread(getattr(command, action), alembic_config(url), revision)


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(username)); PostgreSQL checks them.
        warnings.filterwarnings("ignore", ".*expression-based index")
        return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_stairway_and_models_match_migrations(empty_db_url: str) -> None:
    for revision in REVISIONS:
        await _alembic(empty_db_url, "upgrade", revision)
        await _alembic(empty_db_url, "downgrade", "-1")
        await _alembic(empty_db_url, "upgrade", revision)

    engine = create_engine(DbSettings(url=SecretStr(empty_db_url)))
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)

        await _alembic(empty_db_url, "downgrade", "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
    finally:
        await engine.dispose()
