"""Membership applications, the applicant's side: a join request to the community chat
or /apply (also the deep link /start apply) opens a questionnaire (aiogram FSM) with a
summary to confirm or edit; voice answers go through A2T. A join request through an
approved applicant's personal invite link is let in for that applicant only (see
actions.py); the narrow chat_member handler deals with links of the older,
single-use kind."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import CallbackQuery, ChatJoinRequest, ChatMemberUpdated, Message

from bot.db.enums import ApplicationSource, ApplicationStatus
from bot.errors import FeatureUnavailableError, UserFacingError
from bot.i18n import N_, Catalogs, _
from bot.log import get_logger
from bot.repositories.applications import ApplicationView
from bot.services import Services
from bot.services.applications import Started
from bot.settings import Settings
from bot.telegram.adapters import chat_info, user_profile, voice_request
from bot.telegram.applications import actions, views
from bot.telegram.applications import card as card_views
from bot.telegram.callbacks import ApplyAction, ApplyCallback
from bot.telegram.filters import Command, CommandStart, VoiceMedia, VoiceMediaRef, When

log = get_logger(__name__)


class Apply(StatesGroup):
    answering = State()  # data: app_id, position, editing
    confirming = State()  # data: app_id


# --------------------------------------------------------------------------- ways in
async def cmd_apply(
    message: Message, services: Services, state: FSMContext, bot: Bot, settings: Settings
) -> None:
    assert message.from_user is not None
    if await _already_member(bot, settings, message.from_user.id):
        await message.answer(views.already_member_text())
        return
    started = await services.applications.start(
        user_profile(message.from_user), ApplicationSource.COMMAND
    )
    await _continue(bot, message.chat.id, started.application, services, state)


async def on_join_request(
    request: ChatJoinRequest,
    services: Services,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """DM the applicant (allowed for 5 minutes after the request, via user_chat_id) and
    start the questionnaire there. A request through an approved application's personal
    link is that application's business instead."""
    await services.roster.remember_chat(chat_info(request.chat))
    if await _through_personal_link(request, services, bot, i18n, settings):
        return
    started = await _start_from_request(request, services, bot)
    if started is None:
        return
    view = started.application
    state = FSMContext(
        storage=fsm_storage,
        key=StorageKey(bot_id=bot.id, chat_id=request.user_chat_id, user_id=request.from_user.id),
    )
    try:
        if not started.resumed:
            intro = views.intro_text(request.chat.title, len(services.applications.questions()))
            await bot.send_message(request.user_chat_id, intro)
        await _continue(bot, request.user_chat_id, view, services, state)
    except TelegramAPIError as exc:
        await _dm_failed(view, exc, services, bot, i18n, settings)
        return
    await services.applications.record(view.id, "dm_sent")


async def _through_personal_link(
    request: ChatJoinRequest, services: Services, bot: Bot, i18n: Catalogs, settings: Settings
) -> bool:
    """A request through the personal link of an approved application: handled as that
    application's (True)."""
    link = request.invite_link
    if link is None or link.creator.id != bot.id:
        return False
    svc = services.applications
    view = await svc.joined_via_link(request.chat.id, link.invite_link)
    if view is None:
        return False
    await services.roster.remember_user(user_profile(request.from_user))
    user = request.from_user
    await actions.on_link_request(bot, svc, i18n, settings, view, user.id, user.full_name)
    return True


async def _start_from_request(
    request: ChatJoinRequest, services: Services, bot: Bot
) -> Started | None:
    """The application a join request opens; None when there is none to fill in."""
    try:
        return await services.applications.start(
            user_profile(request.from_user), ApplicationSource.JOIN_REQUEST
        )
    except FeatureUnavailableError as exc:
        # Not set up: the request stays for the chat's admins to handle by hand.
        log.warning("join request left to the admins", reason=str(exc))
        return None
    except UserFacingError as exc:  # re-apply rules: the request is declined, with the why
        log.info("join request declined by the re-apply rules", reason=str(exc))
        try:
            await bot.decline_chat_join_request(request.chat.id, request.from_user.id)
        except TelegramAPIError as error:
            log.warning("join request not declined", error=str(error))
        await _try_send(bot, request.user_chat_id, exc.render(_, escape_html=True))
        return None


