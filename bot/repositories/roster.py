"""Listing a chat's members: filters, keyset pages and exports.

Pages are ordered newest in the roster first: `created_at DESC, user_id DESC` (when the
bot first saw the member in the chat; never NULL, unlike joined_at, which is unknown for
members who joined before the bot). A page is found from the previous page's edge row
(the keyset cursor, a row-value comparison), never with OFFSET, so page 500 costs what
page 1 costs; the index `ix_memberships_chat_created_user` serves that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import MemberRole, MemberStatus
from bot.db.models import KarmaTotal, Membership, User
from bot.domain.member_filter import MemberFilter

Direction = Literal["next", "prev"]


@dataclass(frozen=True, slots=True)
class MemberCursor:
    """The edge row of a page: where the next (or previous) page starts."""

    created_at: datetime
    user_id: int


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language: str | None  # the /language choice, else Telegram's language_code
    language_code: str | None
    is_bot: bool
    is_premium: bool | None
    role: MemberRole
    status: MemberStatus
    joined_at: datetime | None
    left_at: datetime | None
    last_seen_at: datetime | None
    karma: float
    created_at: datetime

    @property
    def cursor(self) -> MemberCursor:
        return MemberCursor(self.created_at, self.user_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(frozen=True, slots=True)
class MemberPage:
    rows: list[MemberRow]
    has_prev: bool
    has_next: bool


def _language() -> ColumnElement[str]:
    return func.lower(func.coalesce(User.ui_language, User.language_code))


def _karma() -> ColumnElement[float]:
    return func.coalesce(KarmaTotal.karma, 0.0)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class RosterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select(self, chat_id: int, flt: MemberFilter, *columns: Any) -> Select[Any]:
        stmt = (
            select(*columns)
            .select_from(Membership)
            .join(User, User.id == Membership.user_id)
            .outerjoin(
                KarmaTotal,
                and_(
                    KarmaTotal.chat_id == Membership.chat_id,
                    KarmaTotal.user_id == Membership.user_id,
                ),
            )
            .where(Membership.chat_id == chat_id)
        )
        return stmt.where(*self._conditions(flt))

    @staticmethod
    def _conditions(flt: MemberFilter) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if flt.statuses:
            where.append(Membership.status.in_(flt.statuses))
        if flt.roles:
            where.append(Membership.role.in_(flt.roles))
        if flt.languages:
            language = _language()
            where.append(or_(*(or_(language == c, language.like(f"{c}-%")) for c in flt.languages)))
        if flt.joined_from is not None:
            where.append(Membership.joined_at >= _day_start(flt.joined_from))
        if flt.joined_to is not None:
            where.append(Membership.joined_at < _day_start(flt.joined_to + timedelta(days=1)))
        karma = _karma()
        if flt.karma_ge is not None:
            where.append(karma >= flt.karma_ge)
        if flt.karma_gt is not None:
            where.append(karma > flt.karma_gt)
        if flt.karma_le is not None:
            where.append(karma <= flt.karma_le)
        if flt.karma_lt is not None:
            where.append(karma < flt.karma_lt)
        if flt.query:
            pattern = _like(flt.query)
            full = User.first_name + " " + func.coalesce(User.last_name, "")
            where.append(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in (User.first_name, User.last_name, User.username, full)
                    )
                )
            )
        return where

    def _rows(self, chat_id: int, flt: MemberFilter) -> Select[Any]:
        return self._select(
            chat_id,
            flt,
            Membership.user_id,
            User.first_name,
            User.last_name,
            User.username,
            _language(),
            User.language_code,
            User.is_bot,
            User.is_premium,
            Membership.role,
            Membership.status,
            Membership.joined_at,
            Membership.left_at,
            Membership.last_seen_at,
            _karma(),
            Membership.created_at,
        )

    async def count(self, chat_id: int, flt: MemberFilter) -> int:
        return int(await self.session.scalar(self._select(chat_id, flt, func.count())) or 0)

    async def page(
        self,
        chat_id: int,
        flt: MemberFilter,
        cursor: MemberCursor | None,
        direction: Direction,
        limit: int,
    ) -> MemberPage:
        """`limit` rows after `cursor` (next) or before it (prev); no cursor: the first page."""
        stmt = self._rows(chat_id, flt)
        created, uid = Membership.created_at, Membership.user_id
        backwards = direction == "prev" and cursor is not None
        if cursor is not None:
            key, edge = tuple_(created, uid), tuple_(cursor.created_at, cursor.user_id)
            stmt = stmt.where(key > edge if backwards else key < edge)
        if backwards:
            stmt = stmt.order_by(created.asc(), uid.asc())
        else:
            stmt = stmt.order_by(created.desc(), uid.desc())
        rows = [MemberRow(*row) for row in await self.session.execute(stmt.limit(limit + 1))]
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            return MemberPage(rows[::-1], has_prev=more, has_next=True)
        return MemberPage(rows, has_prev=cursor is not None, has_next=more)

    async def export(
        self, chat_id: int, flt: MemberFilter, max_rows: int, batch: int = 1000
    ) -> list[MemberRow]:
        """Every matching member in page order (at most `max_rows`), read in keyset batches."""
        rows: list[MemberRow] = []
        cursor: MemberCursor | None = None
        while len(rows) < max_rows:
            page = await self.page(chat_id, flt, cursor, "next", min(batch, max_rows - len(rows)))
            rows.extend(page.rows)
            if not page.has_next or not page.rows:
                break
            cursor = page.rows[-1].cursor
        return rows
