"""The command menus shown by Telegram clients (setMyCommands), per scope and language."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from bot.i18n import DEFAULT_LOCALE, N_, Catalogs, _

# (command, description msgid); translated when a menu is built.
PRIVATE_COMMANDS = [
    ("start", N_("Start and see what I can do")),
    ("help", N_("List the commands")),
    ("language", N_("Choose the language I speak")),
    ("apply", N_("Apply to join the community")),
    ("cancel", N_("Cancel your application")),
    ("whoami", N_("Your profile card, or pick someone to see theirs")),
    ("forgetme", N_("Delete your personal data from my records")),
    ("members", N_("Moderators: list or export the community's members")),
    ("a2t_status", N_("Moderators: transcription queues and live workers")),
]
GROUP_COMMANDS = [
    ("help", N_("List the commands")),
    ("transcribe", N_("Reply to a voice note to get it as text")),
    ("a2t_mode", N_("Admins: auto, command or off")),
    ("karma", N_("Your karma, or as a reply someone else's")),
    ("top", N_("Karma leaderboard: week, month or all")),
    ("karma_history", N_("Admins: reply to see a member's votes")),
    ("karma_pardon", N_("Admins: reply to lift a member's karma sanction")),
    ("karma_reactions", N_("Admins: count 👍/👎 reactions as votes, on or off")),
    ("whoami", N_("Your profile card, or as a reply someone else's")),
]


def menu(commands: list[tuple[str, str]]) -> list[BotCommand]:
    """The menu in the current language."""
    return [BotCommand(command=name, description=_(text)) for name, text in commands]


async def publish_commands(bot: Bot, i18n: Catalogs) -> None:
    """One menu per scope and language; clients pick theirs by the user's language."""
    for locale in i18n.available_locales:
        language_code = None if locale == DEFAULT_LOCALE else locale
        with i18n.context(), i18n.use_locale(locale):
            await bot.set_my_commands(
                menu(PRIVATE_COMMANDS),
                scope=BotCommandScopeAllPrivateChats(),
                language_code=language_code,
            )
            await bot.set_my_commands(
                menu(GROUP_COMMANDS),
                scope=BotCommandScopeAllGroupChats(),
                language_code=language_code,
            )
