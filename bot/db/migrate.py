"""Programmatic alembic: upgrade to head at start-up, or refuse to run on an old schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent


class SchemaOutdatedError(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # `%` would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def known_revisions() -> list[str]:
    """Every revision this code has, oldest first."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()
    return [script.revision for script in reversed(list(scripts))]


async def upgrade_to_head(url: str) -> None:
    await upgrade_to(url, "head")


async def upgrade_to(url: str, revision: str) -> None:
    # env.py runs its own event loop, so alembic goes to a thread.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def ensure_schema(engine: AsyncEngine, url: str, *, migrate: bool) -> None:
    head = head_revision()
    if await current_revision(engine) == head:
        return
    if not migrate:
        raise SchemaOutdatedError(
            f"database schema is not at revision {head}: run `alembic upgrade head`"
        )
    await upgrade_to_head(url)
