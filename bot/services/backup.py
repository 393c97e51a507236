"""Backup and restore of all domain data in one portable file (`python -m bot.admin
backup|restore`). The format is described for operators in docs/OPERATIONS.md.

A backup is gzip'd JSON lines, written and read as a stream (memory stays bounded for
tables of any size):

    {"format": "community-bot-backup", "version": 1, "schema_revision": ..., "tables": [...]}
    {"table": "users"}
    [row as an array, in the header's column order]
    ...
    {"end": "users", "rows": 1234, "sha256": "<of the table's row lines>"}
    ... every table, parents before children ...
    {"complete": true, "tables": 14, "rows": 56789}

Values are portable: datetimes as ISO 8601 in UTC, JSON columns as JSON, enums as their
strings; each row line is canonical JSON (sorted keys, no spaces), so the same data gives
the same lines, and checksums, from PostgreSQL and from SQLite.

Restore refuses what it cannot do faithfully before writing anything (a newer format, a
schema revision this code does not know, a non-empty target without `force`), then
writes every table in ONE transaction: a truncated or corrupted file, a checksum that
does not match or a constraint that fails leaves the target as it was.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.base import utcnow
from bot.db.migrate import current_revision, head_revision, known_revisions, upgrade_to
from bot.log import get_logger
from bot.repositories.tables import ColumnInfo, ColumnKind, TableInfo, TableStore

log = get_logger(__name__)

FORMAT = "community-bot-backup"
# Bump when a reader of the previous version could not read the new files; restore
# refuses files of a newer version than it knows.
FORMAT_VERSION = 1
_BATCH = 500


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TableSummary:
    name: str
    rows: int
    sha256: str


@dataclass(slots=True)
class BackupSummary:
    format_version: int
    schema_revision: str | None
    created_at: str
    source: str
    tables: list[TableSummary] = field(default_factory=list)
    # Restore only: the target was emptied first (force), and migrated after.
    replaced_data: bool = False
    upgraded_to: str | None = None

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


# ---------------------------------------------------------------------- value codecs
Encoder = Callable[[Any], Any]


def _encode_datetime(value: datetime) -> str:
    # SQLite hands back naive datetimes: the application stores UTC there.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _decode_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without a time zone: {value!r}")
    return parsed.astimezone(UTC)


_ENCODERS: dict[ColumnKind, Encoder] = {
    ColumnKind.PLAIN: lambda v: v,
    ColumnKind.JSON: lambda v: v,
    ColumnKind.DATETIME: _encode_datetime,
    ColumnKind.DATE: date.isoformat,
    ColumnKind.TIME: time.isoformat,
    ColumnKind.DECIMAL: str,
    ColumnKind.BYTES: lambda v: base64.b64encode(v).decode("ascii"),
}
_DECODERS: dict[ColumnKind, Encoder] = {
    ColumnKind.PLAIN: lambda v: v,
    ColumnKind.JSON: lambda v: v,
    ColumnKind.DATETIME: _decode_datetime,
    ColumnKind.DATE: date.fromisoformat,
    ColumnKind.TIME: time.fromisoformat,
    ColumnKind.DECIMAL: Decimal,
    ColumnKind.BYTES: base64.b64decode,
}


def _codec(table: TableInfo, codecs: dict[ColumnKind, Encoder]) -> Callable[[Any], list[Any]]:
    steps = [codecs[c.kind] for c in table.columns]

    def convert(row: Any) -> list[Any]:
        return [None if v is None else step(v) for step, v in zip(steps, row, strict=True)]

    return convert


def _line(value: Any) -> bytes:
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    ).encode("utf-8")


# ---------------------------------------------------------------------- the service
class BackupService:
    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url

    async def backup(self, out: IO[bytes]) -> BackupSummary:
        """Write every table to `out` (a binary stream: a file or stdout)."""
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6) as sink:
            async with TableStore.snapshot(self.engine) as store:
                # Columns in name order: the file does not depend on the order in which
                # migrations added them (which differs between a SQLite and a PostgreSQL
                # history of the same schema).
                tables = [
                    TableInfo(t.name, tuple(sorted(t.columns, key=_name))) for t in store.tables()
                ]
                summary = BackupSummary(
                    FORMAT_VERSION,
                    await store.revision(),
                    utcnow().isoformat(),
                    self.engine.dialect.name,
                )
                sink.write(
                    _line(
                        {
                            "format": FORMAT,
                            "version": FORMAT_VERSION,
                            "created_at": summary.created_at,
                            "schema_revision": summary.schema_revision,
                            "source": summary.source,
                            "tables": [
                                {"name": t.name, "columns": [[c.name, c.kind] for c in t.columns]}
                                for t in tables
                            ],
                        }
                    )
                )
                for table in tables:
                    encode = _codec(table, _ENCODERS)
                    digest, rows = hashlib.sha256(), 0
                    sink.write(_line({"table": table.name}))
                    async for row in store.stream(table.name, table.column_names):
                        line = _line(encode(row))
                        digest.update(line)
                        sink.write(line)
                        rows += 1
                    done = TableSummary(table.name, rows, digest.hexdigest())
                    sink.write(_line({"end": done.name, "rows": done.rows, "sha256": done.sha256}))
                    summary.tables.append(done)
            sink.write(_line({"complete": True, "tables": len(tables), "rows": summary.rows}))
        log.info("backup written", tables=len(summary.tables), rows=summary.rows)
        return summary

    @staticmethod
    async def inspect(source: IO[bytes]) -> BackupSummary:
        """Read a whole backup and check it (structure, counts, checksums); writes nothing."""
        reader = _Reader(source)
        summary = reader.summary()
        for table in reader.tables:
            for _ in reader.rows(table):
                pass
            summary.tables.append(reader.finish_table(table))
        reader.finish()
        return summary

    async def restore(self, source: IO[bytes], *, force: bool = False) -> BackupSummary:
        """Replace the target's data with the backup's. The target must be a database that
        was never migrated (it is migrated to the backup's revision first), or one at the
        backup's revision; it must be empty unless `force`."""
        reader = _Reader(source)
        summary = reader.summary()
        revision = summary.schema_revision
        await self._prepare_schema(revision)
        async with TableStore.writing(self.engine) as store:
            _check_tables(reader.tables, store.tables())
            filled = await store.non_empty()
            if filled and not force:
                raise BackupError(
                    "the target database is not empty (it has rows in "
                    f"{', '.join(filled)}): restore into an empty database, or pass "
                    "--force to replace all of its data"
                )
            if filled:
                await store.clear()
                summary.replaced_data = True
            for table in reader.tables:
                decode = _codec(table, _DECODERS)
                batch: list[list[Any]] = []
                for row in reader.rows(table):
                    batch.append(decode(row))
                    if len(batch) >= _BATCH:
                        await store.insert(table.name, table.column_names, batch)
                        batch = []
                await store.insert(table.name, table.column_names, batch)
                summary.tables.append(reader.finish_table(table))
            reader.finish()
            await store.reset_sequences()
        if revision != head_revision():
            await upgrade_to(self.url, "head")
            summary.upgraded_to = head_revision()
        log.info("backup restored", tables=len(summary.tables), rows=summary.rows)
        return summary

    async def _prepare_schema(self, revision: str | None) -> None:
        if revision not in known_revisions():
            raise BackupError(
                f"the backup was made at schema revision {revision}, which this version of "
                "the bot does not know (a newer release made it?): restore it with that "
                "release or a newer one"
            )
        current = await current_revision(self.engine)
        if current == revision:
            return
        if current is None:
            async with TableStore.snapshot(self.engine) as store:
                if store.tables():
                    raise BackupError(
                        "the target database has tables but no alembic revision: it is not "
                        "this bot's database; restore into an empty one"
                    )
            # A new database: the backup's schema first; restore upgrades it after.
            await upgrade_to(self.url, revision)
            return
        raise BackupError(
            f"the target database is at schema revision {current}, the backup at {revision}: "
            "restore into a new, empty database (it is migrated to the backup's revision, "
            "filled, then upgraded to the current one)"
        )


def _check_tables(backup: list[TableInfo], target: list[TableInfo]) -> None:
    here = {t.name: t for t in target}
    for table in backup:
        mine = here.get(table.name)
        if mine is None:
            raise BackupError(f"table {table.name} of the backup does not exist in the target")
        if sorted(mine.columns, key=_name) != sorted(table.columns, key=_name):
            raise BackupError(
                f"table {table.name} has other columns in the target than in the backup: "
                f"{_describe(mine.columns)} here, {_describe(table.columns)} in the backup"
            )
    missing = set(here) - {t.name for t in backup}
    if missing:
        raise BackupError(f"the backup has no data for the target's tables {sorted(missing)}")


def _name(column: ColumnInfo) -> str:
    return column.name


def _describe(columns: tuple[ColumnInfo, ...]) -> str:
    return ", ".join(f"{c.name}:{c.kind}" for c in sorted(columns, key=_name))


# ---------------------------------------------------------------------- reading a file
class _Reader:
    """Walks a backup line by line, checking its structure as it goes."""

    def __init__(self, source: IO[bytes]) -> None:
        self._lines = self._read(source)
        self._line_no = 0
        self._digest = hashlib.sha256()
        self._rows = 0
        self._total = 0
        self._pending_end: Any = None  # the line that ended the last table's rows
        self.header = self._header()
        self.tables = [
            TableInfo(
                t["name"], tuple(ColumnInfo(name, ColumnKind(kind)) for name, kind in t["columns"])
            )
            for t in self.header["tables"]
        ]

    def _read(self, source: IO[bytes]) -> Iterator[bytes]:
        try:
            with gzip.GzipFile(fileobj=source, mode="rb") as lines:
                yield from lines
        except (gzip.BadGzipFile, EOFError, OSError) as exc:
            raise BackupError(f"not a readable backup file (gzip): {exc}") from None

    def _next(self) -> tuple[bytes, Any]:
        try:
            raw = next(self._lines)
        except StopIteration:
            raise BackupError(
                f"the backup ends after line {self._line_no}: the file is truncated"
            ) from None
        self._line_no += 1
        try:
            return raw, json.loads(raw)
        except ValueError:
            raise BackupError(f"line {self._line_no} of the backup is not JSON") from None

    def _header(self) -> dict[str, Any]:
        _, header = self._next()
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BackupError(f"not a {FORMAT} file")
        version = header.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BackupError(
                f"the backup's format version {version} is newer than this version of the "
                f"bot reads ({FORMAT_VERSION}): restore it with a newer release"
            )
        return header

    def summary(self) -> BackupSummary:
        h = self.header
        return BackupSummary(h["version"], h["schema_revision"], h["created_at"], h["source"])

    def _expect(self, what: str, value: Any) -> None:
        _, line = self._next()
        if not isinstance(line, dict) or line.get(what) != value:
            raise BackupError(
                f"line {self._line_no} of the backup: expected {what} {value!r}, found {line!r}"
            )

    def rows(self, table: TableInfo) -> Iterator[list[Any]]:
        """The table's rows; the end marker is left for `finish_table`."""
        self._expect("table", table.name)
        self._digest, self._rows = hashlib.sha256(), 0
        width = len(table.columns)
        while True:
            raw, row = self._next()
            if not isinstance(row, list):
                self._pending_end = row
                return
            if len(row) != width:
                raise BackupError(
                    f"line {self._line_no}: {len(row)} values for {width} columns of {table.name}"
                )
            self._digest.update(raw)
            self._rows += 1
            yield row

    def finish_table(self, table: TableInfo) -> TableSummary:
        end = self._pending_end
        if not isinstance(end, dict) or end.get("end") != table.name:
            raise BackupError(f"line {self._line_no}: the end of table {table.name} is missing")
        summary = TableSummary(table.name, self._rows, self._digest.hexdigest())
        if end.get("rows") != summary.rows or end.get("sha256") != summary.sha256:
            raise BackupError(
                f"table {table.name} does not match its checksum ({summary.rows} rows read, "
                f"{end.get('rows')} written): the file is damaged"
            )
        self._total += summary.rows
        return summary

    def finish(self) -> None:
        _, line = self._next()
        if not isinstance(line, dict) or line.get("complete") is not True:
            raise BackupError(f"line {self._line_no}: expected the end of the backup")
        if line.get("rows") != self._total or line.get("tables") != len(self.tables):
            raise BackupError("the backup's closing line does not match its tables")
        for _ in self._lines:
            raise BackupError(f"unexpected data after line {self._line_no} of the backup")
