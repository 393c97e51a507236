"""Membership applications, the moderators' side: the card's Approve / Reject (canned or
typed reason, told to the applicant or not) / Ban buttons. Only moderators may press
them; a button is honoured only on its own card; one decision per application."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ForceReply, Message, ReplyParameters
from aiogram.utils.i18n import I18n

from bot.db.enums import ApplicationStatus
from bot.domain.dto import ApplicationDecision, Decision
from bot.errors import NotAllowedError, UserFacingError
from bot.i18n import N_, _
from bot.repositories.applications import ApplicationView
from bot.services import Services
from bot.services.applications import AlreadyDecidedError
from bot.settings import Settings
from bot.telegram import application_actions as actions
from bot.telegram import application_views as views
from bot.telegram.adapters import user_profile
from bot.telegram.admins import RESTRICT
from bot.telegram.callbacks import ApplyCallback, ModAction, ModCallback, malformed
from bot.telegram.filters import When
from bot.telegram.moderators import Moderators

DECISIONS = {
    ModAction.APPROVE: Decision.APPROVE,
    ModAction.REJECT_NOW: Decision.REJECT,
    ModAction.BAN_NOW: Decision.BAN,
}
BANS = (ModAction.BAN, ModAction.BAN_NOW)  # need the right to restrict members
NO_REASON = -2  # "reject without a reason"
TYPED_REASON = -1  # the reason the moderator typed (kept in their FSM data)
MAX_REASON = 500


class ModReason(StatesGroup):
    typing = State()  # data: app_id, reason


async def on_card_button(
    query: CallbackQuery,
    callback_data: ModCallback,
    services: Services,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderators: Moderators,
    state: FSMContext,
) -> None:
    if not await moderators.is_moderator(bot, query.from_user.id):
        raise NotAllowedError(N_("Only moderators can decide applications."))
    if callback_data.action in BANS and not await moderators.is_moderator(
        bot, query.from_user.id, RESTRICT
    ):
        raise NotAllowedError(N_("Only moderators allowed to restrict members can ban."))
    message = query.message
    if not isinstance(message, Message):
        raise UserFacingError(N_("This button is not valid."))
    svc = services.applications
    view = await svc.on_card(callback_data.app_id, message.chat.id, message.message_id)
    await services.roster.remember_user(user_profile(query.from_user))  # named on the card
    if view.status != ApplicationStatus.PENDING:
        await actions.refresh_card(bot, i18n, settings, view)  # a stale card catches up
        raise AlreadyDecidedError(N_("Too late: this application is no longer pending."))
    action = callback_data.action
    if action in (ModAction.APPROVE, ModAction.BAN_NOW, ModAction.REJECT_NOW):
        await _decide(query, callback_data, view, services, bot, i18n, settings, state)
        return
    if action == ModAction.CUSTOM:
        await state.set_state(ModReason.typing)
        await state.set_data({"app_id": view.id})
        with views.in_locale(i18n, views.moderation_locale(i18n, settings)):
            prompt = views.custom_reason_prompt(
                query.from_user.id, query.from_user.first_name, view.id
            )
        await bot.send_message(
            message.chat.id,
            prompt,
            reply_parameters=ReplyParameters(message_id=message.message_id),
            reply_markup=ForceReply(selective=True),
        )
        await query.answer()
        return
    reasons = svc.reject_reasons()
    with views.in_locale(i18n, views.moderation_locale(i18n, settings)):
        if action == ModAction.REJECT:
            markup = views.reasons_keyboard(view.id, reasons)
        elif action == ModAction.REASON:
            if not 0 <= callback_data.reason < len(reasons):
                raise UserFacingError(N_("This button is not valid."))
            markup = views.share_keyboard(view.id, callback_data.reason)
        elif action == ModAction.BAN:
            markup = views.ban_keyboard(view.id)
        else:  # BACK
            markup = None
    await actions.refresh_card(bot, i18n, settings, view, markup)
    await query.answer()


async def _decide(
    query: CallbackQuery,
    callback_data: ModCallback,
    view: ApplicationView,
    services: Services,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    state: FSMContext,
) -> None:
    action = callback_data.action
    reason: str | None = None
    if action == ModAction.REJECT_NOW:
        reason = await _reason(callback_data, view, services, state)
    decision = DECISIONS[action]
    assert view.card_chat_id is not None
    assert view.card_message_id is not None
    svc = services.applications
    decided = await svc.decide(
        ApplicationDecision(
            application_id=view.id,
            moderator_id=query.from_user.id,
            decision=decision,
            reason=reason,
            share_reason=callback_data.share,
            card_chat_id=view.card_chat_id,
            card_message_id=view.card_message_id,
        )
    )
    if callback_data.reason == TYPED_REASON:
        await state.clear()
    await query.answer(_("Done."))
    await actions.carry_out(bot, svc, i18n, settings, decided)
    await actions.refresh_card(bot, i18n, settings, await svc.get(view.id))


async def _reason(
    callback_data: ModCallback, view: ApplicationView, services: Services, state: FSMContext
) -> str | None:
    if callback_data.reason == NO_REASON:
        return None
    if callback_data.reason == TYPED_REASON:
        data = await state.get_data()
        if data.get("app_id") != view.id or not data.get("reason"):
            raise UserFacingError(N_("Type the reason first: press “Other reason…” again."))
        return str(data["reason"])
    reasons = services.applications.reject_reasons()
    if not 0 <= callback_data.reason < len(reasons):
        raise UserFacingError(N_("This button is not valid."))
    return reasons[callback_data.reason]


async def on_typed_reason(
    message: Message,
    services: Services,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderators: Moderators,
) -> None:
    assert message.from_user is not None
    if not await moderators.is_moderator(bot, message.from_user.id):  # demoted meanwhile
        await state.clear()
        raise NotAllowedError(N_("Only moderators can decide applications."))
    text = (message.text or "").strip()
    if not text or len(text) > MAX_REASON:
        raise UserFacingError(
            N_("Please write the reason in up to {limit} characters."), limit=MAX_REASON
        )
    data = await state.get_data()
    view = await services.applications.get(int(data["app_id"]))
    if view.status != ApplicationStatus.PENDING:
        await state.clear()
        raise AlreadyDecidedError(N_("Too late: this application is no longer pending."))
    await state.update_data(reason=text)
    with views.in_locale(i18n, views.moderation_locale(i18n, settings)):
        markup = views.share_keyboard(view.id, TYPED_REASON)
        note = views.custom_reason_received(view.id, text)
    await actions.refresh_card(bot, i18n, settings, view, markup)
    await message.reply(note)


async def on_invalid_button(query: CallbackQuery) -> None:
    """Callback data with our prefixes that does not parse: forged or from an old version."""
    await query.answer(_("This button is not valid."), show_alert=True)


def create_router() -> Router:
    router = Router(name="moderation")
    router.callback_query.register(on_card_button, ModCallback.filter())
    router.message.register(
        on_typed_reason, StateFilter(ModReason.typing), When(F.text & ~F.text.startswith("/"))
    )
    router.callback_query.register(on_invalid_button, malformed(ModCallback, ApplyCallback))
    return router
