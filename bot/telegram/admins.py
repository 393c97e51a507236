"""Who counts as an admin of a chat for an action: its Telegram creator, or an
administrator holding the right the action needs, plus the deployment's
MODERATION__ADMIN_IDS everywhere.

Rights are Telegram's own `ChatMemberAdministrator` flags (`can_restrict_members`,
`can_change_info`, ...): an admin whom the chat's owner did not allow to restrict members
may not lift a restriction through the bot either. The creator holds every right.
Asked fresh from Telegram (getChatMember) each time, so a demotion counts at once; if
Telegram cannot answer, the answer is no (fail closed).
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import ChatMemberAdministrator, ChatMemberOwner, Message

from bot.errors import NotAllowedError
from bot.log import get_logger
from bot.settings import Settings

log = get_logger(__name__)

# The rights an action needs, by name: the field of ChatMemberAdministrator.
RESTRICT = "can_restrict_members"  # restrict, ban, unban, lift a sanction
CHANGE_INFO = "can_change_info"  # change how the chat works (its settings)


async def is_chat_admin(
    bot: Bot, settings: Settings, chat_id: int, user_id: int, right: str | None = None
) -> bool:
    """True for the chat's creator, an administrator with `right` (any administrator when
    `right` is None), and MODERATION__ADMIN_IDS."""
    if user_id in settings.moderation.admin_ids:
        return True
    if chat_id > 0:  # a private chat has no admins
        return False
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as error:
        log.warning("chat admin check failed: refused", chat_id=chat_id, error=str(error))
        return False
    if isinstance(member, ChatMemberOwner):
        return True
    if not isinstance(member, ChatMemberAdministrator):
        return False
    return right is None or getattr(member, right, False) is True


class ChatAdmin(Filter):
    """A command only this chat's admins (holding `right`, when named) may give; anyone
    else gets `refusal`. Register it after the command's own filter."""

    def __init__(self, refusal: str, right: str | None = None) -> None:
        self.refusal = refusal
        self.right = right

    async def __call__(self, message: Message, bot: Bot, settings: Settings) -> bool:
        assert message.from_user is not None
        if not await is_chat_admin(
            bot, settings, message.chat.id, message.from_user.id, self.right
        ):
            raise NotAllowedError(self.refusal)
        return True
