"""Whole tables, for backup and restore: every table the database has, read in key order
and written back, on PostgreSQL and SQLite alike.

Driven by reflection (what the database holds), not by the models: a backup taken at any
schema revision is complete, a table or column added by a later migration is covered
without a change here, and restore writes exactly the columns the target has at that
revision. Values cross this boundary as plain Python (aware UTC datetimes, decoded JSON,
str for enums), so a SQLite backup restores into PostgreSQL and back.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Column, MetaData, Table, exists, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Alembic's own bookkeeping: its revision is recorded in the backup's header instead.
ALEMBIC_TABLE = "alembic_version"


class ColumnKind(StrEnum):
    """How a column's values are written to a portable file (see services/backup.py)."""

    PLAIN = "plain"  # int, float, str, bool: JSON as they are
    DATETIME = "datetime"
    DATE = "date"
    TIME = "time"
    DECIMAL = "decimal"
    BYTES = "bytes"
    JSON = "json"


class UnsupportedColumnError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _kind(column: Column[Any]) -> ColumnKind:
    if isinstance(column.type, JSON):  # JSONB is a JSON too
        return ColumnKind.JSON
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = None
    # datetime before date: a datetime is a date.
    for cls, kind in (
        (datetime, ColumnKind.DATETIME),
        (date, ColumnKind.DATE),
        (time, ColumnKind.TIME),
        (Decimal, ColumnKind.DECIMAL),
        (bytes, ColumnKind.BYTES),
    ):
        if python_type is not None and issubclass(python_type, cls):
            return kind
    if python_type in (int, float, str, bool):
        return ColumnKind.PLAIN
    raise UnsupportedColumnError(
        f"column {column.table.name}.{column.name} has type {column.type!r}, which backups "
        "cannot write yet: teach bot/repositories/tables.py and services/backup.py about it"
    )


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(username)); rows don't need them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        metadata.reflect(connection)
    return metadata


class TableStore:
    """The tables of one database, inside one transaction (see `snapshot`, `writing`)."""

    def __init__(self, connection: AsyncConnection, metadata: MetaData) -> None:
        self.connection = connection
        self.metadata = metadata
        for table in metadata.tables.values():
            for column in table.columns:
                if isinstance(column.type, JSON):
                    # None is SQL NULL, not the JSON value null: the application tests
                    # these columns with IS NULL.
                    column.type.none_as_null = True

    # ------------------------------------------------------------------ transactions
    @classmethod
    @asynccontextmanager
    async def snapshot(cls, engine: AsyncEngine) -> AsyncIterator[TableStore]:
        """A read-only view of every table as of one moment, while the bot keeps writing:
        REPEATABLE READ on PostgreSQL (what pg_dump uses), one read transaction on SQLite
        (its WAL keeps the snapshot)."""
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                # The driver begins transactions only before writes; a read snapshot needs
                # an explicit BEGIN, so the driver's own handling is switched off.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("BEGIN")
                try:
                    yield await cls._open(connection)
                finally:
                    await connection.exec_driver_sql("ROLLBACK")
                return
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with connection.begin():
                yield await cls._open(connection)

    @classmethod
    @asynccontextmanager
    async def writing(cls, engine: AsyncEngine) -> AsyncIterator[TableStore]:
        """One transaction: committed when the block ends normally, rolled back (nothing
        written at all) when it raises."""
        async with engine.begin() as connection:
            yield await cls._open(connection)

    @classmethod
    async def _open(cls, connection: AsyncConnection) -> TableStore:
        return cls(connection, await connection.run_sync(_reflect))

    # ------------------------------------------------------------------ reading
    async def revision(self) -> str | None:
        """The schema revision alembic recorded (None: never migrated)."""

        def current(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        return await self.connection.run_sync(current)

    def tables(self) -> list[TableInfo]:
        """Every table but alembic's, parents before children (the order restore needs)."""
        return [
            TableInfo(table.name, tuple(ColumnInfo(c.name, _kind(c)) for c in table.columns))
            for table in self.metadata.sorted_tables
            if table.name != ALEMBIC_TABLE
        ]

    def _table(self, name: str) -> Table:
        return self.metadata.tables[name]

    async def stream(
        self, name: str, columns: Sequence[str], batch: int = 1000
    ) -> AsyncIterator[Sequence[Any]]:
        """The table's rows (values in the order of `columns`) in primary-key order, read
        `batch` at a time from a server-side cursor: memory stays bounded whatever the
        table's size."""
        table = self._table(name)
        order = list(table.primary_key.columns) or list(table.columns)
        stmt = select(*(table.c[c] for c in columns)).order_by(*order)
        result = await self.connection.stream(stmt)
        async for rows in result.partitions(batch):
            for row in rows:
                yield tuple(row)

    async def non_empty(self) -> list[str]:
        """The tables that hold at least one row."""
        names = [t.name for t in self.tables()]
        found = []
        for name in names:
            if await self.connection.scalar(select(exists().select_from(self._table(name)))):
                found.append(name)
        return found

    async def count(self, name: str) -> int:
        return int(
            await self.connection.scalar(select(func.count()).select_from(self._table(name))) or 0
        )

    # ------------------------------------------------------------------ writing
    async def clear(self) -> None:
        """Delete every row of every table (alembic's excepted)."""
        tables = [self._table(t.name) for t in self.tables()]
        if not tables:
            return
        if self.connection.dialect.name == "postgresql":
            names = ", ".join(
                self.connection.dialect.identifier_preparer.format_table(t) for t in tables
            )
            await self.connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
            return
        for table in reversed(tables):  # children first: foreign keys are enforced
            await self.connection.execute(table.delete())

    async def insert(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            await self.connection.execute(
                insert(self._table(name)), [dict(zip(columns, row, strict=True)) for row in rows]
            )

    async def reset_sequences(self) -> None:
        """After rows were inserted with their ids: PostgreSQL's serial/identity sequences
        continue after the highest id (SQLite's rowid does so by itself)."""
        if self.connection.dialect.name != "postgresql":
            return
        for table in self.metadata.sorted_tables:
            key = list(table.primary_key.columns)
            if len(key) != 1 or key[0].type.python_type is not int:
                continue
            sequence = await self.connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": key[0].name},
            )
            if sequence is None:
                continue
            highest = await self.connection.scalar(select(func.max(key[0])))
            # setval(seq, n, false): the next id handed out is n itself.
            await self.connection.execute(
                text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
                {"sequence": sequence, "next": int(highest or 0) + 1},
            )
