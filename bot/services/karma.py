"""KarmaService: weighted votes between chat members, their undo, ranks and history.

The rules (cooldown, daily quota, ring damping, the downvote rules and when a fall is
sanctioned: bot/domain/karma_rules.py) are derived from `karma_events` in the
database, so they hold across restarts and any number of bot replicas. A vote is one
transaction: the event row and an atomic `karma = karma + delta` upsert of the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import KarmaSanction, KarmaSource
from bot.domain.dto import ChatInfo, UserProfile, VoteRequest
from bot.domain.karma_rules import (
    EPSILON,
    downvote_weight,
    escalation_step,
    parse_escalation,
    ring_factor,
    sanction_due,
    vote_weight,
)
from bot.errors import FeatureUnavailableError, NotAllowedError, UserFacingError
from bot.log import get_logger
from bot.repositories.karma import (
    CheckWindows,
    EventRecord,
    HistoryRow,
    KarmaRepository,
    NewVote,
    RankedMember,
    SanctionRecord,
    VoteChecks,
)
from bot.services.roster import RosterService
from bot.settings import Settings
from bot.texts import N_

log = get_logger(__name__)

Period = Literal["week", "month", "all"]
PERIOD_DAYS: dict[str, int] = {"week": 7, "month": 30}
TOP_SIZE = 10
HISTORY_SIZE = 20


@dataclass(frozen=True, slots=True)
class VoteResult:
    event_id: int
    target_id: int
    target_name: str
    total: float  # the target's new total
    delta: float  # what this vote moved it by (direction * weight)
    weight: float
    ring_factor: float  # 1.0 unless ring damping reduced it
    sanction: Sanction | None = None  # this vote pushed the target down a step
    muted: bool = False  # a downvote of weight 0: the voter has no karma history here
    capped: bool = False  # a downvote cut to what the daily cap on it left


@dataclass(frozen=True, slots=True)
class Sanction:
    """An escalation step to apply (or lift) in Telegram."""

    kind: KarmaSanction
    until: datetime | None  # None: a ban (until lifted)
    step: int  # 0-based index in KARMA__ESCALATION


@dataclass(frozen=True, slots=True)
class CancelResult:
    event_id: int
    chat_id: int  # the vote's chat: where its sanction is lifted
    target_id: int
    target_name: str
    total: float
    delta: float  # the cancelled vote's delta, now subtracted
    lifted: Sanction | None = None  # what the vote had triggered, still standing: lift it


@dataclass(frozen=True, slots=True)
class ReactionResult:
    vote: VoteResult | None  # the reaction's new vote, if one was cast
    withdrawn: CancelResult | None  # the earlier reaction vote, cancelled


@dataclass(frozen=True, slots=True)
class PardonResult:
    user_id: int
    name: str
    lifted: Sanction


@dataclass(frozen=True, slots=True)
class KarmaStanding:
    user_id: int
    karma: float
    rank: int | None  # None: no karma in this chat yet
    ranked: int  # members with a total in the chat


@dataclass(frozen=True, slots=True)
class Leaderboard:
    period: Period
    top: list[RankedMember]
    me: RankedMember | None  # the caller's row when not in `top`


class KarmaService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings.karma
        self.repo = KarmaRepository(session)
        self.roster = RosterService(session)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def ensure_enabled(self) -> None:
        if not self.settings.enabled:
            raise FeatureUnavailableError(N_("Karma is switched off here."))

    async def vote(self, request: VoteRequest, *, now: datetime | None = None) -> VoteResult:
        """Cast a vote and commit it; refusals raise `UserFacingError` and change nothing."""
        self.ensure_enabled()
        now = now or utcnow()
        cfg = self.settings
        chat_id, voter, target = request.chat.id, request.voter, request.target
        if voter.id == target.id:
            raise UserFacingError(N_("You cannot vote for yourself."))
        if target.is_bot:
            raise UserFacingError(N_("Bots have no karma."))

        up = request.direction > 0
        windows = CheckWindows(
            cooldown_since=now - timedelta(seconds=cfg.cooldown_s),
            day_start=now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
            ring_since=now - timedelta(hours=cfg.ring_window_h),
            history_before=now - timedelta(hours=cfg.downvote_history_h),
        )
        checks = await self.repo.lock_and_check(chat_id, voter.id, target.id, windows, up)
        self._refuse(request, checks)
        vote, factor = self._weigh(request, checks)
        added = await self._add_vote(request, vote, windows)
        if added is None:
            # A vote of this voter got in while this one waited for the lock: check and
            # weigh again, now under the lock (nothing else can get in).
            checks = await self.repo.vote_checks(chat_id, voter.id, target.id, windows, up)
            self._refuse(request, checks)
            vote, factor = self._weigh(request, checks)
            added = await self._add_vote(request, vote, windows)
            if added is None:
                raise RuntimeError("the rechecks refused what fresh checks allow")
        event_id, delta, total = added
        sanction = None
        if delta < 0 and total <= cfg.restrict_below:  # rare: only then is it worth a look
            since = now - timedelta(days=cfg.sanction_window_d)
            voters = await self.repo.downvoters(chat_id, target.id, since, event_id)
            if sanction_due(
                total,
                delta,
                cfg.restrict_below,
                voters.with_vote,
                voters.without_vote,
                cfg.sanction_min_voters,
            ):
                sanction = await self._escalate(chat_id, target.id, event_id, total, now)
        await self.session.commit()  # durable before the reply offers to cancel it
        direction = "up" if request.direction > 0 else "down"
        metrics.KARMA_VOTES.labels(request.source.value, direction).inc()
        # The event row is the audit record; the log line is for debugging only.
        log.debug(
            "karma vote",
            event_id=event_id,
            target_id=target.id,
            delta=delta,
            ring_factor=factor,
            total=total,
        )
        weight = vote.weight
        capped = not up and checks.has_history and 0 < weight < self._base_weight(checks)
        return VoteResult(
            event_id,
            target.id,
            target.full_name,
            total,
            delta,
            weight,
            factor,
            sanction,
            muted=not up and not checks.has_history,
            capped=capped,
        )

    def _base_weight(self, checks: VoteChecks) -> float:
        cfg = self.settings
        return vote_weight(checks.voter_karma, cfg.weight_floor, cfg.weight_cap)

    def _weigh(self, request: VoteRequest, checks: VoteChecks) -> tuple[NewVote, float]:
        """The vote as it will be stored, and the ring factor applied to it."""
        cfg = self.settings
        weight = self._base_weight(checks)
        factor = 1.0
        if request.direction > 0:
            if cfg.ring_window_h:
                returns = checks.reciprocal_upvotes + checks.chain_upvotes
                factor = ring_factor(returns, cfg.ring_damping, cfg.ring_min_factor)
            weight *= factor
        else:
            weight = downvote_weight(
                weight, checks.has_history, checks.down_used_today, cfg.downvote_daily_cap
            )
        vote = NewVote(
            chat_id=request.chat.id,
            voter_id=request.voter.id,
            target_id=request.target.id,
            source=request.source,
            direction=request.direction,
            weight=weight,
            message_id=request.message_id,
            vote_message_id=request.vote_message_id,
        )
        return vote, factor

    async def _add_vote(
        self, request: VoteRequest, vote: NewVote, windows: CheckWindows
    ) -> tuple[int, float, float] | None:
        cfg = self.settings
        return await self.repo.add_vote(
            vote,
            request.chat,
            request.voter,
            request.target,
            windows,
            cooldown=cfg.cooldown_s > 0,
            quota=cfg.daily_quota,
            down_cap=cfg.downvote_daily_cap,
        )

    def _refuse(self, request: VoteRequest, checks: VoteChecks) -> None:
        """Raise the refusal the checks call for, if any."""
        cfg = self.settings
        if request.direction < 0 and checks.voter_karma <= 0:
            raise NotAllowedError(N_("You need positive karma to downvote."))
        if cfg.cooldown_s and checks.in_cooldown:
            raise UserFacingError(
                N_("You voted for {name} recently; try again later."),
                name=request.target.full_name,
            )
        if checks.cast_today >= cfg.daily_quota:
            raise UserFacingError(
                N_("You have used all {quota} of today's votes in this chat."),
                quota=cfg.daily_quota,
            )
        if (
            request.direction < 0
            and checks.has_history
            and checks.down_used_today >= cfg.downvote_daily_cap - EPSILON
        ):
            raise UserFacingError(
                N_("You have downvoted {name} as much as one member may today."),
                name=request.target.full_name,
            )

    async def _escalate(
        self, chat_id: int, user_id: int, event_id: int, total: float, now: datetime
    ) -> Sanction:
        """The next step of the ladder for a member whose karma just fell to the limit."""
        earlier = await self.repo.counted_sanctions(chat_id, user_id)
        index, step = escalation_step(parse_escalation(self.settings.escalation), earlier)
        until = now + step.duration if step.duration is not None else None
        await self.repo.add_sanction(
            chat_id=chat_id,
            user_id=user_id,
            event_id=event_id,
            step=index,
            kind=step.kind,
            until=until,
        )
        log.warning(
            "karma fell to the limit: sanction",
            chat_id=chat_id,
            event_id=event_id,
            target_id=user_id,
            total=total,
            step=index,
            kind=step.kind.value,
            earlier=earlier,
            until=until.isoformat() if until else None,
        )
        return Sanction(step.kind, until, index)

    async def cancel(
        self, event_id: int, user_id: int, chat_id: int, *, now: datetime | None = None
    ) -> CancelResult:
        """Undo a vote: only its voter, only in the vote's chat (`chat_id`: where the
        button was pressed), only within the undo window, only once."""
        self.ensure_enabled()
        now = now or utcnow()
        event = await self.repo.get_event(event_id)
        if event is None:
            raise UserFacingError(N_("This vote no longer exists."))
        if event.chat_id != chat_id:  # forged: another chat's vote
            raise NotAllowedError(N_("This button is not valid."))
        if event.voter_id != user_id:
            raise NotAllowedError(N_("Only the voter can cancel this vote."))
        if event.cancelled_at is not None:
            raise UserFacingError(N_("This vote is already cancelled."))
        if now - event.created_at > timedelta(seconds=self.settings.undo_window_s):
            raise UserFacingError(N_("Too late: a vote can be cancelled only soon after it."))
        cancelled = await self._reverse(event, now, user_id)
        if cancelled is None:
            raise UserFacingError(N_("This vote is already cancelled."))
        await self.session.commit()
        return cancelled

    async def _reverse(self, event: EventRecord, now: datetime, by: int) -> CancelResult | None:
        """Cancel a vote exactly: its delta off the total, its sanction lifted. None when
        it was cancelled already (only one caller wins)."""
        if not await self.repo.cancel_event(event.id, now):
            return None
        total = await self.repo.add_to_total(event.chat_id, event.target_id, -event.delta)
        row = await self.repo.lift_sanction_of_event(event.id, now, by)
        lifted = _in_force(row, now)
        name = await self.roster.user_name(event.target_id)
        if name is None:
            name = str(event.target_id)
        log.info(
            "karma vote cancelled",
            event_id=event.id,
            source=event.source.value,
            delta=event.delta,
            total=total,
            sanction_lifted=lifted.kind.value if lifted else None,
        )
        return CancelResult(
            event.id, event.chat_id, event.target_id, name, total, event.delta, lifted
        )

    # ------------------------------------------------------------------ reactions
    async def reactions_enabled(self, chat_id: int) -> bool:
        return self.settings.enabled and await self.repo.reactions_enabled(chat_id)

    async def set_reactions(self, chat: ChatInfo, on: bool) -> None:
        """Switch reaction votes in a chat (the caller checks the admin's rights)."""
        self.ensure_enabled()
        await self.roster.remember_chat(chat)
        await self.repo.set_reactions(chat.id, on)
        await self.session.commit()
        log.info("karma reactions switched", chat_id=chat.id, on=on)

    async def remember_author(
        self, chat_id: int, author: UserProfile, message_id: int, *, prune: bool = False
    ) -> None:
        """Note who wrote a message in a chat that counts reactions (a reaction update
        does not say). With `prune`, forget authors older than the reaction window."""
        await self.roster.remember_user(author)
        await self.repo.remember_author(chat_id, message_id, author.id)
        if prune:
            before = utcnow() - timedelta(hours=self.settings.reaction_window_h)
            pruned = await self.repo.prune_authors(before)
            log.debug("karma message authors pruned", rows=pruned)
        await self.session.commit()

    async def react(
        self,
        chat: ChatInfo,
        voter: UserProfile,
        message_id: int,
        old: int,
        new: int,
        *,
        now: datetime | None = None,
    ) -> ReactionResult | None:
        """A member's reactions on a message changed from voting `old` to `new` (+1, -1
        or 0): withdraw the earlier reaction vote exactly, cast the new one. Refusals are
        silent (logged at debug): a reaction is no place to answer. None when the chat
        counts no reactions or the message's author is not remembered."""
        if not self.settings.enabled or old == new:
            return None
        now = now or utcnow()
        author = await self.repo.reaction_target(chat.id, message_id)
        if author is None:
            return None
        withdrawn = None
        if old:
            event = await self.repo.live_reaction(chat.id, voter.id, message_id)
            if event is not None:
                withdrawn = await self._reverse(event, now, voter.id)
        vote = None
        if new:
            request = VoteRequest(
                chat=chat,
                voter=voter,
                target=author,
                direction=1 if new > 0 else -1,
                source=KarmaSource.REACTION,
                message_id=message_id,
            )
            try:
                vote = await self.vote(request, now=now)
            except UserFacingError as refusal:
                log.debug("karma reaction refused", chat_id=chat.id, reason=refusal.text)
        await self.session.commit()
        return ReactionResult(vote, withdrawn)

    async def pardon(
        self, chat_id: int, user_id: int, moderator_id: int, *, now: datetime | None = None
    ) -> PardonResult:
        """A moderator lifts the member's sanction in force. It still counts for the
        escalation (unlike an undone vote's). The caller checks the moderator's rights."""
        self.ensure_enabled()
        now = now or utcnow()
        name = await self.roster.user_name(user_id)
        if name is None:
            name = str(user_id)
        current = await self.repo.current_sanction(chat_id, user_id, now)
        lifted = await self.repo.pardon(current.id, now, moderator_id) if current else None
        sanction = _in_force(lifted, now)
        if sanction is None:
            raise UserFacingError(N_("{name} has no karma sanction to lift."), name=name)
        await self.session.commit()
        log.warning(
            "karma sanction pardoned",
            chat_id=chat_id,
            target_id=user_id,
            moderator_id=moderator_id,
            step=sanction.step,
            kind=sanction.kind.value,
        )
        return PardonResult(user_id, name, sanction)

    async def standing(self, chat_id: int, user_id: int) -> KarmaStanding:
        self.ensure_enabled()
        row = await self.repo.position(chat_id, user_id, None)
        ranked = await self.repo.ranked_count(chat_id)
        if row is None:
            return KarmaStanding(user_id, 0.0, None, ranked)
        return KarmaStanding(user_id, row.karma, row.rank, ranked)

    async def leaderboard(
        self, chat_id: int, period: Period, user_id: int, *, now: datetime | None = None
    ) -> Leaderboard:
        self.ensure_enabled()
        since = None
        if period != "all":
            since = (now or utcnow()) - timedelta(days=PERIOD_DAYS[period])
        top = await self.repo.leaderboard(chat_id, since, TOP_SIZE)
        me = None
        if all(row.user_id != user_id for row in top):
            me = await self.repo.position(chat_id, user_id, since)
        return Leaderboard(period, top, me)

    async def history(self, chat_id: int, target_id: int) -> list[HistoryRow]:
        self.ensure_enabled()
        return await self.repo.history(chat_id, target_id, HISTORY_SIZE)


def _in_force(row: SanctionRecord | None, now: datetime) -> Sanction | None:
    if row is None or (row.until is not None and row.until <= now):
        return None
    return Sanction(row.kind, row.until, row.step)
