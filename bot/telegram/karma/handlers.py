"""Karma in groups: "+"/"thanks"/"👎" replies vote, a Cancel button undoes, /karma, /top
and /karma_history read, /karma_pardon lifts a sanction; where /karma_reactions is on,
👍/👎 reactions vote silently. The rules are KarmaService's."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, Filter
from aiogram.types import (
    CallbackQuery,
    Message,
    MessageReactionUpdated,
    ReactionTypeEmoji,
    User,
)

from bot.domain.dto import VoteRequest
from bot.domain.karma_rules import reaction_direction
from bot.errors import UserFacingError
from bot.log import get_logger
from bot.services import Services
from bot.services.karma import Period
from bot.telegram.adapters import chat_info, user_profile
from bot.telegram.admins import CHANGE_INFO, RESTRICT, ChatAdmin
from bot.telegram.callbacks import KarmaAction, KarmaCallback
from bot.telegram.filters import Command, KarmaVote, VoteIntent, When
from bot.telegram.karma import views
from bot.telegram.karma.middleware import ReactionAuthors
from bot.telegram.karma.sanctions import apply_sanction, lift_sanction

log = get_logger(__name__)
PERIODS: dict[str, Period] = {"": "all", "week": "week", "month": "month", "all": "all"}
_USER_ID = re.compile(r"[0-9]{1,19}")  # not \d: it takes other scripts' digits too
MAX_USER_ID = 2**63 - 1


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
    """The voter undoes their vote with the button under the bot's reply. The button is
    honoured only in the vote's own chat (forged data names any event id); the sanction
    the vote triggered is lifted in the vote's chat, whatever message was pressed."""
    if query.message is None:  # an inline message: no chat to check the vote against
        raise UserFacingError(views.BUTTON_NOT_VALID)
    pressed_in = query.message.chat.id
    result = await services.karma.cancel(callback_data.event_id, query.from_user.id, pressed_in)
    if isinstance(query.message, Message):
        await query.message.edit_text(views.cancelled_text(result), reply_markup=None)
    if result.lifted is not None:
        await lift_sanction(bot, result.chat_id, result.target_id, result.lifted)
    await query.answer(views.cancelled_alert())


async def cmd_karma_pardon(
    message: Message, command: CommandObject, services: Services, bot: Bot
) -> None:
    assert message.from_user is not None
    member = _replied_member(message)
    args = (command.args or "").strip()
    if member is not None and not args:
        user_id = member.id
    elif member is None and args:
        user_id = _user_id_arg(args)
    else:
        raise UserFacingError(views.PARDON_USAGE)
    result = await services.karma.pardon(message.chat.id, user_id, message.from_user.id)
    await lift_sanction(bot, message.chat.id, user_id, result.lifted)
    await message.reply(views.pardon_text(result))


async def cmd_karma_reactions(
    message: Message,
    command: CommandObject,
    services: Services,
    reaction_chats: ReactionAuthors,
) -> None:
    arg = (command.args or "").strip().lower()
    if arg not in ("on", "off"):
        on = await services.karma.reactions_enabled(message.chat.id)
        await message.reply(views.reactions_state_text(on))
        return
    await services.karma.set_reactions(chat_info(message.chat), arg == "on")
    reaction_chats.forget(message.chat.id)
    await message.reply(views.reactions_switched_text(arg == "on"))


async def on_reaction(reaction: MessageReactionUpdated, services: Services, bot: Bot) -> None:
    """👍/👎 on a message in a chat that counts reactions: silent votes."""
    if reaction.user is None or reaction.user.is_bot:  # anonymous admins react as the chat
        return
    result = await services.karma.react(
        chat_info(reaction.chat),
        user_profile(reaction.user),
        reaction.message_id,
        reaction_direction(_emojis(reaction.old_reaction)),
        reaction_direction(_emojis(reaction.new_reaction)),
    )
    if result is None:
        return
    chat_id = reaction.chat.id
    if result.withdrawn is not None and result.withdrawn.lifted is not None:
        await lift_sanction(bot, chat_id, result.withdrawn.target_id, result.withdrawn.lifted)
    vote = result.vote
    if vote is not None and vote.sanction is not None:
        # The one thing worth a message: the member is restricted or banned.
        await bot.send_message(chat_id, views.sanction_text(vote.target_name, vote.sanction))
        await apply_sanction(bot, chat_id, vote.target_id, vote.sanction)


