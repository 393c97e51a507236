"""/whoami: a profile card from Telegram's own data (the user object, getChatMember) and
the bot's records. On yourself, as a reply to someone's message, or via the "pick a user"
button (KeyboardButtonRequestUsers: Telegram shares the picked user's id).

What a card shows depends on who reads it (`views.Access`): anyone may pick anyone, so
facts scoped to a chat (membership, status and rights, ban and restriction dates, roles,
karma) go only to members of that chat and to moderators; a stranger sees what Telegram
shows everyone (id, names, username, premium, bot). Application and transcription usage
go to the person themselves and to moderators."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberRestricted, Message, User

from bot.log import get_logger
from bot.services import Services
from bot.settings import Settings
from bot.telegram.adapters import user_profile
from bot.telegram.filters import Command, When
from bot.telegram.moderators import Moderators
from bot.telegram.roster import views

log = get_logger(__name__)


def _person(user: User) -> views.Person:
    return views.Person(
        id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        is_premium=bool(user.is_premium),  # Telegram omits the flag when it is false
        is_bot=user.is_bot,
    )


async def _member(bot: Bot, chat_id: int, user_id: int) -> views.MemberView | None:
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as error:
        log.info("getChatMember unavailable", member_chat_id=chat_id, error=str(error))
        return None
    rights = {k: v for k, v in member.model_dump().items() if k.startswith("can_")}
    until = getattr(member, "until_date", None)
    if isinstance(member, ChatMemberAdministrator):
        return views.MemberView(member.status, rights_on=tuple(k for k, v in rights.items() if v))
    if isinstance(member, ChatMemberRestricted):
        off = tuple(k for k, v in rights.items() if v is False)
        return views.MemberView(
            member.status, rights_off=off, until=until or None, is_member=member.is_member
        )
    return views.MemberView(member.status, until=until or None)


async def _access(
    bot: Bot,
    moderators: Moderators,
    person_id: int,
    viewer_id: int,
    records_chat: int | None,
    in_group: bool,
) -> views.Access:
    if person_id == viewer_id or await moderators.is_moderator(bot, viewer_id):
        return views.Access.FULL
    if records_chat is None:
        return views.Access.PUBLIC
    if in_group:  # the reader wrote in this very chat
        return views.Access.MEMBER
    viewer = await _member(bot, records_chat, viewer_id)
    return views.Access.MEMBER if viewer is not None and viewer.present else views.Access.PUBLIC


async def _send_card(
    message: Message,
    person: views.Person,
    viewer_id: int,
    services: Services,
    bot: Bot,
    moderators: Moderators,
    settings: Settings,
) -> None:
    chat = message.chat
    in_group = chat.type in ("group", "supergroup")
    # Membership, status and karma: of this group, or in private of the community chat.
    records_chat = chat.id if in_group else settings.community.chat_id
    access = await _access(bot, moderators, person.id, viewer_id, records_chat, in_group)
    if access is views.Access.PUBLIC:  # nothing scoped to a chat is looked up, or shown
        records_chat = None
    member = await _member(bot, records_chat, person.id) if records_chat is not None else None
    record = await services.profiles.profile(person.id, records_chat)
    shown_chat = None
    if in_group:
        shown_chat = views.ChatView(chat.id, chat.type, chat.title)
    elif records_chat is not None:  # the community chat, as the bot last saw it
        known = record.chat
        shown_chat = views.ChatView(records_chat, known.type if known else None, None)
        if known:
            shown_chat = views.ChatView(known.id, known.type, known.title)
    text = views.whoami_text(person, shown_chat, member, record, access=access)
    await message.reply(text)


async def cmd_whoami(
    message: Message, services: Services, bot: Bot, moderators: Moderators, settings: Settings
) -> None:
    assert message.from_user is not None
    replied = message.reply_to_message
    target = message.from_user
    if replied is not None and replied.from_user is not None and not replied.forum_topic_created:
        target = replied.from_user
    await services.roster.remember_user(user_profile(target))
    await _send_card(
        message, _person(target), message.from_user.id, services, bot, moderators, settings
    )
    if message.chat.type == "private" and target.id == message.from_user.id:
        await message.answer(views.pick_user_hint(), reply_markup=views.pick_user_keyboard())


async def on_user_picked(
    message: Message, services: Services, bot: Bot, moderators: Moderators, settings: Settings
) -> None:
    assert message.from_user is not None
    assert message.users_shared is not None
    shared = message.users_shared.users[0]
    stored = await services.profiles.repo.user(shared.user_id)
    person = views.Person(
        id=shared.user_id,
        first_name=shared.first_name or (stored.first_name if stored else None),
        last_name=shared.last_name or (stored.last_name if stored else None),
        username=shared.username or (stored.username if stored else None),
        language_code=stored.language_code if stored else None,
        is_premium=stored.is_premium if stored else None,
        is_bot=stored.is_bot if stored else False,
    )
    await _send_card(message, person, message.from_user.id, services, bot, moderators, settings)


def create_router() -> Router:
    router = Router(name="whoami")
    router.message.filter(When(F.from_user))
    router.message.register(cmd_whoami, Command("whoami"))
    router.message.register(
        on_user_picked, When(F.users_shared.request_id == views.WHOAMI_REQUEST_ID)
    )
    return router
