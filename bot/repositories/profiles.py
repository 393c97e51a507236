"""What the bot's own records say about one user (/whoami), and erasing their personal
data (/forgetme)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, null, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import ApplicationStatus, JobStatus, MemberRole, MemberStatus
from bot.db.models import (
    Application,
    ApplicationAnswer,
    ApplicationEvent,
    Chat,
    KarmaEvent,
    Membership,
    TranscriptionJob,
    User,
)
from bot.repositories.jobs import AUDIO_SECONDS

FINAL_JOBS = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
OPEN_APPLICATIONS = (ApplicationStatus.DRAFT, ApplicationStatus.PENDING)
DECIDED = (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.BANNED)
DECISION_ACTIONS = ("approve", "reject", "ban")  # the audit rows of decisions
# What a forgotten profile keeps: the id (bans and decisions refer to it) and a placeholder
# for the NOT NULL first name.
FORGOTTEN_NAME = "—"


@dataclass(frozen=True, slots=True)
class StoredUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    ui_language: str | None
    is_premium: bool | None
    is_bot: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: int
    type: str
    title: str | None


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    status: MemberStatus
    role: MemberRole
    joined_at: datetime | None
    left_at: datetime | None
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    status: ApplicationStatus
    created_at: datetime
    decided_at: datetime | None


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading
    async def user(self, user_id: int) -> StoredUser | None:
        row = (
            await self.session.execute(
                select(
                    User.id,
                    User.first_name,
                    User.last_name,
                    User.username,
                    User.language_code,
                    User.ui_language,
                    User.is_premium,
                    User.is_bot,
                    User.created_at,
                ).where(User.id == user_id)
            )
        ).first()
        return StoredUser(*row) if row else None

    async def chat(self, chat_id: int) -> ChatRecord | None:
        row = (
            await self.session.execute(
                select(Chat.id, Chat.type, Chat.title).where(Chat.id == chat_id)
            )
        ).first()
        return ChatRecord(row[0], str(row[1]), row[2]) if row else None

    async def membership(self, chat_id: int, user_id: int) -> MembershipRecord | None:
        row = (
            await self.session.execute(
                select(
                    Membership.status,
                    Membership.role,
                    Membership.joined_at,
                    Membership.left_at,
                    Membership.last_seen_at,
                ).where(Membership.chat_id == chat_id, Membership.user_id == user_id)
            )
        ).first()
        return MembershipRecord(*row) if row else None

    async def latest_application(self, user_id: int) -> ApplicationRecord | None:
        row = (
            await self.session.execute(
                select(Application.status, Application.created_at, Application.decided_at)
                .where(Application.user_id == user_id)
                .order_by(Application.created_at.desc(), Application.id.desc())
                .limit(1)
            )
        ).first()
        return ApplicationRecord(*row) if row else None

    async def transcription_usage(self, user_id: int) -> tuple[int, float]:
        """Finished transcriptions of the user's audio: how many, and seconds of audio."""
        count, total = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.sum(AUDIO_SECONDS), 0.0)).where(
                    TranscriptionJob.user_id == user_id,
                    TranscriptionJob.status == JobStatus.DONE,
                )
            )
        ).one()
        return int(count), float(total)

    # ------------------------------------------------------------------ forgetting
    async def clear_profile(self, user_id: int, at: datetime) -> bool:
        """Names, username, languages and premium flag; False when there was nothing."""
        result: Any = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(
                    User.first_name != FORGOTTEN_NAME,
                    *(
                        column.is_not(None)
                        for column in (
                            User.last_name,
                            User.username,
                            User.language_code,
                            User.ui_language,
                            User.is_premium,
                        )
                    ),
                ),
            )
            .values(
                first_name=FORGOTTEN_NAME,
                last_name=None,
                username=None,
                language_code=None,
                ui_language=None,
                is_premium=None,
                updated_at=at,
            )
        )
        return bool(result.rowcount)

    async def clear_transcripts(self, user_id: int, at: datetime) -> int:
        """Texts, segments and file ids of the finished jobs of the user's voice and of
        those they asked for. The rows stay (without content) so the daily transcription
        quota still counts them."""
        result: Any = await self.session.execute(
            update(TranscriptionJob)
            .where(
                # Their voice (speaker) or their request (requester).
                or_(TranscriptionJob.user_id == user_id, TranscriptionJob.speaker_id == user_id),
                TranscriptionJob.status.in_(FINAL_JOBS),
                or_(
                    TranscriptionJob.text.is_not(None),
                    TranscriptionJob.segments.is_not(None),
                    TranscriptionJob.file_id != "",
                ),
            )
            # null(): SQL NULL, not the JSON value null a plain None would store.
            .values(text=None, segments=null(), file_id="", error_message=None, updated_at=at)
        )
        return int(result.rowcount or 0)

    async def open_jobs(self, user_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                or_(TranscriptionJob.user_id == user_id, TranscriptionJob.speaker_id == user_id),
                TranscriptionJob.status.not_in(FINAL_JOBS),
            )
        )
        return int(count or 0)

    async def delete_answers(self, user_id: int) -> int:
        mine = select(Application.id).where(Application.user_id == user_id)
        result: Any = await self.session.execute(
            delete(ApplicationAnswer).where(ApplicationAnswer.application_id.in_(mine))
        )
        return int(result.rowcount or 0)

    async def withdraw_open_applications(self, user_id: int, at: datetime) -> int:
        """Open applications lose their answers, so they are withdrawn (with an audit row)."""
        ids = list(
            (
                await self.session.scalars(
                    update(Application)
                    .where(
                        Application.user_id == user_id, Application.status.in_(OPEN_APPLICATIONS)
                    )
                    .values(status=ApplicationStatus.WITHDRAWN, updated_at=at)
                    .returning(Application.id)
                )
            ).all()
        )
        if ids:
            await self.session.execute(
                insert(ApplicationEvent),
                [
                    {
                        "application_id": i,
                        "actor_id": user_id,
                        "action": "withdrawn",
                        "details": {"reason": "forgetme"},
                        "created_at": at,
                    }
                    for i in ids
                ],
            )
        return len(ids)

    async def erase_typed_reasons(self, user_id: int, canned: list[str]) -> int:
        """Reasons a moderator typed when deciding the user's applications (not one of the
        `canned` reasons): removed from the applications and from their audit rows
        (rows from before typed reasons were kept out of them). Returns how many
        applications had one."""
        mine = select(Application.id).where(Application.user_id == user_id)
        result: Any = await self.session.execute(
            update(Application)
            .where(
                Application.user_id == user_id,
                Application.reason.is_not(None),
                Application.reason.not_in(canned) if canned else true(),
            )
            .values(reason=None)
        )
        events = await self.session.execute(
            select(ApplicationEvent.id, ApplicationEvent.details).where(
                ApplicationEvent.application_id.in_(mine),
                ApplicationEvent.action.in_(DECISION_ACTIONS),
            )
        )
        for event_id, details in events:
            reason = (details or {}).get("reason")
            if isinstance(reason, str) and reason not in canned:
                kept = {**details, "reason": None, "typed_reason": True}
                await self.session.execute(
                    update(ApplicationEvent)
                    .where(ApplicationEvent.id == event_id)
                    .values(details=kept)
                )
        return int(result.rowcount or 0)

    async def applications_with_cards(self, user_id: int) -> tuple[int, ...]:
        rows = await self.session.scalars(
            select(Application.id)
            .where(Application.user_id == user_id, Application.card_message_id.is_not(None))
            .order_by(Application.id)
        )
        return tuple(rows)

    async def kept_decisions(self, user_id: int) -> int:
        """Moderators' decisions on the user's applications (kept, with their audit rows)."""
        count = await self.session.scalar(
            select(func.count()).where(
                Application.user_id == user_id, Application.status.in_(DECIDED)
            )
        )
        return int(count or 0)

    async def clear_last_seen(self, user_id: int) -> int:
        result: Any = await self.session.execute(
            update(Membership)
            .where(Membership.user_id == user_id, Membership.last_seen_at.is_not(None))
            .values(last_seen_at=None)
        )
        return int(result.rowcount or 0)

    async def karma_events(self, user_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                or_(KarmaEvent.voter_id == user_id, KarmaEvent.target_id == user_id)
            )
        )
        return int(count or 0)