def _emojis(reactions: Sequence[object]) -> list[str]:
    return [r.emoji for r in reactions if isinstance(r, ReactionTypeEmoji)]


class KarmaChat(Filter):
    """Karma's commands: karma on here, in a group; otherwise the reader is told why.
    Register it after the command's own filter."""

    async def __call__(self, message: Message, services: Services) -> bool:
        services.karma.ensure_enabled()
        if message.chat.type not in ("group", "supergroup"):
            raise UserFacingError(views.GROUPS_ONLY)
        return True


def _user_id_arg(text: str) -> int:
    """A user id typed as an argument: ASCII digits within Telegram's id range (int64),
    checked here, before it reaches the database."""
    if _USER_ID.fullmatch(text) is None or not 0 < int(text) <= MAX_USER_ID:
        raise UserFacingError(views.PARDON_BAD_ID)
    return int(text)


def _replied_member(message: Message) -> User | None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.forum_topic_created:
        return None
    return replied.from_user


async def cmd_karma(message: Message, services: Services) -> None:
    assert message.from_user is not None
    member = _replied_member(message) or message.from_user
    standing = await services.karma.standing(message.chat.id, member.id)
    await message.reply(views.standing_text(member.full_name, standing))


async def cmd_top(message: Message, command: CommandObject, services: Services) -> None:
    assert message.from_user is not None
    period = PERIODS.get((command.args or "").strip().lower())
    if period is None:
        raise UserFacingError(views.TOP_USAGE)
    board = await services.karma.leaderboard(message.chat.id, period, message.from_user.id)
    await message.reply(views.top_text(board))


async def cmd_karma_history(message: Message, services: Services) -> None:
    member = _replied_member(message)
    if member is None:
        raise UserFacingError(views.HISTORY_USAGE)
    rows = await services.karma.history(message.chat.id, member.id)
    await message.reply(views.history_text(member.full_name, message.chat.id, rows))


def create_router() -> Router:
    router = Router(name="karma")
    router.message.filter(When(F.from_user))
    router.message.register(on_vote, KarmaVote())
    router.message.register(cmd_karma, Command("karma"), KarmaChat())
    router.message.register(cmd_top, Command("top"), KarmaChat())
    router.message.register(
        cmd_karma_history, Command("karma_history"), KarmaChat(), ChatAdmin(views.ADMINS_ONLY)
    )
    # Lifting a restriction or a ban is what an admin allowed to restrict members does.
    pardon_admins = ChatAdmin(views.PARDON_ADMINS_ONLY, RESTRICT)
    router.message.register(cmd_karma_pardon, Command("karma_pardon"), KarmaChat(), pardon_admins)
    router.callback_query.register(on_cancel, KarmaCallback.filter(F.action == KarmaAction.CANCEL))
    return router


def create_reactions_router() -> Router:
    """Reaction votes. Included before every other feature's router: its middleware must
    see each group message (a voice note taken by the A2T router included) to remember
    its author, and it only observes, claiming nothing but its own command."""
    router = Router(name="karma_reactions")
    router.message.outer_middleware(ReactionAuthors())
    # A chat setting: for admins allowed to change the chat's settings.
    router.message.register(
        cmd_karma_reactions,
        Command("karma_reactions"),
        When(F.from_user),
        KarmaChat(),
        ChatAdmin(views.REACTIONS_ADMINS_ONLY, CHANGE_INFO),
    )
    router.message_reaction.filter(When(F.chat.type.in_({"group", "supergroup"})))
    router.message_reaction.register(on_reaction)
    return router
