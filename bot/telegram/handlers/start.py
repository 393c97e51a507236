"""/start and /help."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.services import Services
from bot.telegram.adapters import user_profile
from bot.telegram.commands import PRIVATE_COMMANDS

HELP_TEXT = "\n".join(f"/{c.command} — {c.description}" for c in PRIVATE_COMMANDS)


async def cmd_start(message: Message, services: Services) -> None:
    assert message.from_user is not None
    profile = user_profile(message.from_user)
    await services.roster.remember_user(profile)
    await message.answer(
        f"Hello, {html.quote(profile.first_name)}! I am the community bot. "
        f"Send me a voice note and I will write it down.\n\n{HELP_TEXT}"
    )


async def cmd_help(message: Message) -> None:
    await message.answer(HELP_TEXT)


def create_router() -> Router:
    router = Router(name="start")
    router.message.filter(F.chat.type == "private", F.from_user)
    router.message.register(cmd_start, CommandStart())
    router.message.register(cmd_help, Command("help"))
    return router
