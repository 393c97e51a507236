"""Reading the SQLite database of the bot this project replaces, quirks and all.

The schema accepted, and what each quirk becomes, is documented for operators in
docs/OPERATIONS.md ("Importing the legacy bot's data"); this module is its executable
form. Reading is pure: the file is opened read-only and the result is plain data plus
a list of problems per table, so a dry run can show exactly what an import would do.

The legacy database is read into memory whole: such a bot holds thousands to a few
hundred thousand rows, a few megabytes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.db.enums import ApplicationStatus, MemberRole, MemberStatus

TABLES = ("profiles", "roster", "applications")
# Columns a table must have to be read at all; every other documented column is optional.
REQUIRED = {
    "profiles": {"user_id"},
    "roster": {"user_id", "username"},
    "applications": {"id", "user_id", "status"},
}
NO_NAME = "—"

# Free-text statuses of the legacy bot, lower-cased, to ours.
MEMBER_STATUSES: dict[str, MemberStatus] = {
    **dict.fromkeys(
        (
            "",
            "member",
            "active",
            "joined",
            "approved",
            "admin",
            "administrator",
            "creator",
            "owner",
            "moderator",
        ),
        MemberStatus.ACTIVE,
    ),
    **dict.fromkeys(("restricted", "muted", "readonly", "read_only"), MemberStatus.RESTRICTED),
    **dict.fromkeys(("left", "gone", "quit", "removed"), MemberStatus.LEFT),
    **dict.fromkeys(("kicked", "banned", "ban", "blocked"), MemberStatus.BANNED),
}
MEMBER_ROLES: dict[str, MemberRole] = {
    **dict.fromkeys(("admin", "administrator", "owner", "creator"), MemberRole.ADMIN),
    **dict.fromkeys(("moderator", "mod"), MemberRole.MODERATOR),
}
APPLICATION_STATUSES: dict[str, ApplicationStatus] = {
    # An unfinished questionnaire of the old bot cannot be continued here.
    **dict.fromkeys(("draft", "filling", "in_progress"), ApplicationStatus.EXPIRED),
    **dict.fromkeys(
        ("new", "pending", "waiting", "submitted", "review", "on_review", "sent"),
        ApplicationStatus.PENDING,
    ),
    **dict.fromkeys(("approved", "accepted", "accept", "ok", "yes"), ApplicationStatus.APPROVED),
    **dict.fromkeys(
        ("rejected", "declined", "denied", "refused", "reject", "no"), ApplicationStatus.REJECTED
    ),
    **dict.fromkeys(("banned", "ban", "blocked", "spam"), ApplicationStatus.BANNED),
    **dict.fromkeys(("expired", "timeout", "timed_out"), ApplicationStatus.EXPIRED),
    **dict.fromkeys(("withdrawn", "cancelled", "canceled", "revoked"), ApplicationStatus.WITHDRAWN),
}
# Text timestamps other than ISO 8601 and Unix time, day first (the old bot's locale).
_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")
_USERNAME = re.compile(r"[A-Za-z0-9_]{3,32}")


class LegacyReadError(Exception):
    """The file is not a SQLite database of the legacy bot."""


@dataclass(slots=True)
class Person:
    """A Telegram user as the legacy bot knew them."""

    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    created_at: datetime | None


@dataclass(slots=True)
class Profile(Person):
    karma: float = 0.0


@dataclass(slots=True)
class Member:
    person: Person
    status: MemberStatus
    role: MemberRole
    joined_at: datetime | None
    rows: list[int]  # the legacy roster ids merged into this member


@dataclass(slots=True)
class LegacyApplication:
    legacy_id: int
    user_id: int
    status: ApplicationStatus
    raw_status: str
    answers: list[tuple[str, str]]
    decided_by: int | None
    reason: str | None
    created_at: datetime | None
    decided_at: datetime | None


@dataclass(slots=True)
class LegacyData:
    profiles: list[Profile] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    applications: list[LegacyApplication] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    problems: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TABLES})
    ignored_tables: list[str] = field(default_factory=list)

    def problem(self, table: str, row: object, message: str) -> None:
        self.problems[table].append(f"row {row}: {message}" if row is not None else message)

    def skip(self, table: str, row: object, message: str) -> None:
        self.skipped[table] += 1
        self.problem(table, row, f"skipped: {message}")


# ---------------------------------------------------------------------- normalising
def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (space or T, any fraction, with or without offset), Unix seconds or
    milliseconds (number or digits), or one of `_FORMATS`. Without an offset: UTC.
    Raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)  # naive: UTC, below
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unreadable timestamp {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def clean_username(value: Any) -> tuple[str | None, str | None]:
    """(username without '@' or a t.me link, problem)."""
    if value is None:
        return None, None
    text = str(value).strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/", "@"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if not text:
        return None, None
    if not _USERNAME.fullmatch(text):
        return None, f"username {value!r} is not a Telegram username; dropped"
    return text, None


def _text(value: Any, limit: int = 256) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def _user_id(value: Any) -> int | None:
    """A Telegram user id, or None for NULL, 0, negatives (chats) and junk."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _split_name(full: str | None) -> tuple[str | None, str | None]:
    if not full:
        return None, None
    first, _, last = full.partition(" ")
    return first or None, last.strip() or None


