"""Karma queries: the vote checks (cooldown, quota, rings), the atomic total update,
leaderboards with ranks and the per-member history. Plain DTOs out, never ORM rows; the
SQL dialect (PostgreSQL's folded vote statements, SQLite's plain ones) stays in here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.base import utcnow
from bot.db.enums import KarmaLift, KarmaSanction, KarmaSource
from bot.db.models import (
    Chat,
    KarmaEvent,
    KarmaMessageAuthor,
    KarmaRestriction,
    KarmaTotal,
    User,
)
from bot.domain.dto import ChatInfo, UserProfile
from bot.repositories.upsert import increment, upsert
from bot.repositories.users import ChatRepository, UserRepository


@dataclass(frozen=True, slots=True)
class RankedMember:
    user_id: int
    name: str
    karma: float  # the total, or what was gained in the period
    rank: int  # 1-based, ties share a rank


@dataclass(frozen=True, slots=True)
class HistoryRow:
    event_id: int
    voter_id: int
    voter_name: str
    delta: float
    message_id: int | None
    created_at: datetime
    cancelled: bool


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored vote, as much of it as undoing it needs."""

    id: int
    chat_id: int
    voter_id: int
    target_id: int
    source: KarmaSource
    delta: float
    created_at: datetime
    cancelled_at: datetime | None


_EVENT_COLUMNS = (
    KarmaEvent.id,
    KarmaEvent.chat_id,
    KarmaEvent.voter_id,
    KarmaEvent.target_id,
    KarmaEvent.source,
    KarmaEvent.delta,
    KarmaEvent.created_at,
    KarmaEvent.cancelled_at,
)


@dataclass(frozen=True, slots=True)
class SanctionRecord:
    """An escalation step as stored: which, until when, the step's index."""

    id: int
    kind: KarmaSanction
    until: datetime | None
    step: int


_PROFILE_COLUMNS = (
    User.id,
    User.is_bot,
    User.first_name,
    User.last_name,
    User.username,
    User.language_code,
    User.is_premium,
)

_SANCTION_COLUMNS = (
    KarmaRestriction.id,
    KarmaRestriction.kind,
    KarmaRestriction.until,
    KarmaRestriction.step,
)


