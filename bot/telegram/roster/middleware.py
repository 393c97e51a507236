"""The roster follows Telegram's own updates, whatever handler answers them.

aiogram runs only the first matching handler of an update, and group messages belong to
other features (karma, voice, ...). So the roster is written here, in an outer middleware
on `message`, `chat_member` and `my_chat_member`:

- chat_member / my_chat_member: the member's new status and role, before any handler
  (and, in the moderation chat, the moderators cache is re-read);
- new_chat_members / left_chat_member service messages: joins and leaves;
- any other group message: the author's last_seen_at and profile, **throttled** in
  process per (chat, member): at most one write per ROSTER__ACTIVITY_INTERVAL_S of message
  time, and at once when the profile (names, username, language, premium) changed. The
  write happens after the handler, in the update's transaction, inside a savepoint: a
  failed activity write is logged and never costs the handler its work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import ChatMemberUpdated, Message, TelegramObject
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.db.errors import is_transient_db_error
from bot.domain.dto import ChatInfo, UserProfile
from bot.log import get_logger
from bot.services import Services
from bot.services.roster import MemberChange
from bot.settings import RosterSettings, Settings
from bot.telegram.adapters import chat_info, user_profile
from bot.telegram.moderators import Moderators

log = get_logger(__name__)
GROUPS = ("group", "supergroup")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ActivityThrottle:
    """Which (chat, member) activity is worth a write: the last written message time and
    profile per pair, bounded (cleared when full: the cost is one write per pair)."""

    def __init__(self, interval_s: int, max_entries: int) -> None:
        self.interval_s = interval_s
        self.max_entries = max_entries
        self._written: dict[tuple[int, int], tuple[float, UserProfile]] = {}

    def due(self, chat_id: int, profile: UserProfile, at: float) -> bool:
        entry = self._written.get((chat_id, profile.id))
        if entry is None:
            return True
        last, known = entry
        return known != profile or at - last >= self.interval_s

    def written(self, chat_id: int, profile: UserProfile, at: float) -> None:
        if len(self._written) >= self.max_entries:
            self._written.clear()
        self._written[(chat_id, profile.id)] = (at, profile)


class RosterMiddleware(BaseMiddleware):
    def __init__(self, settings: RosterSettings) -> None:
        self.throttle = ActivityThrottle(settings.activity_interval_s, settings.activity_cache_size)
        # The chats as last written: a chat is upserted again only when Telegram
        # describes it differently (one group's thousand members share one row).
        self.chats: dict[int, ChatInfo] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, ChatMemberUpdated):
            if event.chat.type == "private":  # a user blocked or restarted the bot
                return await handler(event, data)
            await _guarded(data, "member change", _member_change(event, data["services"]))
            settings: Settings = data["settings"]
            if event.chat.id == settings.moderation.chat_id:
                # A promotion or demotion in the moderation chat changes who moderates.
                moderators: Moderators = data["moderators"]
                moderators.forget()
            return await handler(event, data)
        if not isinstance(event, Message) or event.chat.type not in GROUPS:
            return await handler(event, data)
        if event.new_chat_members or event.left_chat_member:
            await _guarded(data, "join/leave message", _service_message(event, data["services"]))
            return await handler(event, data)
        result = await handler(event, data)
        await self._activity(event, data)
        return result

    async def _activity(self, message: Message, data: dict[str, Any]) -> None:
        author = message.from_user
        if author is None or author.is_bot:
            return
        profile = user_profile(author)
        at = message.date.timestamp()
        if not self.throttle.due(message.chat.id, profile, at):
            metrics.ROSTER_ACTIVITY.labels("throttled").inc()
            return
        services: Services = data["services"]
        chat = chat_info(message.chat)
        write = services.roster.record_activity(
            chat, profile, message.date, chat_changed=self.chats.get(chat.id) != chat
        )
        if await _guarded(data, "activity", write):
            self.throttle.written(message.chat.id, profile, at)
            if len(self.chats) >= self.throttle.max_entries:
                self.chats.clear()
            self.chats[chat.id] = chat
            metrics.ROSTER_ACTIVITY.labels("written").inc()


async def _member_change(event: ChatMemberUpdated, services: Services) -> None:
    new = event.new_chat_member
    change = MemberChange(
        chat=chat_info(event.chat),
        user=user_profile(new.user),
        status=new.status,
        is_member=getattr(new, "is_member", True),
        at=event.date,
    )
    status = await services.roster.record_change(change)
    metrics.ROSTER_CHANGES.labels("chat_member", status.value).inc()


async def _service_message(message: Message, services: Services) -> None:
    chat = chat_info(message.chat)
    if message.new_chat_members:
        users = [user_profile(u) for u in message.new_chat_members]
        await services.roster.record_joined(chat, users, message.date)
        metrics.ROSTER_CHANGES.labels("message", "active").inc(len(users))
    if message.left_chat_member:
        await services.roster.record_left(
            chat, user_profile(message.left_chat_member), message.date
        )
        metrics.ROSTER_CHANGES.labels("message", "left").inc()


async def _guarded(data: dict[str, Any], what: str, work: Awaitable[None]) -> bool:
    """Run a roster write in a savepoint; a database error (or data Telegram sent that
    does not fit the schema) is logged, not raised."""
    session: AsyncSession = data["session"]
    try:
        async with session.begin_nested():
            await work
    except (SQLAlchemyError, ValidationError) as error:
        if is_transient_db_error(error):
            raise  # the connection failed, not the write: the whole update is tried again
        log.warning("roster write failed", what=what, error=str(error))
        return False
    return True