def parse_answers(value: Any) -> list[tuple[str, str]]:
    """A JSON list of {"question", "answer"} (or {"q", "a"}), a JSON list of answers, a
    JSON object {question: answer}, or plain text (one answer)."""
    if value is None or not str(value).strip():
        return []
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return [("Application", str(value).strip())]
    if isinstance(data, dict):
        return [(str(q), _answer(a)) for q, a in data.items()]
    if isinstance(data, list):
        pairs = []
        for index, item in enumerate(data, start=1):
            if isinstance(item, dict):
                question = item.get("question", item.get("q", f"Question {index}"))
                pairs.append((str(question), _answer(item.get("answer", item.get("a")))))
            else:
                pairs.append((f"Question {index}", _answer(item)))
        return pairs
    return [("Application", _answer(data))]


def _answer(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------- reading
def read_legacy(path: Path) -> LegacyData:
    if not path.is_file():
        raise LegacyReadError(f"{path} is not a file")
    try:
        # Read-only: the legacy file is never changed, not even its journal.
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        connection.row_factory = sqlite3.Row
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:
        raise LegacyReadError(f"{path} is not a SQLite database: {exc}") from None
    try:
        data = LegacyData(
            ignored_tables=sorted(
                n for n in names if n not in TABLES and not n.startswith("sqlite_")
            )
        )
        rows = {table: _rows(connection, table, names, data) for table in TABLES}
    finally:
        connection.close()
    if not any(name in names for name in TABLES):
        raise LegacyReadError(
            f"{path} has none of the legacy tables ({', '.join(TABLES)}): not the legacy bot's "
            "database"
        )
    _read_profiles(rows["profiles"], data)
    _read_roster(rows["roster"], data)
    _read_applications(rows["applications"], data)
    return data


def _rows(
    connection: sqlite3.Connection, table: str, names: set[str], data: LegacyData
) -> list[dict[str, Any]]:
    if table not in names:
        data.problem(table, None, "table not found; nothing imported from it")
        return []
    columns = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
    missing = REQUIRED[table] - columns
    if missing:
        data.problem(table, None, f"columns {sorted(missing)} missing; table not imported")
        return []
    found = [dict(row) for row in connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]  # noqa: S608 - a known table name
    data.rows_read[table] = len(found)
    return found


def _time(data: LegacyData, table: str, row: object, column: str, value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        data.problem(table, row, f"{column}: {exc}; left empty")
        return None


def _read_profiles(rows: list[dict[str, Any]], data: LegacyData) -> None:
    seen: set[int] = set()
    null_karma = 0
    for row in rows:
        user_id = _user_id(row.get("user_id"))
        if user_id is None:
            data.skip("profiles", row.get("user_id"), "no Telegram user id")
            continue
        if user_id in seen:
            data.skip("profiles", user_id, "a second profile of the same user")
            continue
        seen.add(user_id)
        username, problem = clean_username(row.get("username"))
        if problem:
            data.problem("profiles", user_id, problem)
        karma_raw = row.get("karma")
        if karma_raw is None:
            null_karma += 1
            karma = 0.0
        else:
            try:
                karma = float(karma_raw)
            except (TypeError, ValueError):
                data.problem("profiles", user_id, f"karma {karma_raw!r} is not a number; read as 0")
                karma = 0.0
        first = _text(row.get("first_name"))
        if first is None:
            first = username or NO_NAME
            data.problem("profiles", user_id, f"no first name; stored as {first!r}")
        data.profiles.append(
            Profile(
                user_id=user_id,
                first_name=first,
                last_name=_text(row.get("last_name")),
                username=username,
                language_code=_text(row.get("language"), 16),
                created_at=_time(data, "profiles", user_id, "created_at", row.get("created_at")),
                karma=karma,
            )
        )
    if null_karma:
        data.problem(
            "profiles", None, f"{null_karma} profiles with NULL karma read as 0 (fix_karma_null)"
        )


def _read_roster(rows: list[dict[str, Any]], data: LegacyData) -> None:
    by_username = {p.username.lower(): p for p in data.profiles if p.username}
    by_id: dict[int, Profile] = {p.user_id: p for p in data.profiles}
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        legacy_id = row.get("id", "?")
        username, problem = clean_username(row.get("username"))
        if problem:
            data.problem("roster", legacy_id, problem)
        user_id = _user_id(row.get("user_id"))
        if user_id is None:
            # Rows seeded at start-up from a list of usernames: the id came later, if ever.
            match = by_username.get(username.lower()) if username else None
            if match is None:
                data.skip(
                    "roster",
                    legacy_id,
                    "placeholder without a Telegram id"
                    + (f" (@{username} is in no profile)" if username else ""),
                )
                continue
            user_id = match.user_id
            data.problem("roster", legacy_id, f"placeholder @{username} matched user {user_id}")
        groups[user_id].append({**row, "username": username})
    for user_id, group in groups.items():
        if len(group) > 1:
            ids = ", ".join(str(r.get("id", "?")) for r in group)
            data.problem("roster", None, f"user {user_id}: rows {ids} merged (duplicates)")
        data.members.append(_member(user_id, group, by_id.get(user_id), data))


def _member(
    user_id: int, group: list[dict[str, Any]], profile: Profile | None, data: LegacyData
) -> Member:
    """Duplicates merge: the last row's status and role, the earliest join time, the
    first name and username any row has."""
    last = group[-1]
    legacy_id = last.get("id", "?")
    raw_status = (_text(last.get("status")) or "").lower()
    status = MEMBER_STATUSES.get(raw_status)
    if status is None:
        data.problem("roster", legacy_id, f"status {raw_status!r} not understood; read as active")
        status = MemberStatus.ACTIVE
    raw_role = (_text(last.get("role")) or raw_status).lower()
    role = MEMBER_ROLES.get(raw_role, MemberRole.MEMBER)
    joined = [
        t
        for r in group
        if (t := _time(data, "roster", r.get("id", "?"), "joined_at", r.get("joined_at")))
        is not None
    ]
    if profile is not None:
        person: Person = profile
    else:
        first, last_name = None, None
        for r in group:
            first, last_name = _split_name(_text(r.get("full_name")))
            if first:
                break
        username = next((r["username"] for r in group if r["username"]), None)
        person = Person(
            user_id,
            first or username or NO_NAME,
            last_name,
            username,
            None,
            min(joined, default=None),
        )
    return Member(person, status, role, min(joined, default=None), [r.get("id", 0) for r in group])


def _read_applications(rows: list[dict[str, Any]], data: LegacyData) -> None:
    for row in rows:
        legacy_id = _user_id(row.get("id"))
        if legacy_id is None:
            data.skip("applications", row.get("id"), "no id")
            continue
        user_id = _user_id(row.get("user_id"))
        if user_id is None:
            data.skip("applications", legacy_id, f"user id {row.get('user_id')!r} is not a user")
            continue
        raw = _text(row.get("status")) or ""
        status = APPLICATION_STATUSES.get(raw.lower().replace(" ", "_"))
        if status is None:
            data.skip("applications", legacy_id, f"status {raw!r} not understood")
            continue
        if raw.lower() in ("draft", "filling", "in_progress"):
            data.problem("applications", legacy_id, f"unfinished ({raw!r}): imported as expired")
        created = _time(data, "applications", legacy_id, "created_at", row.get("created_at"))
        data.applications.append(
            LegacyApplication(
                legacy_id=legacy_id,
                user_id=user_id,
                status=status,
                raw_status=raw,
                answers=parse_answers(row.get("answers")),
                decided_by=_user_id(row.get("reviewer_id")),
                reason=_text(row.get("reason"), 4000),
                created_at=created,
                decided_at=_time(
                    data, "applications", legacy_id, "decided_at", row.get("decided_at")
                ),
            )
        )