@dataclass(frozen=True, slots=True)
class NewVote:
    chat_id: int
    voter_id: int
    target_id: int
    source: KarmaSource
    direction: int
    weight: float
    message_id: int | None
    vote_message_id: int | None

    @property
    def delta(self) -> float:
        return self.direction * self.weight

    def params(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {"delta": self.delta}


@dataclass(frozen=True, slots=True)
class CheckWindows:
    """Since when earlier votes count for the cooldown, the daily quota (and the daily
    cap on downvotes) and rings; before when an upvote received makes karma history."""

    cooldown_since: datetime
    day_start: datetime
    ring_since: datetime
    history_before: datetime

    def params(self) -> dict[str, datetime]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class VoteChecks:
    """What a vote's rules need (bot/domain/karma_rules.py). The upvote-only and the
    downvote-only ones are read for their direction alone: the others hold the default."""

    voter_karma: float
    in_cooldown: bool  # the voter voted for this target since the cooldown began
    cast_today: int  # votes the voter cast in the chat this UTC day
    reciprocal_upvotes: int  # upvotes the target gave the voter within the ring window
    chain_upvotes: int = 0  # upvotes: members X with target -> X -> voter in the window
    down_used_today: float = 0.0  # downvotes: weight given the target this UTC day
    has_history: bool = True  # downvotes: an upvote received before history_before


@dataclass(frozen=True, slots=True)
class Downvoters:
    """Distinct members whose downvotes with weight count towards a sanction."""

    with_vote: int  # including the vote just cast
    without_vote: int  # as it was before it


_EVENTS: Any = KarmaEvent.__table__
_ADD_EVENT = (
    insert(_EVENTS)
    .values(
        {
            c.key: bindparam(c.key, type_=c.type)
            for c in _EVENTS.c
            if c.key not in ("id", "cancelled_at")
        }
    )
    .returning(_EVENTS.c.id)
)


# The lock, then the checks as in `vote_checks`. The checks of one direction only sit
# in CASE branches: PostgreSQL runs a branch's subquery only when the branch is taken,
# so an upvote pays nothing for the downvote rules (and the reverse).
_LOCK_AND_CHECK_PG = text("""
SELECT
    pg_advisory_xact_lock(:lock_key),
    (SELECT karma FROM karma_totals WHERE chat_id = :chat_id AND user_id = :voter_id),
    (SELECT count(*) FROM karma_events
     WHERE chat_id = :chat_id AND voter_id = :voter_id AND target_id = :target_id
       AND created_at >= :cooldown_since AND cancelled_at IS NULL),
    (SELECT count(*) FROM karma_events
     WHERE chat_id = :chat_id AND voter_id = :voter_id
       AND created_at >= :day_start AND cancelled_at IS NULL),
    (SELECT count(*) FROM karma_events
     WHERE chat_id = :chat_id AND voter_id = :target_id AND target_id = :voter_id
       AND direction > 0 AND created_at >= :ring_since AND cancelled_at IS NULL),
    CASE WHEN CAST(:up AS BOOLEAN) THEN
        (SELECT count(DISTINCT x.target_id) FROM karma_events AS x
         WHERE x.chat_id = :chat_id AND x.voter_id = :target_id AND x.target_id <> :voter_id
           AND x.direction > 0 AND x.created_at >= :ring_since AND x.cancelled_at IS NULL
           AND EXISTS (
               SELECT 1 FROM karma_events AS y
               WHERE y.chat_id = :chat_id AND y.voter_id = x.target_id
                 AND y.target_id = :voter_id AND y.direction > 0
                 AND y.created_at >= :ring_since AND y.cancelled_at IS NULL))
    ELSE 0 END,
    CASE WHEN CAST(:up AS BOOLEAN) THEN 0 ELSE
        (SELECT coalesce(sum(-delta), 0) FROM karma_events
         WHERE chat_id = :chat_id AND voter_id = :voter_id AND target_id = :target_id
           AND delta < 0 AND created_at >= :day_start AND cancelled_at IS NULL)
    END,
    CASE WHEN CAST(:up AS BOOLEAN) THEN true ELSE EXISTS (
        SELECT 1 FROM karma_events
        WHERE chat_id = :chat_id AND target_id = :voter_id AND delta > 0
          AND created_at <= :history_before AND cancelled_at IS NULL)
    END
""")


def _person_upsert(p: str) -> str:
    """RosterService.remember_user for the person whose parameters start with `p`_, as
    a CTE body. The id is a constant, so the NOT EXISTS is an index probe whatever the
    table's statistics (a VALUES anti-join was planned as a seq scan on a young table).
    `p` is "v" or "t", fixed in this module, never input."""
    return f"""
    INSERT INTO users AS u (id, is_bot, first_name, last_name, username, language_code,
                            is_premium, updated_at)
    SELECT CAST(:{p}_id AS BIGINT), CAST(:{p}_is_bot AS BOOLEAN),
           CAST(:{p}_first_name AS VARCHAR), CAST(:{p}_last_name AS VARCHAR),
           CAST(:{p}_username AS VARCHAR), CAST(:{p}_language_code AS VARCHAR),
           CAST(:{p}_is_premium AS BOOLEAN), (SELECT now FROM input)
    WHERE NOT EXISTS (
        SELECT 1 FROM users AS s WHERE s.id = CAST(:{p}_id AS BIGINT)
        AND s.is_bot = CAST(:{p}_is_bot AS BOOLEAN)
        AND s.first_name = CAST(:{p}_first_name AS VARCHAR)
        AND s.last_name IS NOT DISTINCT FROM CAST(:{p}_last_name AS VARCHAR)
        AND s.username IS NOT DISTINCT FROM CAST(:{p}_username AS VARCHAR)
        AND s.language_code IS NOT DISTINCT FROM CAST(:{p}_language_code AS VARCHAR)
        AND s.is_premium IS NOT DISTINCT FROM CAST(:{p}_is_premium AS BOOLEAN))
    ON CONFLICT (id) DO UPDATE SET is_bot = excluded.is_bot,
        first_name = excluded.first_name, last_name = excluded.last_name,
        username = excluded.username, language_code = excluded.language_code,
        is_premium = excluded.is_premium, updated_at = excluded.updated_at"""  # noqa: S608


# RosterService.remember_chat/remember_user (insert, or update only when a field differs:
# an unchanged row is neither written nor locked) as data-modifying CTEs; the event, if
# the cooldown, the quota and the daily cap on downvotes still allow it (this
# statement's snapshot is taken under the voter's lock); the total. The foreign keys of
# the event are checked at the end of the statement, when the profiles are in.
_ADD_VOTE_PG = text(
    f"""
WITH input AS (
    SELECT CAST(:chat_id AS BIGINT) AS id, CAST(:chat_type AS VARCHAR) AS type,
           CAST(:chat_title AS VARCHAR) AS title, CAST(:chat_username AS VARCHAR) AS username,
           CAST(:now AS TIMESTAMPTZ) AS now
), chat AS (
    INSERT INTO chats AS c (id, type, title, username, updated_at)
    SELECT i.id, i.type, i.title, i.username, i.now FROM input AS i
    WHERE NOT EXISTS (
        SELECT 1 FROM chats AS s WHERE s.id = i.id AND s.type = i.type
        AND s.title IS NOT DISTINCT FROM i.title
        AND s.username IS NOT DISTINCT FROM i.username)
    ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,
        username = excluded.username, updated_at = excluded.updated_at
), voter AS ({_person_upsert("v")}
), target AS ({_person_upsert("t")}
), ev AS (
    INSERT INTO karma_events (chat_id, voter_id, target_id, source, direction, weight, delta,
                              message_id, vote_message_id, created_at)
    SELECT :chat_id, :voter_id, :target_id, :source, :direction, :weight, :delta,
           :message_id, :vote_message_id, :now
    WHERE (NOT CAST(:cooldown_on AS BOOLEAN) OR NOT EXISTS (
        SELECT 1 FROM karma_events
        WHERE chat_id = :chat_id AND voter_id = :voter_id AND target_id = :target_id
          AND created_at >= :cooldown_since AND cancelled_at IS NULL))
      AND (SELECT count(*) FROM karma_events
           WHERE chat_id = :chat_id AND voter_id = :voter_id
             AND created_at >= :day_start AND cancelled_at IS NULL) < :quota
      AND CASE WHEN CAST(:direction AS INTEGER) > 0 OR CAST(:weight AS FLOAT) = 0 THEN true
          ELSE (SELECT coalesce(sum(-delta), 0) FROM karma_events
                WHERE chat_id = :chat_id AND voter_id = :voter_id AND target_id = :target_id
                  AND delta < 0 AND created_at >= :day_start AND cancelled_at IS NULL)
               + CAST(:weight AS FLOAT) <= CAST(:down_cap AS FLOAT) + 1e-9
      END
    RETURNING id, delta
)
INSERT INTO karma_totals AS t (chat_id, user_id, karma, updated_at)
SELECT :chat_id, :target_id, ev.delta, :now FROM ev
ON CONFLICT (chat_id, user_id) DO UPDATE
    SET karma = t.karma + excluded.karma, updated_at = excluded.updated_at
RETURNING (SELECT id FROM ev), t.karma
"""  # noqa: S608 (only this module's fixed fragments are interpolated)
)


def _checks(row: Any) -> VoteChecks:
    karma, recent, today, reciprocal, chain, used, history = row
    return VoteChecks(
        float(karma or 0.0),
        int(recent) > 0,
        int(today),
        int(reciprocal),
        int(chain or 0),
        float(used or 0.0),
        bool(history),
    )


def _lock_key(chat_id: int, voter_id: int) -> int:
    digest = hashlib.blake2b(f"karma:{chat_id}:{voter_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _full_name(user: type[User] | User) -> ColumnElement[str]:
    return func.coalesce(user.first_name + literal(" ") + user.last_name, user.first_name)


def _live(since: datetime) -> ColumnElement[bool]:
    return and_(KarmaEvent.created_at >= since, KarmaEvent.cancelled_at.is_(None))


class KarmaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def postgres(self) -> bool:
        """PostgreSQL gets the vote's fewer, folded statements; SQLite the plain ones."""
        return self.session.get_bind().dialect.name == "postgresql"

    # ------------------------------------------------------------------ vote checks
    async def lock_voter(self, chat_id: int, voter_id: int) -> None:
        """Serialise one voter's votes in a chat until the transaction ends (PostgreSQL;
        SQLite serialises writers already), so the cooldown and quota checks cannot race,
        however many bot replicas run."""
        if not self.postgres:
            return
        key = _lock_key(chat_id, voter_id)
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def total(self, chat_id: int, user_id: int) -> float:
        karma = await self.session.scalar(
            select(KarmaTotal.karma).where(
                KarmaTotal.chat_id == chat_id, KarmaTotal.user_id == user_id
            )
        )
        return karma or 0.0

    async def vote_checks(
        self, chat_id: int, voter_id: int, target_id: int, windows: CheckWindows, up: bool
    ) -> VoteChecks:
        """Everything a vote's rules need, in one round trip: those of its direction
        (`up`). Every lookup is on (chat_id, voter_id, created_at), (chat_id, target_id,
        created_at) or the totals' primary key."""
        cooldown_since, day_start = windows.cooldown_since, windows.day_start
        ring_since = windows.ring_since

        def events(voter: int, since: datetime) -> Select[int]:
            return (
                select(func.count())
                .select_from(KarmaEvent)
                .where(KarmaEvent.chat_id == chat_id, KarmaEvent.voter_id == voter, _live(since))
            )

        voter_karma = select(KarmaTotal.karma).where(
            KarmaTotal.chat_id == chat_id, KarmaTotal.user_id == voter_id
        )
        recent_for_target = events(voter_id, cooldown_since).where(
            KarmaEvent.target_id == target_id
        )
        reciprocal = events(target_id, ring_since).where(
            KarmaEvent.target_id == voter_id, KarmaEvent.direction > 0
        )
        if up:
            middle, back = aliased(KarmaEvent), aliased(KarmaEvent)
            returned = and_(
                back.chat_id == chat_id,
                back.voter_id == middle.target_id,
                back.target_id == voter_id,
                back.direction > 0,
                back.created_at >= ring_since,
                back.cancelled_at.is_(None),
            )
            extra = [
                select(func.count(middle.target_id.distinct()))
                .where(
                    middle.chat_id == chat_id,
                    middle.voter_id == target_id,
                    middle.target_id != voter_id,
                    middle.direction > 0,
                    middle.created_at >= ring_since,
                    middle.cancelled_at.is_(None),
                    select(back.id).where(returned).exists(),
                )
                .scalar_subquery(),
                literal(0.0),
                literal(True),
            ]
        else:
            extra = [
                literal(0),
                select(func.coalesce(func.sum(-KarmaEvent.delta), 0.0))
                .where(
                    KarmaEvent.chat_id == chat_id,
                    KarmaEvent.voter_id == voter_id,
                    KarmaEvent.target_id == target_id,
                    KarmaEvent.delta < 0,
                    _live(day_start),
                )
                .scalar_subquery(),
                select(KarmaEvent.id)
                .where(
                    KarmaEvent.chat_id == chat_id,
                    KarmaEvent.target_id == voter_id,
                    KarmaEvent.delta > 0,
                    KarmaEvent.created_at <= windows.history_before,
                    KarmaEvent.cancelled_at.is_(None),
                )
                .exists(),
            ]
        row = (
            await self.session.execute(
                select(
                    voter_karma.scalar_subquery(),
                    recent_for_target.scalar_subquery(),
                    events(voter_id, day_start).scalar_subquery(),
                    reciprocal.scalar_subquery(),
                    *extra,
                )
            )
        ).one()
        return _checks(row)

    async def lock_and_check(
        self, chat_id: int, voter_id: int, target_id: int, windows: CheckWindows, up: bool
    ) -> VoteChecks:
        """Take the voter's lock (as `lock_voter`) and read the checks. PostgreSQL: one
        round trip, whose snapshot predates the lock, so a vote of the same voter
        committed while it waited is missed here: `add_vote` checks the cooldown and the
        quota again, under the lock."""
        if not self.postgres:
            await self.lock_voter(chat_id, voter_id)
            return await self.vote_checks(chat_id, voter_id, target_id, windows, up)
        params = {
            "lock_key": _lock_key(chat_id, voter_id),
            "chat_id": chat_id,
            "voter_id": voter_id,
            "target_id": target_id,
            "up": up,
            **windows.params(),
        }
        connection = await self.session.connection()  # Core: a hot path needs no ORM
        row = (await connection.execute(_LOCK_AND_CHECK_PG, params)).one()
        return _checks(row[1:])

    async def add_vote(
        self,
        vote: NewVote,
        chat: ChatInfo,
        voter: UserProfile,
        target: UserProfile,
        windows: CheckWindows,
        *,
        cooldown: bool,
        quota: int,
        down_cap: float,
    ) -> tuple[int, float, float] | None:
        """The chat's and both members' profiles kept current (written only when they
        changed), the event row, and the target's total moved by its delta (atomically):
        (event id, delta, new total). PostgreSQL, in one round trip, writes the event only
        if the cooldown, the quota and the daily cap on downvotes still allow it (None
        when they refuse); SQLite's one writer kept the checks current, so it runs the
        plain statements."""
        if not self.postgres:
            users = UserRepository(self.session)
            await ChatRepository(self.session).remember(chat)
            await users.remember(voter)
            await users.remember(target)
            event_id, delta = await self.add_event(vote)
            total = await self.add_to_total(vote.chat_id, vote.target_id, delta)
            return event_id, delta, total
        params: dict[str, Any] = {
            **vote.params(),
            "source": vote.source.value,
            "chat_type": chat.type.value,
            "chat_title": chat.title,
            "chat_username": chat.username,
            "now": utcnow(),
            "cooldown_on": cooldown,
            "cooldown_since": windows.cooldown_since,
            "day_start": windows.day_start,
            "quota": quota,
            "down_cap": down_cap,
        }
        for prefix, user in (("v", voter), ("t", target)):
            params.update({f"{prefix}_{k}": v for k, v in user.model_dump().items()})
        connection = await self.session.connection()
        row = (await connection.execute(_ADD_VOTE_PG, params)).one_or_none()
        return None if row is None else (int(row[0]), vote.delta, float(row[1]))

    # ------------------------------------------------------------------ writes
    async def add_event(self, vote: NewVote) -> tuple[int, float]:
        """Record a vote; returns the event's id and delta."""
        # Core, not session.add + flush: a vote is a hot path and needs no ORM object.
        event_id = await self.session.scalar(_ADD_EVENT, {**vote.params(), "created_at": utcnow()})
        assert event_id is not None
        return event_id, vote.delta

    async def add_to_total(self, chat_id: int, user_id: int, delta: float) -> float:
        """karma = karma + delta in one atomic upsert; returns the new total."""
        key = {"chat_id": chat_id, "user_id": user_id}
        return float(
            await increment(
                self.session, KarmaTotal, key, "karma", delta, extra={"updated_at": utcnow()}
            )
        )

    async def get_event(self, event_id: int) -> EventRecord | None:
        row = (
            await self.session.execute(select(*_EVENT_COLUMNS).where(KarmaEvent.id == event_id))
        ).first()
        return EventRecord(*row) if row else None

    async def cancel_event(self, event_id: int, at: datetime) -> bool:
        """Mark the event cancelled; False when it already was (only one caller wins)."""
        result = await self.session.execute(
            update(KarmaEvent)
            .where(KarmaEvent.id == event_id, KarmaEvent.cancelled_at.is_(None))
            .values(cancelled_at=at)
            .returning(KarmaEvent.id)
        )
        return result.scalar_one_or_none() is not None

    # ------------------------------------------------------------------ sanctions
    async def downvoters(
        self, chat_id: int, target_id: int, since: datetime, event_id: int
    ) -> Downvoters:
        """Distinct members who downvoted the target with weight since `since`, with and
        without event `event_id` (the vote just cast). On (chat_id, target_id,
        created_at); run only when a downvote leaves the target at the limit or below."""
        live_down = and_(
            KarmaEvent.chat_id == chat_id,
            KarmaEvent.target_id == target_id,
            KarmaEvent.delta < 0,
            _live(since),
        )
        others = select(KarmaEvent.voter_id).where(live_down, KarmaEvent.id != event_id)
        row = (
            await self.session.execute(
                select(
                    select(func.count(KarmaEvent.voter_id.distinct()))
                    .where(live_down)
                    .scalar_subquery(),
                    select(func.count())
                    .select_from(others.distinct().subquery())
                    .scalar_subquery(),
                )
            )
        ).one()
        return Downvoters(int(row[0]), int(row[1]))

    async def counted_sanctions(self, chat_id: int, user_id: int) -> int:
        """Escalation steps the member had in the chat; those undone by undo do not count."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(KarmaRestriction)
            .where(
                KarmaRestriction.chat_id == chat_id,
                KarmaRestriction.user_id == user_id,
                or_(
                    KarmaRestriction.lift_reason.is_(None),
                    KarmaRestriction.lift_reason != KarmaLift.UNDO,
                ),
            )
        )
        return int(count or 0)

    async def add_sanction(
        self,
        *,
        chat_id: int,
        user_id: int,
        event_id: int,
        step: int,
        kind: KarmaSanction,
        until: datetime | None,
    ) -> int:
        sanction = KarmaRestriction(
            chat_id=chat_id,
            user_id=user_id,
            event_id=event_id,
            step=step,
            kind=kind,
            until=until,
            created_at=utcnow(),
        )
        self.session.add(sanction)
        await self.session.flush()
        return sanction.id

    async def lift_sanction_of_event(
        self, event_id: int, at: datetime, by: int
    ) -> SanctionRecord | None:
        """Lift what this vote triggered (it stops counting for the escalation); the row
        as it was, or None when the vote triggered nothing still standing."""
        return await self._lift(KarmaRestriction.event_id == event_id, at, by, KarmaLift.UNDO)

    async def current_sanction(
        self, chat_id: int, user_id: int, now: datetime
    ) -> SanctionRecord | None:
        """The member's sanction in force: not lifted, not expired."""
        row = (
            await self.session.execute(
                select(*_SANCTION_COLUMNS)
                .where(
                    KarmaRestriction.chat_id == chat_id,
                    KarmaRestriction.user_id == user_id,
                    KarmaRestriction.lifted_at.is_(None),
                    or_(KarmaRestriction.until.is_(None), KarmaRestriction.until > now),
                )
                .order_by(KarmaRestriction.created_at.desc(), KarmaRestriction.id.desc())
                .limit(1)
            )
        ).first()
        return SanctionRecord(*row) if row else None

    async def pardon(self, sanction_id: int, at: datetime, by: int) -> SanctionRecord | None:
        return await self._lift(KarmaRestriction.id == sanction_id, at, by, KarmaLift.PARDON)

    async def _lift(
        self, where: ColumnElement[bool], at: datetime, by: int, reason: KarmaLift
    ) -> SanctionRecord | None:
        """Only one caller lifts a sanction (the UPDATE's WHERE decides); the sanction as
        it was, or None."""
        row = (
            await self.session.execute(
                update(KarmaRestriction)
                .where(where, KarmaRestriction.lifted_at.is_(None))
                .values(lifted_at=at, lifted_by=by, lift_reason=reason)
                .returning(*_SANCTION_COLUMNS)
            )
        ).first()
        return SanctionRecord(*row) if row else None

    # ------------------------------------------------------------------ reactions
    async def reactions_enabled(self, chat_id: int) -> bool:
        on = await self.session.scalar(select(Chat.karma_reactions).where(Chat.id == chat_id))
        return bool(on)

    async def set_reactions(self, chat_id: int, on: bool) -> None:
        await self.session.execute(
            update(Chat).where(Chat.id == chat_id).values(karma_reactions=on, updated_at=utcnow())
        )

    async def remember_author(self, chat_id: int, message_id: int, user_id: int) -> None:
        values = {
            "chat_id": chat_id,
            "message_id": message_id,
            "user_id": user_id,
            "created_at": utcnow(),
        }
        await upsert(
            self.session,
            KarmaMessageAuthor,
            values,
            conflict=["chat_id", "message_id"],
            update=["user_id"],
            unless_same=["user_id"],
        )

    async def reaction_target(self, chat_id: int, message_id: int) -> UserProfile | None:
        """The author of a remembered message, if the chat counts reactions."""
        row = (
            await self.session.execute(
                select(*_PROFILE_COLUMNS)
                .join(KarmaMessageAuthor, KarmaMessageAuthor.user_id == User.id)
                .join(Chat, Chat.id == KarmaMessageAuthor.chat_id)
                .where(
                    KarmaMessageAuthor.chat_id == chat_id,
                    KarmaMessageAuthor.message_id == message_id,
                    Chat.karma_reactions.is_(True),
                )
            )
        ).first()
        return UserProfile.model_validate(row._mapping) if row else None

    async def live_reaction(
        self, chat_id: int, voter_id: int, message_id: int
    ) -> EventRecord | None:
        """The standing reaction vote of this voter on this message."""
        row = (
            await self.session.execute(
                select(*_EVENT_COLUMNS)
                .where(
                    KarmaEvent.chat_id == chat_id,
                    KarmaEvent.voter_id == voter_id,
                    KarmaEvent.message_id == message_id,
                    KarmaEvent.source == KarmaSource.REACTION,
                    KarmaEvent.cancelled_at.is_(None),
                )
                .order_by(KarmaEvent.id.desc())
                .limit(1)
            )
        ).first()
        return EventRecord(*row) if row else None

    async def prune_authors(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(KarmaMessageAuthor)
            .where(KarmaMessageAuthor.created_at < before)
            .returning(KarmaMessageAuthor.message_id)
        )
        return len(result.all())

    # ------------------------------------------------------------------ reading
    def _ranked(self, chat_id: int, since: datetime | None) -> Select[tuple[int, float, int]]:
        """(user_id, karma, rank) of every member: totals, or gains since `since`."""
        if since is None:
            base = select(
                KarmaTotal.user_id.label("user_id"), KarmaTotal.karma.label("karma")
            ).where(KarmaTotal.chat_id == chat_id)
        else:
            gained = func.sum(KarmaEvent.delta)
            base = (
                select(KarmaEvent.target_id.label("user_id"), gained.label("karma"))
                .where(KarmaEvent.chat_id == chat_id, _live(since))
                .group_by(KarmaEvent.target_id)
            )
        scores = base.subquery("scores")
        rank = func.rank().over(order_by=scores.c.karma.desc())
        return select(scores.c.user_id, scores.c.karma, rank.label("rank"))

    async def leaderboard(
        self, chat_id: int, since: datetime | None, limit: int
    ) -> list[RankedMember]:
        ranked = self._ranked(chat_id, since).subquery("ranked")
        rows = await self.session.execute(
            select(ranked.c.user_id, _full_name(User), ranked.c.karma, ranked.c.rank)
            .join(User, User.id == ranked.c.user_id)
            .order_by(ranked.c.rank, ranked.c.user_id)
            .limit(limit)
        )
        return [RankedMember(u, n, float(k), int(r)) for u, n, k, r in rows]

    async def position(
        self, chat_id: int, user_id: int, since: datetime | None
    ) -> RankedMember | None:
        """The member's row of the leaderboard, or None when they have no karma there."""
        ranked = self._ranked(chat_id, since).subquery("ranked")
        row = (
            await self.session.execute(
                select(ranked.c.user_id, _full_name(User), ranked.c.karma, ranked.c.rank)
                .join(User, User.id == ranked.c.user_id)
                .where(ranked.c.user_id == user_id)
            )
        ).first()
        return RankedMember(row[0], row[1], float(row[2]), int(row[3])) if row else None

    async def ranked_count(self, chat_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(KarmaTotal).where(KarmaTotal.chat_id == chat_id)
        )
        return int(count or 0)

    async def history(self, chat_id: int, target_id: int, limit: int) -> list[HistoryRow]:
        voter = aliased(User)
        rows = await self.session.execute(
            select(
                KarmaEvent.id,
                KarmaEvent.voter_id,
                _full_name(voter),
                KarmaEvent.delta,
                KarmaEvent.message_id,
                KarmaEvent.created_at,
                KarmaEvent.cancelled_at,
            )
            .join(voter, voter.id == KarmaEvent.voter_id)
            .where(KarmaEvent.chat_id == chat_id, KarmaEvent.target_id == target_id)
            .order_by(KarmaEvent.created_at.desc(), KarmaEvent.id.desc())
            .limit(limit)
        )
        return [
            HistoryRow(i, v, n, float(d), m, c, cancelled is not None)
            for i, v, n, d, m, c, cancelled in rows
        ]
