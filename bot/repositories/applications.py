"""Applications, their answers and audit rows. State changes are conditional UPDATEs
(`... WHERE status = 'pending'`), so concurrent moderators, replicas and sweeps each
change a row at most once; the one whose UPDATE matched owns the step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import ApplicationSource, ApplicationStatus, JobStatus
from bot.db.models import Application, ApplicationAnswer, ApplicationEvent, TranscriptionJob, User
from bot.domain.dto import full_name
from bot.repositories.upsert import upsert

OPEN = (ApplicationStatus.DRAFT, ApplicationStatus.PENDING)


@dataclass(frozen=True)
class AnswerView:
    position: int
    question: str
    text: str | None
    job_id: int | None = None
    job_status: JobStatus | None = None
    job_text: str | None = None

    @property
    def shown(self) -> str | None:
        """The typed answer, or the voice answer's transcript once it is ready."""
        return self.text if self.text is not None else self.job_text


@dataclass(frozen=True)
class ApplicationView:
    id: int
    user_id: int
    chat_id: int
    source: ApplicationSource
    status: ApplicationStatus
    created_at: datetime
    submitted_at: datetime | None
    expires_at: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    reason_shared: bool
    card_chat_id: int | None
    card_message_id: int | None
    invite_link: str | None
    applicant_name: str = ""
    applicant_username: str | None = None
    applicant_locale: str | None = None  # ui_language, else Telegram's language_code
    decider_name: str | None = None
    answers: list[AnswerView] = field(default_factory=list)


