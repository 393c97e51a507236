"""`import-legacy`: the legacy bot's profiles, roster and applications into this bot's
database, for the community chat (COMMUNITY__CHAT_ID).

The plan is computed first, from the legacy data and what the database already holds:
a dry run stops there and reports it, so it writes nothing and takes no write lock.
The import writes the plan in one transaction. Idempotent: users and memberships are
keyed on Telegram ids, applications and karma on legacy ids (`legacy_imports`), and rows
already here are left as they are, so a second import changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import ApplicationStatus
from bot.log import get_logger
from bot.repositories.legacy import LegacyImportRepository, NewApplication, NewMember, NewUser
from bot.services.legacy_source import (
    NO_NAME,
    TABLES,
    LegacyApplication,
    LegacyData,
    Person,
)
from bot.settings import ApplicationsSettings

log = get_logger(__name__)

KARMA = "profiles.karma"
APPLICATIONS = "applications"
DECIDED = (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.BANNED)


@dataclass(slots=True)
class TableReport:
    """One legacy table: rows read, what they become, what was wrong with them."""

    table: str
    read: int = 0
    new: int = 0  # written now (in a dry run: would be)
    existing: int = 0  # already in the database (imported before, or known to the bot)
    skipped: int = 0  # unusable rows
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    dry_run: bool
    chat_id: int
    tables: list[TableReport]
    # Rows written per table of this database (in a dry run: would be).
    writes: dict[str, int]
    ignored_tables: list[str]


@dataclass(slots=True)
class _Plan:
    users: list[NewUser]
    members: list[NewMember]
    karma: list[tuple[int, float]]
    applications: list[tuple[int, NewApplication]]  # (legacy id, row)


class LegacyImportService:
    def __init__(self, session: AsyncSession, settings: ApplicationsSettings) -> None:
        self.session = session
        self.settings = settings
        self.repo = LegacyImportRepository(session)

    async def run(self, data: LegacyData, chat_id: int, *, dry_run: bool) -> ImportReport:
        reports = {
            t: TableReport(
                t, data.rows_read[t], skipped=data.skipped[t], problems=list(data.problems[t])
            )
            for t in TABLES
        }
        plan = await self._plan(data, chat_id, reports)
        writes = {
            "users": len(plan.users),
            "memberships": len(plan.members),
            "karma_totals": len(plan.karma),
            "applications": len(plan.applications),
            "application_answers": sum(len(a.answers) for _, a in plan.applications),
        }
        if not dry_run:
            await self._write(plan, chat_id)
            await self.session.commit()
            log.warning("legacy data imported", chat_id=chat_id, **writes)
        else:
            await self.session.rollback()  # only reads happened; end the transaction
        return ImportReport(
            dry_run, chat_id, [reports[t] for t in TABLES], writes, data.ignored_tables
        )

    # ------------------------------------------------------------------ planning
    async def _plan(self, data: LegacyData, chat_id: int, reports: dict[str, TableReport]) -> _Plan:
        now = utcnow()
        people: dict[int, Person] = {p.user_id: p for p in data.profiles}
        for member in data.members:
            people.setdefault(member.person.user_id, member.person)
        for app in data.applications:
            if app.user_id not in people:
                people[app.user_id] = Person(app.user_id, NO_NAME, None, None, None, app.created_at)
                reports[APPLICATIONS].problems.append(
                    f"row {app.legacy_id}: applicant {app.user_id} has no profile; "
                    f"user stored without a name"
                )
        known = await self.repo.existing_users(people)
        users = [
            NewUser(
                p.user_id,
                p.first_name,
                p.last_name,
                p.username,
                p.language_code,
                p.created_at or now,
                now,
            )
            for p in people.values()
            if p.user_id not in known
        ]
        profiles = reports["profiles"]
        profiles.new = sum(1 for p in data.profiles if p.user_id not in known)
        profiles.existing = len(data.profiles) - profiles.new

        present = await self.repo.existing_members(
            chat_id, (m.person.user_id for m in data.members)
        )
        members = [
            NewMember(
                m.person.user_id,
                m.status,
                m.role,
                m.joined_at,
                m.joined_at or m.person.created_at or now,
                now,
            )
            for m in data.members
            if m.person.user_id not in present
        ]
        roster = reports["roster"]
        roster.new, roster.existing = len(members), len(data.members) - len(members)

        with_karma = [p for p in data.profiles if p.karma]
        karma_done = await self.repo.imported(KARMA, (p.user_id for p in with_karma))
        karma = [(p.user_id, p.karma) for p in with_karma if p.user_id not in karma_done]
        if karma_done:
            profiles.problems.append(f"karma of {len(karma_done)} users was imported before; kept")

        done = await self.repo.imported(APPLICATIONS, (a.legacy_id for a in data.applications))
        fresh = [a for a in data.applications if a.legacy_id not in done]
        apps = reports[APPLICATIONS]
        apps.existing = len(data.applications) - len(fresh)
        apps.new = len(fresh)
        open_here = await self.repo.with_open_application(chat_id, {a.user_id for a in fresh})
        applications = [
            (a.legacy_id, self._application(a, status))
            for a, status in self._open_rule(fresh, open_here, apps)
        ]
        return _Plan(users, members, karma, applications)

    @staticmethod
    def _open_rule(
        fresh: list[LegacyApplication], open_here: set[int], report: TableReport
    ) -> list[tuple[LegacyApplication, ApplicationStatus]]:
        """At most one open application per user and chat: the newest pending legacy
        one stays pending, unless the user has an open application here already; any
        other is imported as expired."""
        newest: dict[int, LegacyApplication] = {}
        for app in fresh:
            if app.status == ApplicationStatus.PENDING and app.user_id not in open_here:
                current = newest.get(app.user_id)
                if current is None or (app.created_at or utcnow(), app.legacy_id) > (
                    current.created_at or utcnow(),
                    current.legacy_id,
                ):
                    newest[app.user_id] = app
        out = []
        for app in fresh:
            status = app.status
            if status == ApplicationStatus.PENDING and newest.get(app.user_id) is not app:
                status = ApplicationStatus.EXPIRED
                report.problems.append(
                    f"row {app.legacy_id}: user {app.user_id} has a newer open application; "
                    "imported as expired"
                )
            out.append((app, status))
        return out

    def _application(self, app: LegacyApplication, status: ApplicationStatus) -> NewApplication:
        now = utcnow()
        created = app.created_at or now
        decided = status in DECIDED
        return NewApplication(
            user_id=app.user_id,
            status=status,
            created_at=created,
            updated_at=(app.decided_at if decided else None) or created,
            submitted_at=created,
            # Pending ones go through this bot's normal expiry (and reminder) from now on.
            expires_at=(
                now + timedelta(hours=self.settings.expire_after_h)
                if status == ApplicationStatus.PENDING
                else None
            ),
            decided_by=app.decided_by if decided else None,
            decided_at=app.decided_at if decided else None,
            reason=app.reason,
            answers=tuple(app.answers),
            event={"legacy_id": app.legacy_id, "legacy_status": app.raw_status},
        )

    # ------------------------------------------------------------------ writing
    async def _write(self, plan: _Plan, chat_id: int) -> None:
        now = utcnow()
        await self.repo.ensure_chat(chat_id, now)
        await self.repo.add_users(plan.users)
        await self.repo.add_members(chat_id, plan.members)
        for user_id, karma in plan.karma:
            await self.repo.add_karma(chat_id, user_id, karma, now)
            await self.repo.record(KARMA, user_id, user_id, now)
        for legacy_id, app in plan.applications:
            app_id = await self.repo.add_application(chat_id, app, now)
            await self.repo.record(APPLICATIONS, legacy_id, app_id, now)
