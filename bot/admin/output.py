"""Rendering for the ops CLI: aligned text tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import IO, Any

import click


def plain(value: Any) -> Any:
    """JSON-ready copy of DTOs, enums and datetimes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def emit_json(value: Any, file: IO[str] | None = None) -> None:
    click.echo(json.dumps(plain(value), ensure_ascii=False, indent=2, sort_keys=True), file=file)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], file: IO[str] | None = None
) -> None:
    """Columns padded to their widest cell; numbers right-aligned."""
    raw = [list(row) for row in rows]
    body = [[cell(v) for v in row] for row in raw]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        bool(raw) and all(isinstance(r[i], int | float) or r[i] is None for r in raw)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    click.echo(line(list(headers)), file=file)
    click.echo(line(["-" * w for w in widths]), file=file)
    for row in body:
        click.echo(line(row), file=file)
