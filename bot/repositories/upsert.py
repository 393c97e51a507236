"""INSERT ... ON CONFLICT DO UPDATE for PostgreSQL and SQLite alike.

The statements are built once per shape (model, dialect, columns) with bound parameters
and reused: constructing them is most of what an upsert costs in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, bindparam, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

_SAME = "same_"  # prefix of the parameters compared by `unless_same`


async def upsert(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    *,
    conflict: Iterable[str],
    update: Iterable[str],
    unless_same: Iterable[str] = (),
) -> None:
    """Insert `values`, or update the `update` columns of the row that conflicts.

    With `unless_same`, nothing at all is written when a row at the conflict key already
    has these values: no update and, on PostgreSQL, no row lock held to the end of the
    transaction (ON CONFLICT DO UPDATE locks the row even when its WHERE is false). Hot
    rows (a busy chat, a popular member) then stop serialising unrelated transactions.
    """
    same = tuple(unless_same)
    stmt = _upsert_statement(
        model, _dialect(session), tuple(values), tuple(conflict), tuple(update), same
    )
    params = dict(values)
    params.update({f"{_SAME}{k}": values[k] for k in (*conflict, *same)})
    await session.execute(stmt, params)


async def increment(
    session: AsyncSession,
    model: type[DeclarativeBase],
    key: Mapping[str, Any],
    column: str,
    delta: float,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Atomically add `delta` to `column` of the row at `key`, creating it with `delta`.

    One statement, `INSERT ... ON CONFLICT (key) DO UPDATE SET column = table.column + delta`,
    so concurrent increments never lose an update. `extra` columns are set on both paths.
    Returns the column's new value.
    """
    extra = dict(extra or {})
    stmt = _increment_statement(model, _dialect(session), tuple(key), column, tuple(extra))
    result = await session.execute(stmt, {**key, **extra, column: delta})
    return result.scalar_one()


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(model: type[DeclarativeBase], dialect: str) -> Any:
    # On the Table, not the class: a Core statement, so executing it with a parameter
    # dict is one plain INSERT rather than an ORM bulk insert.
    table: Any = model.__table__
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@lru_cache(maxsize=64)
def _upsert_statement(
    model: type[DeclarativeBase],
    dialect: str,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    same: tuple[str, ...],
) -> Executable:
    table = model.__table__
    stmt = _insert(model, dialect)
    params = {k: bindparam(k, type_=table.c[k].type) for k in columns}
    if same:
        unchanged = exists().where(
            *(table.c[k] == bindparam(f"{_SAME}{k}", type_=table.c[k].type) for k in conflict),
            *(
                table.c[k].is_not_distinct_from(bindparam(f"{_SAME}{k}", type_=table.c[k].type))
                for k in same
            ),
        )
        row = select(*(params[k].label(k) for k in columns)).where(~unchanged)
        stmt = stmt.from_select(list(columns), row)
    else:
        stmt = stmt.values(params)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(conflict),
        set_={name: stmt.excluded[name] for name in update},
    )


@lru_cache(maxsize=64)
def _increment_statement(
    model: type[DeclarativeBase],
    dialect: str,
    key: tuple[str, ...],
    column: str,
    extra: tuple[str, ...],
) -> Executable:
    table = model.__table__
    stmt = _insert(model, dialect).values(
        {k: bindparam(k, type_=table.c[k].type) for k in (*key, *extra, column)}
    )
    target = table.c[column]
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(key),
        set_={column: target + stmt.excluded[column], **{n: stmt.excluded[n] for n in extra}},
    ).returning(target)
