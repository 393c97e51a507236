"""Commands no feature claimed: a clear answer, nothing else changes."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from bot.i18n import _
from bot.telegram.filters import UnknownCommand


async def on_unknown_command(message: Message, command: str) -> None:
    await message.reply(
        _("I don't know the command /{command}. /help lists what I can do.").format(command=command)
    )


def create_router() -> Router:
    router = Router(name="fallback")
    router.message.register(on_unknown_command, UnknownCommand())
    return router
