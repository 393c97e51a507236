"""The command menu shown by Telegram clients (setMyCommands)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

PRIVATE_COMMANDS = [
    BotCommand(command="start", description="Start and see what I can do"),
    BotCommand(command="help", description="List the commands"),
]


async def publish_commands(bot: Bot) -> None:
    await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