async def _dm_failed(
    view: ApplicationView,
    exc: TelegramAPIError,
    services: Services,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    log.info("applicant not reachable by DM", application_id=view.id, error=str(exc))
    await services.applications.record(view.id, "dm_failed", error=str(exc)[:200])
    chat_id = settings.moderation.chat_id
    if chat_id is not None:
        me = await bot.me()
        with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
            note = views.dm_failed_text(view, me.username)
        await _try_send(bot, chat_id, note)


# --------------------------------------------------------------------------- questionnaire
async def on_text_answer(message: Message, services: Services, state: FSMContext, bot: Bot) -> None:
    assert message.from_user is not None
    assert message.text is not None
    data = await state.get_data()
    await _still_a_draft(data["app_id"], message.from_user.id, services, state)
    view = await services.applications.answer(
        data["app_id"], message.from_user.id, data["position"], text=message.text
    )
    await _after_answer(bot, message.chat.id, view, services, state, data)


async def on_voice_answer(
    message: Message,
    media: VoiceMediaRef,
    services: Services,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
) -> None:
    assert message.from_user is not None
    if not settings.applications.accept_voice:
        raise UserFacingError(N_("Please answer in text."))
    data = await state.get_data()
    svc = services.applications
    await _still_a_draft(data["app_id"], message.from_user.id, services, state)
    await services.roster.remember_user(user_profile(message.from_user))
    admission = await services.transcription.submit(
        voice_request(message, media, user_id=message.from_user.id)
    )
    if admission.outcome == "duplicate":
        return  # the same voice note delivered twice
    view = await svc.answer(
        data["app_id"], message.from_user.id, data["position"], job_id=admission.job.id
    )
    if admission.outcome == "queued":
        await services.transcription.announce(admission.job, None)
    await message.reply(views.voice_received_text())
    await _after_answer(bot, message.chat.id, view, services, state, data)


async def _still_a_draft(app_id: int, user_id: int, services: Services, state: FSMContext) -> None:
    """The questionnaire's state may outlive its application (expired, withdrawn
    elsewhere): then it is dropped, and the applicant told once."""
    try:
        await services.applications.draft_of(app_id, user_id)
    except UserFacingError:
        await state.clear()
        raise


async def on_other_answer(message: Message) -> None:
    await message.reply(views.text_or_voice_text())


async def on_text_while_confirming(message: Message) -> None:
    await message.reply(views.use_buttons_text())


async def _after_answer(
    bot: Bot,
    chat_id: int,
    view: ApplicationView,
    services: Services,
    state: FSMContext,
    data: dict[str, Any],
) -> None:
    if data.get("editing"):
        await _show_summary(bot, chat_id, view, state)
    else:
        await _continue(bot, chat_id, view, services, state)


async def _continue(
    bot: Bot, chat_id: int, view: ApplicationView, services: Services, state: FSMContext
) -> None:
    """The next unanswered question, or the summary when all are answered."""
    if view.status == ApplicationStatus.PENDING:
        await state.clear()
        await bot.send_message(chat_id, views.pending_text())
        return
    position = services.applications.next_position(view)
    if position is None:
        await _show_summary(bot, chat_id, view, state)
        return
    await _ask(bot, chat_id, view.id, position, services, state, editing=False)


async def _ask(
    bot: Bot,
    chat_id: int,
    app_id: int,
    position: int,
    services: Services,
    state: FSMContext,
    *,
    editing: bool,
) -> None:
    questions = services.applications.questions()
    await state.set_state(Apply.answering)
    await state.set_data({"app_id": app_id, "position": position, "editing": editing})
    await bot.send_message(
        chat_id, views.question_text(position, len(questions), questions[position])
    )


async def _show_summary(bot: Bot, chat_id: int, view: ApplicationView, state: FSMContext) -> None:
    await state.set_state(Apply.confirming)
    await state.set_data({"app_id": view.id})
    await bot.send_message(
        chat_id, views.summary_text(view), reply_markup=views.summary_keyboard(view.id)
    )


# --------------------------------------------------------------------------- summary buttons
async def on_submit(
    query: CallbackQuery,
    callback_data: ApplyCallback,
    services: Services,
    state: FSMContext,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    svc = services.applications
    view = await svc.submit(callback_data.app_id, query.from_user.id)
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(views.submitted_text())
    await query.answer()
    await actions.post_card(bot, svc, i18n, settings, view)


async def on_edit(query: CallbackQuery, callback_data: ApplyCallback, services: Services) -> None:
    svc = services.applications
    await svc.draft_of(callback_data.app_id, query.from_user.id)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(
            reply_markup=views.edit_keyboard(callback_data.app_id, svc.questions())
        )
    await query.answer()


async def on_back(query: CallbackQuery, callback_data: ApplyCallback, services: Services) -> None:
    await services.applications.draft_of(callback_data.app_id, query.from_user.id)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(
            reply_markup=views.summary_keyboard(callback_data.app_id)
        )
    await query.answer()


async def on_redo(
    query: CallbackQuery,
    callback_data: ApplyCallback,
    services: Services,
    state: FSMContext,
    bot: Bot,
) -> None:
    svc = services.applications
    view = await svc.draft_of(callback_data.app_id, query.from_user.id)
    if not 0 <= callback_data.position < len(svc.questions()):
        raise UserFacingError(N_("That question does not exist any more; send /apply again."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    await query.answer()
    chat_id = query.message.chat.id if query.message else query.from_user.id
    await _ask(bot, chat_id, view.id, callback_data.position, services, state, editing=True)


async def on_cancel_button(
    query: CallbackQuery,
    callback_data: ApplyCallback,
    services: Services,
    state: FSMContext,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    await _withdraw(bot, callback_data.app_id, query.from_user.id, services, state, i18n, settings)
    if isinstance(query.message, Message):
        await query.message.edit_text(views.cancelled_text())
    await query.answer()


async def cmd_cancel(
    message: Message,
    services: Services,
    state: FSMContext,
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    assert message.from_user is not None
    app_id = (await state.get_data()).get("app_id")
    if app_id is None:  # no questionnaire running: a submitted application, if any
        current = await services.applications.current(message.from_user.id)
        app_id = current.id if current is not None else None
    if app_id is None:
        await state.clear()
        await message.answer(views.nothing_to_cancel_text())
        return
    await _withdraw(bot, app_id, message.from_user.id, services, state, i18n, settings)
    await message.answer(views.cancelled_text())


async def _withdraw(
    bot: Bot,
    app_id: int,
    user_id: int,
    services: Services,
    state: FSMContext,
    i18n: Catalogs,
    settings: Settings,
) -> None:
    svc = services.applications
    view = await svc.withdraw(app_id, user_id)
    await state.clear()
    await actions.decline_request(bot, svc, view)
    await actions.refresh_card(bot, i18n, settings, view)  # moderators see it withdrawn


async def _already_member(bot: Bot, settings: Settings, user_id: int) -> bool:
    chat_id = settings.community.chat_id
    if chat_id is None:
        return False
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as exc:  # the bot is not in the chat (yet): let them apply
        log.info("membership unknown", error=str(exc))
        return False
    return member.status in ("creator", "administrator", "member") or bool(
        getattr(member, "is_member", False)
    )


# --------------------------------------------------------------------------- joined via our link
async def on_joined_by_invite(
    event: ChatMemberUpdated, services: Services, bot: Bot, i18n: Catalogs, settings: Settings
) -> None:
    """Someone joined directly through an application's invite link: a single-use link
    of the older kind (today's links create a join request, handled in on_join_request,
    and their joins arrive with via_join_request)."""
    link = event.invite_link
    assert link is not None
    if event.via_join_request:
        return
    svc = services.applications
    view = await svc.joined_via_link(event.chat.id, link.invite_link)
    if view is None:
        return
    user = event.new_chat_member.user
    await services.roster.remember_user(user_profile(user))
    await actions.on_link_join(bot, svc, i18n, settings, view, user.id, user.full_name, event.date)


async def _try_send(bot: Bot, chat_id: int, text: str) -> None:
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as exc:
        log.info("message not delivered", chat_id=chat_id, error=str(exc))


async def _community_chat(event: ChatJoinRequest | ChatMemberUpdated, settings: Settings) -> bool:
    return settings.community.chat_id is not None and event.chat.id == settings.community.chat_id


async def _bot_made_link(event: ChatMemberUpdated, bot: Bot) -> bool:
    return event.invite_link is not None and event.invite_link.creator.id == bot.id


def create_router() -> Router:
    router = Router(name="applications")
    # Every message handler here is for private chats: one check for the router (a
    # group message skips all of them at once).
    router.message.filter(When(F.from_user & (F.chat.type == "private")))
    router.message.register(cmd_apply, Command("apply"))
    router.message.register(cmd_apply, CommandStart(deep_link=True, magic=F.args == "apply"))
    router.message.register(cmd_cancel, Command("cancel"))
    answering = StateFilter(Apply.answering)
    router.message.register(on_voice_answer, answering, VoiceMedia())
    router.message.register(on_text_answer, answering, When(F.text & ~F.text.startswith("/")))
    router.message.register(on_other_answer, answering, When(~F.text))
    router.message.register(
        on_text_while_confirming, StateFilter(Apply.confirming), When(~F.text.startswith("/"))
    )
    router.callback_query.register(on_submit, ApplyCallback.filter(F.action == ApplyAction.SUBMIT))
    router.callback_query.register(on_edit, ApplyCallback.filter(F.action == ApplyAction.EDIT))
    router.callback_query.register(on_back, ApplyCallback.filter(F.action == ApplyAction.BACK))
    router.callback_query.register(on_redo, ApplyCallback.filter(F.action == ApplyAction.REDO))
    router.callback_query.register(
        on_cancel_button, ApplyCallback.filter(F.action == ApplyAction.CANCEL)
    )
    router.chat_join_request.register(on_join_request, _community_chat)
    router.chat_member.register(
        on_joined_by_invite,
        ChatMemberUpdatedFilter(JOIN_TRANSITION),
        _community_chat,
        _bot_made_link,
    )
    return router
