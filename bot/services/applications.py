"""ApplicationService: membership applications from the first question to the decision.

The database is the truth: a draft row exists from the first question on (one open
application per user and chat, enforced by a partial unique index), answers are rows,
and every step writes an audit row (`application_events`). Moderators' decisions are
conditional UPDATEs on `status = 'pending'`, so two presses make one decision.
The Telegram side (cards, join requests, invite links) is the handlers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import ApplicationSource, ApplicationStatus, ChatType, MemberStatus
from bot.domain.dto import ApplicationDecision, ChatInfo, Decision, UserProfile, without_nul
from bot.errors import FeatureUnavailableError, NotAllowedError, UserFacingError
from bot.log import get_logger
from bot.repositories.applications import OPEN, ApplicationRepository, ApplicationView
from bot.repositories.memberships import MembershipRepository
from bot.repositories.users import ChatRepository
from bot.services.roster import RosterService
from bot.settings import Settings
from bot.texts import N_

log = get_logger(__name__)

DEFAULT_QUESTIONS = [
    N_("Tell us a little about yourself: who are you and what do you do?"),
    N_("Why do you want to join the community?"),
    N_("How did you hear about us?"),
]
DEFAULT_REJECT_REASONS = [
    N_("Not enough information in the answers"),
    N_("The community is not a fit for what you are looking for"),
    N_("Looks like spam or advertising"),
]


# A card missing this long after submission is posted again by the sweep.
CARD_RETRY_AFTER = timedelta(minutes=2)


_DECIDED = {
    Decision.APPROVE: ApplicationStatus.APPROVED,
    Decision.REJECT: ApplicationStatus.REJECTED,
    Decision.BAN: ApplicationStatus.BANNED,
}


class AlreadyDecidedError(UserFacingError):
    """Another moderator (or the sweep) got there first; nothing changed."""


@dataclass(frozen=True)
class Started:
    application: ApplicationView
    resumed: bool
    next_position: int | None  # None: every question answered, confirm next


@dataclass(frozen=True)
class SweepResult:
    reminded: list[ApplicationView]
    expired: list[tuple[ApplicationView, ApplicationStatus]]  # with the status they had
    digest: list[ApplicationView]
    cardless: list[ApplicationView] = field(default_factory=list)  # cards to post again


class ApplicationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.cfg = settings.applications
        self.repo = ApplicationRepository(session)

    # ------------------------------------------------------------------ configuration
    def questions(self) -> list[str]:
        return list(self.cfg.questions) or list(DEFAULT_QUESTIONS)

    def reject_reasons(self) -> list[str]:
        return list(self.settings.moderation.reject_reasons) or list(DEFAULT_REJECT_REASONS)

    def community_chat_id(self) -> int:
        """The chat applications are for; refuses clearly where the feature is not set up."""
        if not self.cfg.enabled:
            raise FeatureUnavailableError(N_("Applications are switched off here."))
        if self.settings.community.chat_id is None or self.settings.moderation.chat_id is None:
            raise FeatureUnavailableError(
                N_("Applications are not open yet: the moderators have not set them up.")
            )
        return self.settings.community.chat_id

    # ------------------------------------------------------------------ the applicant
    async def start(
        self, applicant: UserProfile, source: ApplicationSource, now: datetime | None = None
    ) -> Started:
        """Resume the applicant's open application, or open a new draft if the
        re-apply rules allow it. Committed."""
        now = now or utcnow()
        chat_id = self.community_chat_id()
        await RosterService(self.session).remember_user(applicant)
        await self._ensure_chat(chat_id)
        existing = await self.repo.open_for(applicant.id, chat_id)
        if existing is None:
            await self._check_history(applicant.id, chat_id, now)
            app_id = await self.repo.create(
                applicant.id, chat_id, source, now + timedelta(hours=self.cfg.expire_after_h), now
            )
            if app_id is not None:
                await self.repo.add_event(app_id, applicant.id, "started", {"source": source})
                await self.session.commit()
                metrics.APPLICATIONS.labels("started").inc()
                view = await self._get(app_id)
                log.info("application started", application_id=app_id, source=source)
                return Started(view, False, 0)
            existing = await self.repo.open_for(applicant.id, chat_id)  # lost a race
            assert existing is not None
        if source == ApplicationSource.JOIN_REQUEST and existing.source != source:
            # Applied with /apply, then asked to join: approval approves the request.
            await self.repo.set_fields(existing.id, source=source)
            await self.repo.add_event(existing.id, applicant.id, "join_request")
        await self.session.commit()
        view = await self._get(existing.id)
        return Started(view, True, self.next_position(view))

    def next_position(self, view: ApplicationView) -> int | None:
        if view.status != ApplicationStatus.DRAFT:
            return None
        answered = {a.position for a in view.answers}
        return next((i for i in range(len(self.questions())) if i not in answered), None)

    async def answer(
        self,
        app_id: int,
        user_id: int,
        position: int,
        text: str | None = None,
        job_id: int | None = None,
    ) -> ApplicationView:
        """Record (or replace) the answer to question `position`: typed text, or a voice
        note's transcription job. Committed."""
        questions = self.questions()
        if not 0 <= position < len(questions):
            raise UserFacingError(N_("That question does not exist any more; send /apply again."))
        if job_id is None:
            text = without_nul(text or "").strip()
            if not text:
                raise UserFacingError(N_("The answer is empty; please write a few words."))
            if len(text) > self.cfg.max_answer_len:
                raise UserFacingError(
                    N_("That is {length} characters; please keep it under {limit}."),
                    length=len(text),
                    limit=self.cfg.max_answer_len,
                )
        await self._own_draft(app_id, user_id)
        await self.repo.set_answer(app_id, position, questions[position], text, job_id)
        await self.repo.add_event(
            app_id, user_id, "answered", {"position": position, "voice": job_id is not None}
        )
        await self.session.commit()
        return await self._get(app_id)

    async def submit(
        self, app_id: int, user_id: int, now: datetime | None = None
    ) -> ApplicationView:
        now = now or utcnow()
        view = await self._own_draft(app_id, user_id)
        if self.next_position(view) is not None:
            raise UserFacingError(N_("Please answer every question first."))
        moved = await self.repo.transition(
            app_id,
            (ApplicationStatus.DRAFT,),
            status=ApplicationStatus.PENDING,
            submitted_at=now,
            expires_at=now + timedelta(hours=self.cfg.expire_after_h),
            reminded_at=None,
        )
        if not moved:
            raise UserFacingError(N_("This application was already sent."))
        await self.repo.add_event(app_id, user_id, "submitted")
        await self.session.commit()
        metrics.APPLICATIONS.labels("submitted").inc()
        log.info("application submitted", application_id=app_id)
        return await self._get(app_id)

    async def withdraw(self, app_id: int, user_id: int) -> ApplicationView:
        view = await self._get(app_id)
        if view.user_id != user_id:
            raise NotAllowedError(N_("This is not your application."))
        if not await self.repo.transition(app_id, OPEN, status=ApplicationStatus.WITHDRAWN):
            raise UserFacingError(N_("This application is already closed."))
        await self.repo.add_event(app_id, user_id, "withdrawn")
        await self.session.commit()
        metrics.APPLICATIONS.labels("withdrawn").inc()
        return await self._get(app_id)

    async def current(self, user_id: int) -> ApplicationView | None:
        """The user's open application (draft or pending), if any."""
        if self.settings.community.chat_id is None:
            return None
        return await self.repo.open_for(user_id, self.settings.community.chat_id)

    async def draft_of(self, app_id: int, user_id: int) -> ApplicationView:
        """The applicant's draft (the questionnaire's state points at it)."""
        return await self._own_draft(app_id, user_id)

    # ------------------------------------------------------------------ moderators
    async def card_posted(self, app_id: int, chat_id: int, message_id: int) -> None:
        await self.repo.set_fields(app_id, card_chat_id=chat_id, card_message_id=message_id)
        await self.repo.add_event(app_id, None, "card_posted", {"chat_id": chat_id})
        await self.session.commit()

    async def on_card(self, app_id: int, chat_id: int, message_id: int) -> ApplicationView:
        """The application behind a button of the card at (chat_id, message_id); a button
        pressed anywhere else is forged or stale."""
        view = await self.repo.get(app_id)
        if view is None or (view.card_chat_id, view.card_message_id) != (chat_id, message_id):
            raise UserFacingError(N_("This button is not valid."))
        return view

    async def decide(self, request: ApplicationDecision) -> ApplicationView:
        """One decision per application: the conditional UPDATE matches only while it is
        pending, so of two concurrent presses exactly one wins. Committed."""
        await self.on_card(request.application_id, request.card_chat_id, request.card_message_id)
        decision = request.decision
        now = utcnow()
        won = await self.repo.transition(
            request.application_id,
            (ApplicationStatus.PENDING,),
            status=_DECIDED[decision],
            decided_by=request.moderator_id,
            decided_at=now,
            reason=request.reason,
            reason_shared=request.share_reason and request.reason is not None,
        )
        if not won:
            await self.session.rollback()
            current = await self._get(request.application_id)
            log.info("application already decided", application_id=current.id)
            raise AlreadyDecidedError(N_("Too late: this application is no longer pending."))
        # The audit row names a canned reason; a typed one may describe the applicant,
        # so it stays on the application only (where /forgetme erases it), not copied.
        typed = request.reason is not None and request.reason not in self.reject_reasons()
        details: dict[str, Any] = {
            "reason": None if typed else request.reason,
            "typed_reason": typed,
            "shared": request.share_reason,
        }
        await self.repo.add_event(request.application_id, request.moderator_id, decision, details)
        await self.session.commit()
        metrics.APPLICATIONS.labels(_DECIDED[decision].value).inc()
        log.info(
            "application decided",
            application_id=request.application_id,
            decision=decision,
            moderator_id=request.moderator_id,
        )
        return await self._get(request.application_id)

    async def record(
        self, app_id: int, action: str, actor_id: int | None = None, **details: Any
    ) -> None:
        """An audit row for a step taken outside the database (a Bot API call). Committed."""
        await self.repo.add_event(app_id, actor_id, action, details or None)
        await self.session.commit()

    async def invite_created(self, app_id: int, link: str) -> None:
        await self.repo.set_fields(app_id, invite_link=link)
        await self.repo.add_event(app_id, None, "invite_link_created")
        await self.session.commit()

    async def member_joined(
        self, app_id: int, how: str, at: datetime | None = None
    ) -> ApplicationView:
        """The approved applicant is in the chat: the roster gets the member. Committed."""
        view = await self._get(app_id)
        await MembershipRepository(self.session).record(
            view.chat_id, view.user_id, MemberStatus.ACTIVE, at=at
        )
        await self.repo.add_event(app_id, view.user_id, "joined", {"via": how})
        await self.session.commit()
        return view

    async def link_misused(self, app_id: int, user_id: int, what: str) -> bool:
        """Someone other than the applicant used the application's personal link (`what`:
        "declined" or "joined"): an audit row. True the first time for this person, so
        the moderators are told once, however often they try. Committed."""
        first = not await self.repo.has_event(app_id, "invite_link_misused", user_id)
        await self.repo.add_event(app_id, user_id, "invite_link_misused", {"outcome": what})
        await self.session.commit()
        log.warning("invite link misused", application_id=app_id, user_id=user_id, outcome=what)
        return first

    async def joined_via_link(self, chat_id: int, link: str) -> ApplicationView | None:
        """The approved application whose invite link this is, if any."""
        return await self.repo.by_invite_link(chat_id, link)

    async def get(self, app_id: int) -> ApplicationView:
        return await self._get(app_id)

    async def for_transcription(self, job_id: int) -> list[ApplicationView]:
        return [await self._get(app_id) for app_id in await self.repo.ids_for_job(job_id)]

    async def events(self, app_id: int) -> list[tuple[str, int | None, dict[str, Any] | None]]:
        return await self.repo.events(app_id)

    # ------------------------------------------------------------------ the sweep
    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """Claim what is due (each item by exactly one replica) and commit; the caller
        sends the reminders, expiry notices and the digest."""
        now = now or utcnow()
        reminded_ids: list[int] = []
        if self.cfg.remind_before_h > 0:
            reminded_ids = await self.repo.claim_reminders(
                now, timedelta(hours=self.cfg.remind_before_h)
            )
            for app_id in reminded_ids:
                await self.repo.add_event(app_id, None, "reminded")
        expired_ids = await self.repo.claim_expired(now)
        for app_id, _ in expired_ids:
            await self.repo.add_event(app_id, None, "expired")
        digest_ids = await self.repo.claim_digest(
            now, timedelta(hours=self.cfg.digest_after_h), timedelta(hours=self.cfg.digest_every_h)
        )
        cardless_ids: list[int] = []
        if self.settings.moderation.chat_id is not None:
            cardless_ids = await self.repo.claim_cardless(
                now, self.settings.moderation.chat_id, CARD_RETRY_AFTER
            )
        await self.session.commit()
        if expired_ids:
            metrics.APPLICATIONS.labels("expired").inc(len(expired_ids))
        return SweepResult(
            reminded=[await self._get(i) for i in reminded_ids],
            expired=[(await self._get(i), status) for i, status in expired_ids],
            digest=[await self._get(i) for i in digest_ids],
            cardless=[await self._get(i) for i in cardless_ids],
        )

    async def card_failed(self, app_id: int, error: str) -> None:
        """The card could not be sent: the sweep tries again later."""
        await self.repo.set_fields(app_id, card_chat_id=None, card_message_id=None)
        await self.repo.add_event(app_id, None, "card_failed", {"error": error[:200]})
        await self.session.commit()

    # ------------------------------------------------------------------ helpers
    async def _get(self, app_id: int) -> ApplicationView:
        view = await self.repo.get(app_id)
        if view is None:
            raise UserFacingError(N_("This application no longer exists."))
        return view

    async def _own_draft(self, app_id: int, user_id: int) -> ApplicationView:
        view = await self._get(app_id)
        if view.user_id != user_id:
            raise NotAllowedError(N_("This is not your application."))
        if view.status != ApplicationStatus.DRAFT:
            raise UserFacingError(
                N_("This application is no longer open; send /apply to see where you stand.")
            )
        return view

    async def _ensure_chat(self, chat_id: int) -> None:
        chats = ChatRepository(self.session)
        if not await chats.known(chat_id):
            await chats.remember(ChatInfo(id=chat_id, type=ChatType.SUPERGROUP))

    async def _check_history(self, user_id: int, chat_id: int, now: datetime) -> None:
        stats = await self.repo.history(
            user_id, chat_id, now - timedelta(days=self.cfg.period_days)
        )
        if stats.banned:
            raise NotAllowedError(N_("You cannot apply to this community."))
        cooldown = timedelta(hours=self.cfg.reapply_cooldown_h)
        if stats.last_rejected_at is not None and now < stats.last_rejected_at + cooldown:
            wait = stats.last_rejected_at + cooldown - now
            raise UserFacingError(
                N_("Your last application was declined; you can apply again in {hours} h."),
                hours=max(1, round(wait.total_seconds() / 3600)),
            )
        if stats.recent >= self.cfg.max_per_period:
            raise UserFacingError(
                N_("You have applied {count} times in {days} days; please try again later."),
                count=stats.recent,
                days=self.cfg.period_days,
            )


__all__ = [
    "DEFAULT_QUESTIONS",
    "DEFAULT_REJECT_REASONS",
    "AlreadyDecidedError",
    "ApplicationService",
    "Decision",
    "Started",
    "SweepResult",
]
