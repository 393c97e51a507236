"""Alembic environment (async). The URL comes from, in order: `-x url=...`,
`sqlalchemy.url` set by the caller (bot start-up, tests), the bot's settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from alembic.autogenerate.api import AutogenContext
from pydantic import SecretStr
from sqlalchemy.engine import Connection

import bot.db.models  # noqa: F401 - registers every table on the metadata
from bot.db.base import Base, UtcDateTime
from bot.db.engine import create_engine
from bot.settings import DbSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from bot.settings import Settings

    return Settings().db.url.get_secret_value()


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | bool:
    """Migrations must not import app types: UtcDateTime is a plain aware DateTime."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=_render_item,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    # The bot's own engine factory: same SQLite pragmas, data/ directory created.
    engine = create_engine(DbSettings(url=SecretStr(_database_url())))
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
