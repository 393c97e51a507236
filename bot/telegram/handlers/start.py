"""/start, /help and /language."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import LANGUAGE_NAMES, Catalogs, ChosenLanguages, _, pick_locale
from bot.services import Services
from bot.telegram.adapters import user_profile
from bot.telegram.callbacks import LanguageCallback
from bot.telegram.commands import GROUP_COMMANDS, PRIVATE_COMMANDS, menu
from bot.telegram.filters import Command, CommandStart, When

TELEGRAM_DEFAULT = "auto"  # LanguageCallback code: follow Telegram's app language


def help_text(chat_type: str = "private") -> str:
    """The commands of the menu Telegram shows in this kind of chat."""
    commands = PRIVATE_COMMANDS if chat_type == "private" else GROUP_COMMANDS
    return "\n".join(f"/{c.command} — {c.description}" for c in menu(commands))


async def cmd_start(message: Message, services: Services) -> None:
    assert message.from_user is not None
    profile = user_profile(message.from_user)
    await services.roster.remember_user(profile)
    greeting = _(
        "Hello, {name}! I am the community bot. Send me a voice note and I will write it down."
    ).format(name=html.quote(profile.first_name))
    await message.answer(f"{greeting}\n\n{help_text()}")


async def cmd_help(message: Message) -> None:
    await message.answer(help_text(message.chat.type))


def language_keyboard() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=name, callback_data=LanguageCallback(code=code).pack())
        for code, name in LANGUAGE_NAMES.items()
    ]
    auto = LanguageCallback(code=TELEGRAM_DEFAULT).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            buttons,
            [InlineKeyboardButton(text=_("As in my Telegram app"), callback_data=auto)],
        ]
    )


async def cmd_language(message: Message, services: Services) -> None:
    assert message.from_user is not None
    # The choice is stored on the profile, so make sure there is one.
    await services.roster.remember_user(user_profile(message.from_user))
    await message.answer(_("Choose the language I speak:"), reply_markup=language_keyboard())


async def on_language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCallback,
    services: Services,
    i18n: Catalogs,
    chosen_languages: ChosenLanguages,
) -> None:
    code = callback_data.code
    if code != TELEGRAM_DEFAULT and code not in LANGUAGE_NAMES:
        await query.answer(_("I don't speak that language."), show_alert=True)
        return
    language = None if code == TELEGRAM_DEFAULT else code
    await services.roster.remember_user(user_profile(query.from_user))
    await services.roster.set_ui_language(query.from_user.id, language)
    chosen_languages.remember(query.from_user.id, language)
    # Answer in the language just chosen (the update began in the previous one).
    locale = pick_locale(language, query.from_user.language_code, i18n.available_locales)
    with i18n.use_locale(locale):
        await query.answer()
        if isinstance(query.message, Message):
            # The msgid reads "English"; each catalog names its own language.
            await query.message.edit_text(_("Done: I will speak English with you."))


def create_router() -> Router:
    router = Router(name="start")
    # /help everywhere: in a group, a bare /help or /help@this_bot (aiogram's Command
    # ignores /help@another_bot) lists the group commands.
    router.message.register(cmd_help, Command("help"))
    private = Router(name="start.private")
    private.message.filter(When((F.chat.type == "private") & F.from_user))
    private.message.register(cmd_start, CommandStart())
    private.message.register(cmd_language, Command("language"))
    private.callback_query.register(on_language_chosen, LanguageCallback.filter())
    router.include_router(private)
    return router
