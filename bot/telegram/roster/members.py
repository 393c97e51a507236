"""/members for moderators: the community chat's members, filtered, a page at a time
(inline Previous/Next, keyset cursors), or as a CSV file with `/members export ...`."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import CommandObject, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.domain.member_filter import MemberFilter, parse_member_filter
from bot.errors import NotAllowedError, UserFacingError
from bot.repositories.roster import Direction, MemberCursor, MemberPage
from bot.services import Services
from bot.settings import Settings
from bot.telegram.callbacks import malformed
from bot.telegram.filters import Command, When
from bot.telegram.moderators import Moderators
from bot.telegram.roster import views
from bot.telegram.roster.callbacks import MembersPageCallback, PageDirection, page_signature

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class ModeratorHere(Filter):
    """/members and its pages: in a private chat or the moderation chat, by a moderator;
    anyone else is told why. A page button must be on a message (not an inline one)."""

    async def __call__(
        self, event: Message | CallbackQuery, bot: Bot, moderators: Moderators, settings: Settings
    ) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        if not isinstance(message, Message):
            raise UserFacingError(views.PAGE_STALE)
        chat = message.chat
        if chat.type != "private" and chat.id != settings.moderation.chat_id:
            raise UserFacingError(views.MEMBERS_WHERE)
        assert event.from_user is not None
        if not await moderators.is_moderator(bot, event.from_user.id):
            raise NotAllowedError(views.MODERATORS_ONLY)
        return True


class SignedPage(Filter):
    """A page button whose HMAC matches the filter its message shows (forged or altered
    data, or a button moved to another chat, is refused before the database is asked).
    Gives the handler `flt`, `cursor` and `direction`."""

    async def __call__(
        self, query: CallbackQuery, callback_data: MembersPageCallback, settings: Settings
    ) -> dict[str, Any]:
        assert isinstance(query.message, Message)  # ModeratorHere checked it
        chat_id = query.message.chat.id
        canonical = views.filter_from_text(query.message.text)
        d, c, u = callback_data.direction, callback_data.created_us, callback_data.user_id
        expected = page_signature(_secret(settings), chat_id, canonical or "", d.value, c, u)
        if canonical is None or not hmac.compare_digest(expected, callback_data.signature):
            raise UserFacingError(views.PAGE_STALE)
        direction: Direction = "prev" if d == PageDirection.PREV else "next"
        return {
            "flt": parse_member_filter(canonical),
            "cursor": MemberCursor(EPOCH + c * MICROSECOND, u),
            "direction": direction,
        }


def _secret(settings: Settings) -> str:
    return settings.bot.token.get_secret_value() if settings.bot.token else ""


def _button(
    settings: Settings, chat_id: int, flt: MemberFilter, d: PageDirection, cursor: MemberCursor
) -> str:
    c = (cursor.created_at - EPOCH) // MICROSECOND
    query = flt.canonical()
    s = page_signature(_secret(settings), chat_id, query, d.value, c, cursor.user_id)
    return MembersPageCallback(
        direction=d, created_us=c, user_id=cursor.user_id, signature=s
    ).pack()


def _keyboard(
    settings: Settings, chat_id: int, flt: MemberFilter, page: MemberPage
) -> InlineKeyboardMarkup | None:
    if not page.rows:
        return None
    prev = _button(settings, chat_id, flt, PageDirection.PREV, page.rows[0].cursor)
    nxt = _button(settings, chat_id, flt, PageDirection.NEXT, page.rows[-1].cursor)
    return views.members_keyboard(page, prev, nxt)


async def cmd_members(
    message: Message,
    command: CommandObject,
    services: Services,
    settings: Settings,
) -> None:
    chat = message.chat
    args = (command.args or "").strip()
    export = args.split(maxsplit=1)[:1] == ["export"]
    flt = parse_member_filter(args.removeprefix("export") if export else args)
    if export:
        async with views.members_csv(services.roster.export_members(flt)) as (document, rows):
            await message.answer_document(document, caption=views.export_caption(rows, flt))
        return
    listing = await services.roster.list_members(flt)
    await message.answer(
        views.members_text(listing.count, flt, listing.page),
        reply_markup=_keyboard(settings, chat.id, flt, listing.page),
    )


async def on_members_page(
    query: CallbackQuery,
    flt: MemberFilter,
    cursor: MemberCursor,
    direction: Direction,
    services: Services,
    settings: Settings,
) -> None:
    assert isinstance(query.message, Message)
    message = query.message
    listing = await services.roster.list_members(flt, cursor, direction)
    try:
        await message.edit_text(
            views.members_text(listing.count, flt, listing.page),
            reply_markup=_keyboard(settings, message.chat.id, flt, listing.page),
        )
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise
    await query.answer()


async def on_bad_page(query: CallbackQuery) -> None:
    """Page data that does not even parse (forged, or from an older version)."""
    raise UserFacingError(views.PAGE_STALE)


def create_router() -> Router:
    router = Router(name="members")
    router.message.filter(When(F.from_user))
    router.message.register(cmd_members, Command("members"), ModeratorHere())
    router.callback_query.register(
        on_members_page, MembersPageCallback.filter(), ModeratorHere(), SignedPage()
    )
    router.callback_query.register(on_bad_page, malformed(MembersPageCallback))
    return router
