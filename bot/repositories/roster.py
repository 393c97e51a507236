"""Listing a chat's members: filters, keyset pages and exports.

Pages are ordered newest in the roster first: `created_at DESC, user_id DESC` (when the
bot first saw the member in the chat; never NULL, unlike joined_at, which is unknown for
members who joined before the bot). A page is found from the previous page's edge row
(the keyset cursor, a row-value comparison), never with OFFSET, so page 500 costs what
page 1 costs; the index `ix_memberships_chat_created_user` serves that order.

The search (`q=`) looks for a term of 3 characters or more anywhere in "first last" or
the username, and for a shorter term at the start of the first name, the last name or
the username: "q=an" finds Anna and Andreev, not Dana. Trigram indexes serve the first
and b-trees the second (PostgreSQL, migration b7c4e91a2d30); a one- or two-letter
substring would match most of the roster and no index can find it faster than reading
every user, which at 100,000 members takes longer than a page should.

The count stops at a bound (`count_max`, 1,000 by default: "more than 1,000 match"): an
exact count reads every match, 10,000 users for `q=a` at 100,000 members, where the page
reads 21. It joins only the tables its filter reads (a membership has exactly one user
and at most one karma total, so the joins cannot change it). The count is a
subquery of the page's statement: one round trip for both.

A karma bound that 0 fails (`karma>0`) joins the totals as an inner join on the total
itself (members without a total have 0, so it cannot drop one), which the index
`ix_karma_totals_chat_karma` serves; a bound that 0 passes keeps the outer join.

The listing's statements stop at a LIMIT; on PostgreSQL they are planned without merge
joins, parallel workers or generic plans (for its transaction: see `_PLAN_FOR_LIMITS`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import MemberRole, MemberStatus
from bot.db.models import KarmaTotal, Membership, User
from bot.domain.member_filter import MemberFilter

Direction = Literal["next", "prev"]
SHORT_TERM = 3  # search terms shorter than this match the start of a name


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


@dataclass(frozen=True, slots=True)
class MatchCount:
    """How many members match: `n` exactly, or (`exact` False) more than `n`."""

    n: int
    exact: bool = True


@dataclass(frozen=True, slots=True)
class MemberListing:
    page: MemberPage
    count: MatchCount


# PostgreSQL prices a row's filter at a fraction of a microsecond; `lower()` on a UTF-8
# database costs 1-3 us a call (a wide-character round trip), and the search makes up
# to three per row. So for a LIMIT it preferred a merge join that reads users in id
# order, evaluating the search on each (9,000 users to count 1,000 matches of `q=a`), or
# a parallel scan, over a nested loop from the most selective index that stops after
# about as many rows as it returns. Merge joins and parallel plans are off for the
# listing's transaction; hash joins stay: without statistics (a table just
# filled, not yet analysed) nested loops alone chose a 20-million-row join filter. And
# the search's pattern decides the plan (the prefix index's range, the trigrams'
# selectivity), which a generic plan cannot see: after five runs of a prepared
# statement PostgreSQL may switch to one, a scan of every user. Transaction-local
# (SET LOCAL): gone at its end.
_PLAN_FOR_LIMITS = text(
    "SELECT set_config('enable_mergejoin', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)


def _language() -> ColumnElement[str]:
    return func.lower(func.coalesce(User.ui_language, User.language_code))


def _karma() -> ColumnElement[float]:
    return func.coalesce(KarmaTotal.karma, 0.0)


def _zero_matches(flt: MemberFilter) -> bool:
    """Does a karma of 0 (a member without a total) pass the filter's karma bounds?"""
    return (
        (flt.karma_ge is None or flt.karma_ge <= 0)
        and (flt.karma_gt is None or flt.karma_gt < 0)
        and (flt.karma_le is None or flt.karma_le >= 0)
        and (flt.karma_lt is None or flt.karma_lt > 0)
    )


