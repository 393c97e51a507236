"""The command menus shown by Telegram clients (setMyCommands), per scope."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

PRIVATE_COMMANDS = [
    BotCommand(command="start", description="Start and see what I can do"),
    BotCommand(command="help", description="List the commands"),
]
GROUP_COMMANDS = [
    BotCommand(command="transcribe", description="Reply to a voice note to get it as text"),
    BotCommand(command="a2t_mode", description="Admins: auto, command or off"),
    BotCommand(command="karma", description="Your karma, or as a reply someone else's"),
    BotCommand(command="top", description="Karma leaderboard: week, month or all"),
    BotCommand(command="karma_history", description="Admins: reply to see a member's votes"),
]


async def publish_commands(bot: Bot) -> None:
    await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
