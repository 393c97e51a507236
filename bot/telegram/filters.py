"""Filters. Those that parse return a dict of typed arguments for the handler.

Every filter here is a coroutine: aiogram runs a synchronous filter (a bare `F.…` magic
filter included) through `asyncio.to_thread`, a thread hop for each check of each update.
Through a dozen routers that was the largest single cost of routing a group message, so
magic filters are registered wrapped in `When`, and commands use `Command` and
`CommandStart` from here (a test walks the dispatcher for any that do not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import Bot, filters
from aiogram.filters import Filter
from aiogram.types import Message, TelegramObject
from magic_filter import MagicFilter

from bot.db.enums import MediaKind
from bot.domain.karma_rules import VoteDirection, parse_vote
from bot.settings import Settings


class When(Filter):
    """`F.…` checked in the event loop; its result as aiogram would use it (False, True,
    or the dict of `.as_(name)`)."""

    __slots__ = ("magic",)

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"When({self.magic!r})"


class Command(filters.Command):
    """aiogram's command filter, refusing at once a message that cannot be a command.

    aiogram's own splits the text, builds a `CommandObject` and raises and catches an
    exception for every message it is shown that is not its command: most group messages
    are shown to several command handlers on their way to the one that takes them. A text
    whose first character is neither one of the prefixes nor a space (aiogram skips
    leading spaces) is no command; everything else goes to aiogram's parsing unchanged."""

    __slots__ = ()

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Any]:
        if isinstance(message, Message):
            text = message.text or message.caption
            if text and text[0] not in self.prefix and not text[0].isspace():
                return False
        return await super().__call__(message, bot)


class CommandStart(Command, filters.CommandStart):
    __slots__ = ()


class UnknownCommand(Filter):
    """A message that starts with a command meant for this bot.

    In groups only `/cmd@this_bot` counts: a bare `/cmd` may be for another bot.
    Gives the handler `command` (the name without slash and mention).
    """

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Any]:
        text = message.text or message.caption or ""
        if not text.startswith("/") or len(text) < 2:
            return False
        name, _, mention = text[1:].split(maxsplit=1)[0].partition("@")
        if message.chat.type == "private":
            return {"command": name} if not mention or await _is_me(bot, mention) else False
        return {"command": name} if mention and await _is_me(bot, mention) else False


async def _is_me(bot: Bot, mention: str) -> bool:
    me = await bot.me()
    return bool(me.username) and mention.lower() == (me.username or "").lower()


class VoiceMedia(Filter):
    """A message carrying something to transcribe (or, with `in_reply=True`, a message
    replying to one). Gives the handler `media: VoiceMediaRef`."""

    def __init__(self, *, in_reply: bool = False) -> None:
        self.in_reply = in_reply

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        target = message.reply_to_message if self.in_reply else message
        if target is None:
            return False
        media = voice_media(target)
        return {"media": media, "media_message": target} if media else False


class UnservedChat(Filter):
    """A group outside A2T__ALLOWED_GROUPS (private chats are always served)."""

    async def __call__(self, message: Message, settings: Settings) -> bool:
        return not settings.a2t.serves_chat(message.chat.id)


@dataclass(frozen=True, slots=True)
class VoiceMediaRef:
    kind: MediaKind
    file_id: str
    file_unique_id: str
    file_size: int | None
    mime_type: str | None
    duration: float | None


def voice_media(message: Message) -> VoiceMediaRef | None:
    if message.voice:
        v = message.voice
        return VoiceMediaRef(
            MediaKind.VOICE, v.file_id, v.file_unique_id, v.file_size, v.mime_type, v.duration
        )
    if message.audio:
        a = message.audio
        return VoiceMediaRef(
            MediaKind.AUDIO, a.file_id, a.file_unique_id, a.file_size, a.mime_type, a.duration
        )
    if message.video_note:
        n = message.video_note
        return VoiceMediaRef(
            MediaKind.VIDEO_NOTE, n.file_id, n.file_unique_id, n.file_size, "video/mp4", n.duration
        )
    doc = message.document
    if doc and (doc.mime_type or "").startswith("audio/"):
        return VoiceMediaRef(
            MediaKind.DOCUMENT, doc.file_id, doc.file_unique_id, doc.file_size, doc.mime_type, None
        )
    return None


class KarmaVote(Filter):
    """A group reply that votes on the replied-to message's author ("+", "thanks", "👎"...),
    while karma is enabled. Gives the handler `vote: VoteIntent`.

    A voice note, audio or video note captioned "+" is not a vote: it belongs to A2T
    (transcribed, or left alone where the chat's mode says so), whichever router comes
    first."""

    async def __call__(self, message: Message, settings: Settings) -> bool | dict[str, Any]:
        if not settings.karma.enabled or message.chat.type not in ("group", "supergroup"):
            return False
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.forum_topic_created:
            return False  # in a forum topic, a plain message "replies" to the topic's start
        if message.from_user is None or message.from_user.is_bot:
            return False
        direction = parse_vote(message.text or message.caption)
        if direction is None or (message.caption and voice_media(message)):
            return False
        return {"vote": VoteIntent(direction, replied)}


@dataclass(frozen=True, slots=True)
class VoteIntent:
    direction: VoteDirection
    message: Message  # the voted-on message; its author is the target
