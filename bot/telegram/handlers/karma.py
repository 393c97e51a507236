"""Karma in groups: "+"/"thanks"/"👎" replies vote, a Cancel button undoes, /karma, /top
and /karma_history read. The rules are KarmaService's."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, ChatPermissions, Message, User

from bot.db.enums import KarmaSanction
from bot.errors import NotAllowedError, UserFacingError
from bot.log import get_logger
from bot.services import Services
from bot.services.dto import VoteRequest
from bot.services.karma import Period, Sanction
from bot.settings import Settings
from bot.telegram import karma_views as views
from bot.telegram.adapters import chat_info, user_profile
from bot.telegram.admins import is_chat_admin
from bot.telegram.callbacks import KarmaAction, KarmaCallback
from bot.telegram.filters import KarmaVote, VoteIntent

log = get_logger(__name__)
READ_ONLY = ChatPermissions(**dict.fromkeys(ChatPermissions.model_fields, False))
FULL = ChatPermissions(**dict.fromkeys(ChatPermissions.model_fields, True))
PERIODS: dict[str, Period] = {"": "all", "week": "week", "month": "month", "all": "all"}


async def on_vote(message: Message, vote: VoteIntent, services: Services, bot: Bot) -> None:
    assert message.from_user is not None
    assert vote.message.from_user is not None
    result = await services.karma.vote(
        VoteRequest(
            chat=chat_info(message.chat),
            voter=user_profile(message.from_user),
            target=user_profile(vote.message.from_user),
            direction=vote.direction.value,
            message_id=vote.message.message_id,
            vote_message_id=message.message_id,
        )
    )
    await message.reply(views.vote_text(result), reply_markup=views.vote_keyboard(result.event_id))
    if result.sanction is not None:
        await apply_sanction(bot, message.chat.id, result.target_id, result.sanction)


async def on_cancel(
    query: CallbackQuery, callback_data: KarmaCallback, services: Services, bot: Bot
) -> None:
    result = await services.karma.cancel(callback_data.event_id, query.from_user.id)
    if isinstance(query.message, Message):
        await query.message.edit_text(views.cancelled_text(result), reply_markup=None)
        if result.lifted is not None:
            await lift_sanction(bot, query.message.chat.id, result.target_id, result.lifted)
    await query.answer(views.cancelled_alert())


async def cmd_karma_pardon(
    message: Message, command: CommandObject, services: Services, bot: Bot, settings: Settings
) -> None:
    assert message.from_user is not None
    _chat_scoped(message, services)
    if not await is_chat_admin(bot, settings, message.chat.id, message.from_user.id):
        raise NotAllowedError(views.PARDON_ADMINS_ONLY)
    member = _replied_member(message)
    args = (command.args or "").strip()
    if member is not None and not args:
        user_id = member.id
    elif member is None and args.isdigit():
        user_id = int(args)
    else:
        raise UserFacingError(views.PARDON_USAGE)
    result = await services.karma.pardon(message.chat.id, user_id, message.from_user.id)
    await lift_sanction(bot, message.chat.id, user_id, result.lifted)
    await message.reply(views.pardon_text(result))


async def apply_sanction(bot: Bot, chat_id: int, user_id: int, sanction: Sanction) -> None:
    """Restrict or ban in Telegram; the vote and its record stand (they are committed) if
    Telegram refuses, e.g. when the bot is not an admin allowed to restrict or ban."""
    try:
        if sanction.kind is KarmaSanction.BAN:
            await bot.ban_chat_member(chat_id, user_id)
        else:
            await bot.restrict_chat_member(chat_id, user_id, READ_ONLY, until_date=sanction.until)
    except TelegramAPIError as error:
        log.warning(
            "karma sanction refused by Telegram",
            chat_id=chat_id,
            target_id=user_id,
            kind=sanction.kind.value,
            error=str(error),
        )
        return
    log.info("karma sanction applied", chat_id=chat_id, target_id=user_id, kind=sanction.kind.value)


async def lift_sanction(bot: Bot, chat_id: int, user_id: int, sanction: Sanction) -> None:
    """Undo a sanction in Telegram: unban (only if still banned), or give back the chat's
    default permissions."""
    try:
        if sanction.kind is KarmaSanction.BAN:
            await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
        else:
            chat = await bot.get_chat(chat_id)
            await bot.restrict_chat_member(chat_id, user_id, chat.permissions or FULL)
    except TelegramAPIError as error:
        log.warning(
            "karma sanction lift refused by Telegram",
            chat_id=chat_id,
            target_id=user_id,
            kind=sanction.kind.value,
            error=str(error),
        )
        return
    log.info("karma sanction lifted", chat_id=chat_id, target_id=user_id, kind=sanction.kind.value)


def _chat_scoped(message: Message, services: Services) -> None:
    services.karma.ensure_enabled()
    if message.chat.type not in ("group", "supergroup"):
        raise UserFacingError(views.GROUPS_ONLY)


def _replied_member(message: Message) -> User | None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.forum_topic_created:
        return None
    return replied.from_user


async def cmd_karma(message: Message, services: Services) -> None:
    assert message.from_user is not None
    _chat_scoped(message, services)
    member = _replied_member(message) or message.from_user
    standing = await services.karma.standing(message.chat.id, member.id)
    await message.reply(views.standing_text(member.full_name, standing))


async def cmd_top(message: Message, command: CommandObject, services: Services) -> None:
    assert message.from_user is not None
    _chat_scoped(message, services)
    period = PERIODS.get((command.args or "").strip().lower())
    if period is None:
        raise UserFacingError(views.TOP_USAGE)
    board = await services.karma.leaderboard(message.chat.id, period, message.from_user.id)
    await message.reply(views.top_text(board))


async def cmd_karma_history(
    message: Message, services: Services, bot: Bot, settings: Settings
) -> None:
    assert message.from_user is not None
    _chat_scoped(message, services)
    if not await is_chat_admin(bot, settings, message.chat.id, message.from_user.id):
        raise NotAllowedError(views.ADMINS_ONLY)
    member = _replied_member(message)
    if member is None:
        raise UserFacingError(views.HISTORY_USAGE)
    rows = await services.karma.history(message.chat.id, member.id)
    await message.reply(views.history_text(member.full_name, message.chat.id, rows))


def create_router() -> Router:
    router = Router(name="karma")
    router.message.filter(F.from_user)
    router.message.register(on_vote, KarmaVote())
    router.message.register(cmd_karma, Command("karma"))
    router.message.register(cmd_top, Command("top"))
    router.message.register(cmd_karma_history, Command("karma_history"))
    router.message.register(cmd_karma_pardon, Command("karma_pardon"))
    router.callback_query.register(on_cancel, KarmaCallback.filter(F.action == KarmaAction.CANCEL))
    return router
