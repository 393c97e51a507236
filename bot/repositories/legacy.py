"""Writes of `import-legacy`, and the look-ups that make it idempotent: users and
memberships are keyed on Telegram ids, applications and karma on the legacy ids recorded
in `legacy_imports`. Existing rows are never overwritten: what the bot wrote since is
newer than anything in the legacy file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import (
    ApplicationSource,
    ApplicationStatus,
    ChatType,
    MemberRole,
    MemberStatus,
)
from bot.db.models import (
    Application,
    ApplicationAnswer,
    ApplicationEvent,
    Chat,
    KarmaTotal,
    LegacyImport,
    Membership,
    User,
)
from bot.repositories.upsert import increment

_CHUNK = 500  # ids per IN (...) look-up


@dataclass(frozen=True, slots=True)
class NewUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewMember:
    user_id: int
    status: MemberStatus
    role: MemberRole
    joined_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewApplication:
    user_id: int
    status: ApplicationStatus
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    expires_at: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    answers: tuple[tuple[str, str], ...]
    event: dict[str, Any]  # details of the audit row that records the import


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class LegacyImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, model: Any) -> Any:
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    async def _present(self, stmt: Any, column: Any, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for batch in _chunks(ids):
            found.update(await self.session.scalars(stmt.where(column.in_(batch))))
        return found

    # ------------------------------------------------------------------ look-ups
    async def existing_users(self, ids: Iterable[int]) -> set[int]:
        return await self._present(select(User.id), User.id, ids)

    async def existing_members(self, chat_id: int, ids: Iterable[int]) -> set[int]:
        stmt = select(Membership.user_id).where(Membership.chat_id == chat_id)
        return await self._present(stmt, Membership.user_id, ids)

    async def imported(self, source: str, legacy_ids: Iterable[int]) -> set[int]:
        stmt = select(LegacyImport.legacy_id).where(LegacyImport.source == source)
        return await self._present(stmt, LegacyImport.legacy_id, legacy_ids)

    async def with_open_application(self, chat_id: int, ids: Iterable[int]) -> set[int]:
        stmt = select(Application.user_id).where(
            Application.chat_id == chat_id,
            Application.status.in_((ApplicationStatus.DRAFT, ApplicationStatus.PENDING)),
        )
        return await self._present(stmt, Application.user_id, ids)

    # ------------------------------------------------------------------ writes
    async def ensure_chat(self, chat_id: int, at: datetime) -> None:
        """The community chat's row, if the bot has not met the chat yet (the next update
        from it fills in the title)."""
        await self.session.execute(
            self._insert(Chat)
            .values(id=chat_id, type=ChatType.SUPERGROUP, created_at=at, updated_at=at)
            .on_conflict_do_nothing(index_elements=["id"])
        )

    async def add_users(self, users: list[NewUser]) -> None:
        if users:
            stmt = self._insert(User).on_conflict_do_nothing(index_elements=["id"])
            await self.session.execute(stmt, [asdict(u) for u in users])

    async def add_members(self, chat_id: int, members: list[NewMember]) -> None:
        if members:
            stmt = self._insert(Membership).on_conflict_do_nothing(
                index_elements=["chat_id", "user_id"]
            )
            await self.session.execute(stmt, [{"chat_id": chat_id, **asdict(m)} for m in members])

    async def add_karma(self, chat_id: int, user_id: int, karma: float, at: datetime) -> None:
        """Added to whatever the member earned here already."""
        await increment(
            self.session,
            KarmaTotal,
            {"chat_id": chat_id, "user_id": user_id},
            "karma",
            karma,
            extra={"updated_at": at},
        )

    async def add_application(self, chat_id: int, app: NewApplication, at: datetime) -> int:
        values = asdict(app)
        answers, event = values.pop("answers"), values.pop("event")
        app_id: int = (
            await self.session.execute(
                insert(Application)
                .values(chat_id=chat_id, source=ApplicationSource.COMMAND, **values)
                .returning(Application.id)
            )
        ).scalar_one()
        if answers:
            await self.session.execute(
                insert(ApplicationAnswer),
                [
                    {
                        "application_id": app_id,
                        "position": position,
                        "question": question,
                        "answer": answer,
                        "answered_at": app.submitted_at or app.created_at,
                    }
                    for position, (question, answer) in enumerate(answers)
                ],
            )
        await self.session.execute(
            insert(ApplicationEvent).values(
                application_id=app_id,
                actor_id=None,
                action="imported",
                details=event,
                created_at=at,
            )
        )
        return app_id

    async def record(self, source: str, legacy_id: int, target_id: int, at: datetime) -> None:
        """A plain insert: a concurrent second import fails on the primary key instead of
        writing the row twice."""
        await self.session.execute(
            insert(LegacyImport).values(
                source=source, legacy_id=legacy_id, target_id=target_id, imported_at=at
            )
        )