def _view(app: Application, applicant: User | None, decider: User | None) -> ApplicationView:
    name = full_name(applicant.first_name, applicant.last_name) if applicant else ""
    return ApplicationView(
        id=app.id,
        user_id=app.user_id,
        chat_id=app.chat_id,
        source=app.source,
        status=app.status,
        created_at=app.created_at,
        submitted_at=app.submitted_at,
        expires_at=app.expires_at,
        decided_by=app.decided_by,
        decided_at=app.decided_at,
        reason=app.reason,
        reason_shared=app.reason_shared,
        card_chat_id=app.card_chat_id,
        card_message_id=app.card_message_id,
        invite_link=app.invite_link,
        applicant_name=name,
        applicant_username=applicant.username if applicant else None,
        applicant_locale=(applicant.ui_language or applicant.language_code) if applicant else None,
        decider_name=decider.first_name if decider is not None else None,
    )


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading
    async def get(self, app_id: int, *, with_answers: bool = True) -> ApplicationView | None:
        app = await self.session.get(Application, app_id, populate_existing=True)
        if app is None:
            return None
        applicant = await self.session.get(User, app.user_id)
        decider = await self.session.get(User, app.decided_by) if app.decided_by else None
        view = _view(app, applicant, decider)
        if with_answers:
            view.answers.extend(await self.answers(app_id))
        return view

    async def answers(self, app_id: int) -> list[AnswerView]:
        rows = await self.session.execute(
            select(ApplicationAnswer, TranscriptionJob.status, TranscriptionJob.text)
            .outerjoin(
                TranscriptionJob, TranscriptionJob.id == ApplicationAnswer.transcription_job_id
            )
            .where(ApplicationAnswer.application_id == app_id)
            .order_by(ApplicationAnswer.position)
            # Answers are written by a Core upsert: a copy this session loaded is stale.
            .execution_options(populate_existing=True)
        )
        return [
            AnswerView(a.position, a.question, a.answer, a.transcription_job_id, status, text)
            for a, status, text in rows
        ]

    async def open_for(self, user_id: int, chat_id: int) -> ApplicationView | None:
        app_id = await self.session.scalar(
            select(Application.id).where(
                Application.user_id == user_id,
                Application.chat_id == chat_id,
                Application.status.in_(OPEN),
            )
        )
        return await self.get(app_id) if app_id is not None else None

    async def by_invite_link(self, chat_id: int, link: str) -> ApplicationView | None:
        app_id = await self.session.scalar(
            select(Application.id).where(
                Application.chat_id == chat_id,
                Application.invite_link == link,
                Application.status == ApplicationStatus.APPROVED,
            )
        )
        return await self.get(app_id, with_answers=False) if app_id is not None else None

    async def ids_for_job(self, job_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(ApplicationAnswer.application_id).where(
                ApplicationAnswer.transcription_job_id == job_id
            )
        )
        return list(rows)

    async def history(self, user_id: int, chat_id: int, since: datetime) -> HistoryStats:
        """What re-apply protection needs: a ban ever, the last rejection, and how many
        applications were made since `since` (withdrawn drafts do not count)."""
        base = (Application.user_id == user_id, Application.chat_id == chat_id)
        banned = await self.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(*base, Application.status == ApplicationStatus.BANNED)
        )
        last_rejected = await self.session.scalar(
            select(func.max(Application.decided_at)).where(
                *base, Application.status == ApplicationStatus.REJECTED
            )
        )
        recent = await self.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(
                *base,
                Application.created_at >= since,
                or_(
                    Application.submitted_at.is_not(None),
                    Application.status.in_(OPEN),
                ),
            )
        )
        return HistoryStats(bool(banned), last_rejected, int(recent or 0))

    # ------------------------------------------------------------------ writing
    async def create(
        self,
        user_id: int,
        chat_id: int,
        source: ApplicationSource,
        expires_at: datetime,
        now: datetime,
    ) -> int | None:
        """A new draft; None when an open one exists already (a concurrent start won)."""
        app = Application(
            user_id=user_id,
            chat_id=chat_id,
            source=source,
            status=ApplicationStatus.DRAFT,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(app)
        except IntegrityError:
            return None
        return app.id

    async def set_answer(
        self, app_id: int, position: int, question: str, text: str | None, job_id: int | None
    ) -> None:
        """Insert or replace the answer at `position` in one statement: two answers sent
        at once (updates are handled concurrently) both land, the later one winning."""
        values = {
            "application_id": app_id,
            "position": position,
            "question": question,
            "answer": text,
            "transcription_job_id": job_id,
            "answered_at": utcnow(),
        }
        await upsert(
            self.session,
            ApplicationAnswer,
            values,
            conflict=["application_id", "position"],
            update=["question", "answer", "transcription_job_id", "answered_at"],
        )

    async def transition(
        self, app_id: int, from_: tuple[ApplicationStatus, ...], **values: Any
    ) -> bool:
        """Set `values` only if the application is in one of `from_`; True if it was."""
        result = await self.session.execute(
            update(Application)
            .where(Application.id == app_id, Application.status.in_(from_))
            .values(updated_at=utcnow(), **values)
            .returning(Application.id)
        )
        return result.scalar_one_or_none() is not None

    async def set_fields(self, app_id: int, **values: Any) -> None:
        await self.session.execute(
            update(Application)
            .where(Application.id == app_id)
            .values(updated_at=utcnow(), **values)
        )

    async def add_event(
        self, app_id: int, actor_id: int | None, action: str, details: dict[str, Any] | None = None
    ) -> None:
        self.session.add(
            ApplicationEvent(
                application_id=app_id, actor_id=actor_id, action=action, details=details
            )
        )
        await self.session.flush()

    async def has_event(self, app_id: int, action: str, actor_id: int | None) -> bool:
        found = await self.session.scalar(
            select(ApplicationEvent.id)
            .where(
                ApplicationEvent.application_id == app_id,
                ApplicationEvent.action == action,
                ApplicationEvent.actor_id == actor_id,
            )
            .limit(1)
        )
        return found is not None

    async def events(self, app_id: int) -> list[tuple[str, int | None, dict[str, Any] | None]]:
        rows = await self.session.execute(
            select(ApplicationEvent.action, ApplicationEvent.actor_id, ApplicationEvent.details)
            .where(ApplicationEvent.application_id == app_id)
            .order_by(ApplicationEvent.id)
        )
        return [(a, actor, d) for a, actor, d in rows]

    # ------------------------------------------------------------------ the sweep
    async def claim_reminders(self, now: datetime, remind_before: Any) -> list[int]:
        """Open applications within `remind_before` of expiry and not yet reminded.
        The UPDATE marks them, so each reminder is claimed by exactly one sweeper."""
        due = (
            select(Application.id)
            .where(
                Application.status.in_(OPEN),
                Application.reminded_at.is_(None),
                Application.expires_at > now,
                Application.expires_at <= now + remind_before,
            )
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(
            update(Application)
            .where(Application.id.in_(due.scalar_subquery()), Application.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(Application.id)
        )
        return sorted(result.scalars())

    async def claim_expired(self, now: datetime) -> list[tuple[int, ApplicationStatus]]:
        """Open applications past their deadline become `expired` (once, by one sweeper);
        returns (id, the status they had)."""
        due = (
            select(Application.id, Application.status)
            .where(Application.status.in_(OPEN), Application.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
        rows = list((await self.session.execute(due)).all())
        claimed = []
        for app_id, status in rows:
            if await self.transition(app_id, OPEN, status=ApplicationStatus.EXPIRED):
                claimed.append((app_id, status))
        return claimed

    async def claim_digest(self, now: datetime, waiting: Any, every: Any) -> list[int]:
        """Pending applications submitted more than `waiting` ago and not listed in a
        digest within `every`; marks them listed."""
        due = (
            select(Application.id)
            .where(
                Application.status == ApplicationStatus.PENDING,
                Application.submitted_at <= now - waiting,
                or_(Application.digested_at.is_(None), Application.digested_at <= now - every),
            )
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(
            update(Application)
            .where(
                Application.id.in_(due.scalar_subquery()),
                and_(
                    Application.status == ApplicationStatus.PENDING,
                    or_(Application.digested_at.is_(None), Application.digested_at <= now - every),
                ),
            )
            .values(digested_at=now)
            .returning(Application.id)
        )
        return sorted(result.scalars())

    async def claim_cardless(self, now: datetime, chat_id: int, older_than: Any) -> list[int]:
        """Pending applications whose card never reached the moderators (the send failed):
        claimed by setting card_chat_id, so one sweeper posts each."""
        due = (
            select(Application.id)
            .where(
                Application.status == ApplicationStatus.PENDING,
                Application.card_chat_id.is_(None),
                Application.submitted_at <= now - older_than,
            )
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(
            update(Application)
            .where(Application.id.in_(due.scalar_subquery()), Application.card_chat_id.is_(None))
            .values(card_chat_id=chat_id)
            .returning(Application.id)
        )
        return sorted(result.scalars())

    async def pending_stats(self) -> PendingStats:
        """Applications waiting for a moderator, and since when the oldest one waits."""
        count, oldest = (
            await self.session.execute(
                select(func.count(), func.min(Application.submitted_at)).where(
                    Application.status == ApplicationStatus.PENDING
                )
            )
        ).one()
        return PendingStats(int(count), oldest)


@dataclass(frozen=True)
class HistoryStats:
    banned: bool
    last_rejected_at: datetime | None
    recent: int


@dataclass(frozen=True)
class PendingStats:
    count: int
    oldest_submitted_at: datetime | None
