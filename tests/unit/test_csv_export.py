"""The /members CSV is inert in spreadsheets: every field quoted, and a formula trigger
(= + - @ tab CR) neutralised with ' wherever a spreadsheet may start a cell, including
after a ; or , inside a field (a spreadsheet that splits on ; opens "Bob;=1+2" as the
cells "Bob" and "=1+2")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from bot.db.enums import MemberRole, MemberStatus
from bot.repositories.roster import MemberRow
from bot.telegram.roster.views import csv_cell, members_csv_text

TRIGGERS = "=+-@\t\r"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("Bob;=1+2", "Bob;'=1+2"),
        ("Bob,=1+2", "Bob,'=1+2"),
        ("Bob; =1+2", "Bob; '=1+2"),
        ("Bob|+1", "Bob|'+1"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a\n=b", "a\n'=b"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("Jean-Luc", "Jean-Luc"),  # a hyphen inside a word starts no cell
        ("Ann", "Ann"),
        ("-3.5", "-3.5"),  # a plain number is no formula
        (-3.5, "-3.5"),
        (None, ""),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00+00:00"),
    ],
)
def test_cells(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def _row(first_name: str, last_name: str | None, username: str | None) -> MemberRow:
    return MemberRow(
        user_id=1,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language="en",
        language_code="en",
        is_bot=False,
        is_premium=None,
        role=MemberRole.MEMBER,
        status=MemberStatus.ACTIVE,
        joined_at=None,
        left_at=None,
        last_seen_at=None,
        karma=-2.0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_no_cell_starts_a_formula_whatever_a_spreadsheet_splits_on(delimiter: str) -> None:
    rows = [_row("Bob;=1+2", "x,@SUM(1)", "u\t+1"), _row("=2*3", "a|-1+1", None)]
    data = members_csv_text(rows)
    # Every field is quoted.
    for line in data.splitlines()[1:]:
        assert line.startswith('"')
        assert line.endswith('"')
    # Read back as written: the values carry the ' where a cell could start.
    parsed = list(csv.DictReader(io.StringIO(data)))
    assert parsed[0]["first_name"] == "Bob;'=1+2"
    assert parsed[0]["karma"] == "-2.0"
    # Read by a spreadsheet set to another separator, quotes honoured or not: no cell
    # starts with a trigger (a quote character in front makes a cell text as well).
    for honour_quotes in (True, False):
        quoting = csv.QUOTE_MINIMAL if honour_quotes else csv.QUOTE_NONE
        reader = csv.reader(io.StringIO(data), delimiter=delimiter, quoting=quoting)
        for row in reader:
            for cell in row:
                stripped = cell.lstrip(" ")
                number = stripped.replace(".", "", 1).lstrip("-").isdigit()
                starts_formula = bool(stripped) and stripped[0] in TRIGGERS
                assert number or not starts_formula, (delimiter, honour_quotes, cell)
