"""/forgetme: a user deletes their personal data, after a confirm button, and is told
exactly what was removed and what is kept (ProfileService.forget)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message

from bot.errors import NotAllowedError, UserFacingError
from bot.i18n import Catalogs, ChosenLanguages
from bot.services import Services
from bot.settings import Settings
from bot.telegram.applications import actions
from bot.telegram.callbacks import malformed
from bot.telegram.filters import Command, When
from bot.telegram.roster import views
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback


async def cmd_forgetme(message: Message) -> None:
    assert message.from_user is not None
    if message.chat.type != "private":
        raise UserFacingError(views.FORGET_PRIVATE)
    await message.answer(
        views.forget_prompt(), reply_markup=views.forget_keyboard(message.from_user.id)
    )


async def on_forget(
    query: CallbackQuery,
    callback_data: ForgetCallback,
    services: Services,
    chosen_languages: ChosenLanguages,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    if callback_data.user_id != query.from_user.id:
        raise NotAllowedError(views.FORGET_NOT_YOURS)
    if callback_data.action == ForgetAction.CANCEL:
        text = views.forget_cancelled()
    else:
        # Committed when it returns: "Done" is never shown for data still there.
        report = await services.profiles.forget(query.from_user.id)
        chosen_languages.remember(query.from_user.id, None)
        for app_id in report.cards:  # the moderators' copies of the answers and name
            view = await services.applications.get(app_id)
            await actions.refresh_card(bot, i18n, settings, view, erased=True)
        text = views.forget_report(report)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)
    await query.answer()


async def on_bad_forget(query: CallbackQuery) -> None:
    """Confirm data that does not parse: forged, or from an older version."""
    raise NotAllowedError(views.FORGET_NOT_YOURS)


def create_router() -> Router:
    router = Router(name="privacy")
    router.message.filter(When(F.from_user))
    router.message.register(cmd_forgetme, Command("forgetme"))
    router.callback_query.register(on_forget, ForgetCallback.filter())
    router.callback_query.register(on_bad_forget, malformed(ForgetCallback))
    return router
