"""Who is in which chat: one `memberships` row per (chat, user), written from Telegram's
own updates (chat_member, join requests approved, new/left chat members)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, and_, bindparam, case, literal, or_, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.enums import MemberRole, MemberStatus
from bot.db.models import Membership

_PRESENT = (MemberStatus.ACTIVE, MemberStatus.RESTRICTED)


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        chat_id: int,
        user_id: int,
        status: MemberStatus,
        *,
        role: MemberRole | None = None,
        at: datetime | None = None,
        keep_banned: bool = False,
    ) -> None:
        """Set a member's status (and role, when given) as of `at`, the time Telegram
        says the change happened.

        Coming in (active/restricted) sets joined_at unless they were already in, and
        clears left_at; going out (left/banned) sets left_at. The chat and user rows
        must exist (RosterService.remember_* first). With `keep_banned`, a banned member
        stays banned (a "left" service message also follows a ban).

        Telegram may deliver updates late and out of order (a retried webhook, a backlog
        after a restart, several replicas): a change older than the one applied last
        (`status_at`) is ignored, so a delayed "left" never undoes a newer "joined".
        Changes of the same second both apply, in arrival order.
        """
        at = at or utcnow()
        present = status in _PRESENT
        table: Any = Membership.__table__
        insert = (
            postgresql.insert
            if self.session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )(table)
        values = {
            "chat_id": chat_id,
            "user_id": user_id,
            "status": status,
            "role": role or MemberRole.MEMBER,
            "joined_at": at if present else None,
            "left_at": None if present else at,
            "status_at": at,
            "created_at": at,
            "updated_at": at,
        }
        was_present = table.c.status.in_([s.value for s in _PRESENT])
        stmt = insert.values(values).on_conflict_do_update(
            index_elements=["chat_id", "user_id"],
            set_={
                "status": insert.excluded.status,
                "role": insert.excluded.role if role is not None else table.c.role,
                "joined_at": (
                    case((was_present, table.c.joined_at), else_=literal(at))
                    if present
                    else table.c.joined_at
                ),
                "left_at": None if present else literal(at),
                "status_at": insert.excluded.status_at,
                "updated_at": literal(at),
            },
            where=and_(
                or_(table.c.status_at.is_(None), table.c.status_at <= at),
                table.c.status != MemberStatus.BANNED.value if keep_banned else true(),
            ),
        )
        await self.session.execute(stmt)

    async def touch(self, chat_id: int, user_id: int, at: datetime) -> None:
        """Record that the member wrote in the chat at `at` (last_seen_at only moves
        forward). A member the bot has not seen join is added as active, joined unknown."""
        stmt = _touch_statement(self.session.get_bind().dialect.name)
        await self.session.execute(stmt, {"chat_id": chat_id, "user_id": user_id, "at": at})


@lru_cache(maxsize=4)
def _touch_statement(dialect: str) -> Executable:
    """Built once per dialect: constructing the statement cost more than running it."""
    table: Any = Membership.__table__
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    at = bindparam("at", type_=table.c.last_seen_at.type)
    stmt = insert.values(
        chat_id=bindparam("chat_id", type_=table.c.chat_id.type),
        user_id=bindparam("user_id", type_=table.c.user_id.type),
        status=MemberStatus.ACTIVE,
        role=MemberRole.MEMBER,
        last_seen_at=at,
        status_at=at,  # writing at `at` shows they were in: an older "left" is stale
        created_at=at,
        updated_at=at,
    )
    return stmt.on_conflict_do_update(
        index_elements=["chat_id", "user_id"],
        set_={"last_seen_at": stmt.excluded.last_seen_at},
        where=(table.c.last_seen_at.is_(None))
        | (table.c.last_seen_at < stmt.excluded.last_seen_at),
    )
