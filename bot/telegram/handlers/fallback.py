"""Commands and buttons no feature claimed: a clear answer, nothing else changes."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.telegram.filters import UnknownCommand
from bot.telegram.text_limits import cut

COMMAND_ECHO_LIMIT = 64


async def on_unknown_command(message: Message, command: str) -> None:
    # The name is what the user typed: escaped, and cut (it may be thousands of characters).
    name = html.quote(cut(command, COMMAND_ECHO_LIMIT))
    await message.reply(
        _("I don't know the command /{command}. /help lists what I can do.").format(command=name)
    )


async def on_unknown_button(query: CallbackQuery) -> None:
    """Data no feature parses: forged, or a button of an older version of the bot."""
    await query.answer(_("This button no longer works."), show_alert=True)


def create_router() -> Router:
    router = Router(name="fallback")
    router.message.register(on_unknown_command, UnknownCommand())
    router.callback_query.register(on_unknown_button)
    return router
