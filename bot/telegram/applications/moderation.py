"""Membership applications, the moderators' side: the card's Approve / Reject (canned or
typed reason, told to the applicant or not) / Ban buttons. Only moderators may press
them; a button is honoured only on its own card; one decision per application."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from bot.db.enums import ApplicationStatus
from bot.domain.dto import ApplicationDecision, Decision
from bot.errors import NotAllowedError, UserFacingError
from bot.i18n import N_, Catalogs, _
from bot.repositories.applications import ApplicationView
from bot.services import Services
from bot.services.applications import AlreadyDecidedError
from bot.settings import Settings
from bot.telegram.adapters import user_profile
from bot.telegram.admins import RESTRICT
from bot.telegram.applications import actions, views
from bot.telegram.applications import card as card_views
from bot.telegram.applications.card import ModAction
from bot.telegram.callbacks import ApplyCallback, ModCallback, malformed
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


class PendingCard(Filter):
    """A card button pressed by a moderator (one allowed to restrict members for a ban)
    on the card's own message, while the application is pending. Gives the handler
    `view` and `card` (the card's message). A stale card catches up and is refused."""

    async def __call__(
        self,
        query: CallbackQuery,
        callback_data: ModCallback,
        services: Services,
        bot: Bot,
        i18n: Catalogs,
        settings: Settings,
        moderators: Moderators,
    ) -> dict[str, Any]:
        if not await moderators.is_moderator(bot, query.from_user.id):
            raise NotAllowedError(N_("Only moderators can decide applications."))
        if callback_data.action in BANS and not await moderators.is_moderator(
            bot, query.from_user.id, RESTRICT
        ):
            raise NotAllowedError(N_("Only moderators allowed to restrict members can ban."))
        card = query.message
        if not isinstance(card, Message):
            raise UserFacingError(N_("This button is not valid."))
        view = await services.applications.on_card(
            callback_data.app_id, card.chat.id, card.message_id
        )
        await services.roster.remember_user(user_profile(query.from_user))  # named on the card
        if view.status != ApplicationStatus.PENDING:
            await actions.refresh_card(bot, i18n, settings, view)  # a stale card catches up
            raise AlreadyDecidedError(N_("Too late: this application is no longer pending."))
        return {"view": view, "card": card}


async def on_custom_reason(
    query: CallbackQuery,
    view: ApplicationView,
    card: Message,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
    state: FSMContext,
) -> None:
    """ "Other reason…": the moderator is asked to type it (the next message, by reply)."""
    await state.set_state(ModReason.typing)
    await state.set_data({"app_id": view.id})
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        prompt = views.custom_reason_prompt(query.from_user.id, query.from_user.first_name, view.id)
    await bot.send_message(
        card.chat.id,
        prompt,
        reply_parameters=ReplyParameters(message_id=card.message_id),
        reply_markup=ForceReply(selective=True),
    )
    await query.answer()


async def on_card_step(
    query: CallbackQuery,
    callback_data: ModCallback,
    view: ApplicationView,
    services: Services,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    """Reject (the reasons), a reason (tell the applicant?), Ban (confirm?) or Back: the
    card shows the next buttons."""
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        markup = _step_keyboard(callback_data, view, services.applications.reject_reasons())
    await actions.refresh_card(bot, i18n, settings, view, markup)
    await query.answer()


def _step_keyboard(
    callback_data: ModCallback, view: ApplicationView, reasons: list[str]
) -> InlineKeyboardMarkup | None:
    action = callback_data.action
    if action == ModAction.REJECT:
        return views.reasons_keyboard(view.id, reasons)
    if action == ModAction.REASON:
        if not 0 <= callback_data.reason < len(reasons):
            raise UserFacingError(N_("This button is not valid."))
        return views.share_keyboard(view.id, callback_data.reason)
    if action == ModAction.BAN:
        return views.ban_keyboard(view.id)
    return None  # BACK: the card's own buttons


async def on_decision(
    query: CallbackQuery,
    callback_data: ModCallback,
    view: ApplicationView,
    services: Services,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
    state: FSMContext,
) -> None:
    """Approve, Reject with a reason (told to the applicant or not), Ban: one decision,
    then what it does in Telegram, then the card shows it."""
    reason: str | None = None
    if callback_data.action == ModAction.REJECT_NOW:
        reason = await _reason(callback_data, view, services, state)
    svc = services.applications
    decided = await svc.decide(_decision(query, callback_data, view, reason))
    if callback_data.reason == TYPED_REASON:
        await state.clear()
    await query.answer(_("Done."))
    await actions.carry_out(bot, svc, i18n, settings, decided)
    await actions.refresh_card(bot, i18n, settings, await svc.get(view.id))


def _decision(
    query: CallbackQuery, callback_data: ModCallback, view: ApplicationView, reason: str | None
) -> ApplicationDecision:
    assert view.card_chat_id is not None
    assert view.card_message_id is not None
    return ApplicationDecision(
        application_id=view.id,
        moderator_id=query.from_user.id,
        decision=DECISIONS[callback_data.action],
        reason=reason,
        share_reason=callback_data.share,
        card_chat_id=view.card_chat_id,
        card_message_id=view.card_message_id,
    )


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
    i18n: Catalogs,
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
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        markup = views.share_keyboard(view.id, TYPED_REASON)
        note = views.custom_reason_received(view.id, text)
    await actions.refresh_card(bot, i18n, settings, view, markup)
    await message.reply(note)


async def on_invalid_button(query: CallbackQuery) -> None:
    """Callback data with our prefixes that does not parse: forged or from an old version."""
    await query.answer(_("This button is not valid."), show_alert=True)


def create_router() -> Router:
    router = Router(name="moderation")
    decisions = tuple(DECISIONS)
    steps = (ModAction.REJECT, ModAction.REASON, ModAction.BAN, ModAction.BACK)
    router.callback_query.register(
        on_decision, ModCallback.filter(F.action.in_(decisions)), PendingCard()
    )
    router.callback_query.register(
        on_custom_reason, ModCallback.filter(F.action == ModAction.CUSTOM), PendingCard()
    )
    router.callback_query.register(
        on_card_step, ModCallback.filter(F.action.in_(steps)), PendingCard()
    )
    router.message.register(
        on_typed_reason, StateFilter(ModReason.typing), When(F.text & ~F.text.startswith("/"))
    )
    router.callback_query.register(on_invalid_button, malformed(ModCallback, ApplyCallback))
    return router