def _escaped(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _successor(text: str) -> str | None:
    """The least string above every string that starts with `text` (None: none such)."""
    code = ord(text[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates are no characters
        code = 0xE000
    return text[:-1] + chr(code) if code <= 0x10FFFF else None


def _starts_with(value: ColumnElement[str], prefix: str, pg: bool) -> ColumnElement[bool]:
    """`value LIKE 'prefix%'` as the range prefix <= value < successor, in byte order (UTF-8
    keeps code point order): the range is the prefix index's own condition, so rows it
    returns are not tested again. A LIKE would be, at one or more `lower()` a row (1-3 us
    each here: see `_PLAN_FOR_LIMITS`). PostgreSQL: the text_pattern_ops operators, byte
    order whatever the collation; SQLite compares bytes anyway."""
    upper = _successor(prefix)
    if upper is None:
        return value.like(f"{_escaped(prefix)}%", escape="\\")
    if pg:
        at_least = value.op("~>=~", is_comparison=True)(prefix)
        return and_(at_least, value.op("~<~", is_comparison=True)(upper))
    return and_(value >= prefix, value < upper)


def _search(term: str, pg: bool) -> ColumnElement[bool]:
    if len(term) < SHORT_TERM:
        columns: tuple[Any, ...] = (User.first_name, User.last_name, User.username)
        return or_(*(_starts_with(func.lower(c), term.lower(), pg) for c in columns))
    # "first last" holds the first and the last name, so it finds either.
    anywhere = f"%{_escaped(term)}%"
    return or_(
        User.search_name().like(anywhere, escape="\\"),
        func.lower(User.username).like(anywhere, escape="\\"),
    )


def _reads_user(flt: MemberFilter) -> bool:
    return bool(flt.languages or flt.query)


def _reads_karma(flt: MemberFilter) -> bool:
    bounds = (flt.karma_ge, flt.karma_gt, flt.karma_le, flt.karma_lt)
    return any(bound is not None for bound in bounds)


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class RosterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select(
        self, chat_id: int, flt: MemberFilter, *columns: Any, every_join: bool = True
    ) -> Select[Any]:
        """`every_join` False: only the joins the filter reads (for a count)."""
        stmt = select(*columns).select_from(Membership)
        if every_join or _reads_user(flt):
            stmt = stmt.join(User, User.id == Membership.user_id)
        has_total = _reads_karma(flt) and not _zero_matches(flt)
        if every_join or _reads_karma(flt):
            on = and_(
                KarmaTotal.chat_id == Membership.chat_id,
                KarmaTotal.user_id == Membership.user_id,
            )
            stmt = stmt.join(KarmaTotal, on) if has_total else stmt.outerjoin(KarmaTotal, on)
        karma: ColumnElement[float] = KarmaTotal.karma.expression if has_total else _karma()
        pg = self.session.get_bind().dialect.name == "postgresql"
        return stmt.where(Membership.chat_id == chat_id, *self._conditions(flt, karma, pg))

    @staticmethod
    def _conditions(
        flt: MemberFilter, karma: ColumnElement[float], pg: bool
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if flt.statuses:
            where.append(Membership.status.in_(flt.statuses))
        if flt.roles:
            where.append(Membership.role.in_(flt.roles))
        if flt.languages:
            language = _language()
            primary = (
                or_(language == c, _starts_with(language, f"{c}-", pg)) for c in flt.languages
            )
            where.append(or_(*primary))
        if flt.joined_from is not None:
            where.append(Membership.joined_at >= _day_start(flt.joined_from))
        if flt.joined_to is not None:
            where.append(Membership.joined_at < _day_start(flt.joined_to + timedelta(days=1)))
        if flt.karma_ge is not None:
            where.append(karma >= flt.karma_ge)
        if flt.karma_gt is not None:
            where.append(karma > flt.karma_gt)
        if flt.karma_le is not None:
            where.append(karma <= flt.karma_le)
        if flt.karma_lt is not None:
            where.append(karma < flt.karma_lt)
        if flt.query:
            where.append(_search(flt.query, pg))
        return where

    def _rows(self, chat_id: int, flt: MemberFilter, *extra: Any) -> Select[Any]:
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
            *extra,
        )

    async def _plan_for_limits(self) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(_PLAN_FOR_LIMITS)

    async def listing(
        self,
        chat_id: int,
        flt: MemberFilter,
        cursor: MemberCursor | None,
        direction: Direction,
        limit: int,
        count_max: int,
    ) -> MemberListing:
        """`limit` rows after `cursor` (next) or before it (prev; no cursor: the first
        page), and how many members match, counted up to `count_max`. One statement:
        the count rides on the page's rows (an uncorrelated subquery, run once)."""
        await self._plan_for_limits()
        stmt = self._rows(chat_id, flt, self._count(chat_id, flt, count_max).scalar_subquery())
        created, uid = Membership.created_at, Membership.user_id
        backwards = direction == "prev" and cursor is not None
        if cursor is not None:
            key, edge = tuple_(created, uid), tuple_(cursor.created_at, cursor.user_id)
            stmt = stmt.where(key > edge if backwards else key < edge)
        if backwards:
            stmt = stmt.order_by(created.asc(), uid.asc())
        else:
            stmt = stmt.order_by(created.desc(), uid.desc())
        found = list(await self.session.execute(stmt.limit(limit + 1)))
        n = 0
        if found:
            n = int(found[0][-1])
        elif cursor is not None:  # past either end (members left meanwhile): no row carries it
            n = int(await self.session.scalar(self._count(chat_id, flt, count_max)) or 0)
        count = MatchCount(count_max, exact=False) if n > count_max else MatchCount(n)
        rows = [MemberRow(*row[:-1]) for row in found[:limit]]
        more = len(found) > limit
        if backwards:
            page = MemberPage(rows[::-1], has_prev=more, has_next=True)
        else:
            page = MemberPage(rows, has_prev=cursor is not None, has_next=more)
        return MemberListing(page, count)

    def _count(self, chat_id: int, flt: MemberFilter, count_max: int) -> Select[Any]:
        """The matches counted up to `count_max` + 1 (more than `count_max`: that many)."""
        matches = self._select(chat_id, flt, Membership.user_id, every_join=False)
        return select(func.count()).select_from(matches.limit(count_max + 1).subquery())

    async def stream(
        self, chat_id: int, flt: MemberFilter, max_rows: int, batch: int = 1000
    ) -> AsyncIterator[list[MemberRow]]:
        """Every matching member in page order (at most `max_rows`), `batch` rows at a
        time from one server-side cursor: memory holds one batch, whatever the roster's
        size. The session's transaction stays open until the last batch is read."""
        stmt = (
            self._rows(chat_id, flt)
            .order_by(Membership.created_at.desc(), Membership.user_id.desc())
            .limit(max_rows)
            .execution_options(yield_per=batch)
        )
        result = await self.session.stream(stmt)
        async for rows in result.partitions():
            yield [MemberRow(*row) for row in rows]
