"""A2T in Telegram: voice notes in, status replies out; cancel, .txt/.srt, re-run,
/transcribe and per-chat modes. The work is TranscriptionService's and the worker's."""

from __future__ import annotations

import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import ChatMemberUpdatedFilter, CommandObject, or_f
from aiogram.filters.chat_member_updated import LEAVE_TRANSITION
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from bot import metrics
from bot.db.base import utcnow
from bot.db.enums import A2TMode, ChatType, JobStatus
from bot.errors import NotAllowedError, UserFacingError
from bot.i18n import N_, _, current_locale
from bot.log import get_logger
from bot.services import Services
from bot.services.transcription import Admission
from bot.settings import Settings
from bot.telegram import a2t_views as views
from bot.telegram.a2t_views import A2TAction
from bot.telegram.adapters import chat_info, speaker_of, user_profile, voice_request
from bot.telegram.admins import is_chat_admin
from bot.telegram.callbacks import A2TCallback
from bot.telegram.filters import Command, UnservedChat, VoiceMedia, VoiceMediaRef, When
from bot.telegram.moderators import Moderators

log = get_logger(__name__)
MODES = ", ".join(m.value for m in A2TMode)


async def on_unserved_chat(message: Message) -> None:
    """A group outside A2T__ALLOWED_GROUPS: voice notes, /transcribe and /a2t_mode get no
    answer at all (a reply to each would make the bot a tool for spamming that group)."""
    log.debug("a2t request in a chat not served", chat_id=message.chat.id)


async def on_voice(message: Message, media: VoiceMediaRef, services: Services, bot: Bot) -> None:
    started = time.perf_counter()
    chat_type = ChatType(message.chat.type)
    svc = services.transcription
    if chat_type != ChatType.PRIVATE:
        await services.roster.remember_chat(chat_info(message.chat))
        if await svc.chat_mode(message.chat.id, chat_type) != A2TMode.AUTO:
            return
        if not svc.status.available:
            return  # no "unavailable" reply to every voice note of a group
    await _submit(bot, message, message, media, services, started)


async def cmd_transcribe(
    message: Message, media: VoiceMediaRef, media_message: Message, services: Services, bot: Bot
) -> None:
    started = time.perf_counter()
    chat_type = ChatType(message.chat.type)
    if chat_type != ChatType.PRIVATE:
        await services.roster.remember_chat(chat_info(message.chat))
    if await services.transcription.chat_mode(message.chat.id, chat_type) == A2TMode.OFF:
        raise UserFacingError(N_("Transcription is switched off in this chat."))
    await _submit(bot, message, media_message, media, services, started)


async def cmd_transcribe_without_reply(message: Message) -> None:
    await message.reply(_("Reply to a voice note, audio or video note with /transcribe."))


async def _submit(
    bot: Bot,
    message: Message,
    media_message: Message,
    media: VoiceMediaRef,
    services: Services,
    started: float,
) -> None:
    # Charged to whoever asked: the sender of the note, or of /transcribe.
    requester = message.from_user
    if requester is not None:
        await services.roster.remember_user(user_profile(requester))
    request = voice_request(
        media_message,
        media,
        user_id=requester.id if requester else None,
        speaker_id=speaker_of(media_message),
        ui_locale=current_locale(),
    )
    admission = await services.transcription.submit(request)
    await _render_admission(bot, message.chat.id, media_message.message_id, admission, services)
    if admission.outcome != "duplicate":
        metrics.A2T_TIME_TO_STATUS.observe(time.perf_counter() - started)


def _markup(keyboard: views.Markup) -> InlineKeyboardMarkup:
    """The shared views' keyboards are the Bot API's JSON (the worker has no aiogram)."""
    return InlineKeyboardMarkup.model_validate(keyboard)


async def _render_admission(
    bot: Bot, chat_id: int, voice_message_id: int, admission: Admission, services: Services
) -> None:
    job = admission.job
    reply_to = ReplyParameters(message_id=voice_message_id, allow_sending_without_reply=True)
    if admission.outcome == "duplicate":
        log.info("duplicate voice note ignored", job_id=job.id)
    elif admission.outcome == "cached":
        chunks = views.result_messages(job, views.result_footer(job))
        sent: list[int] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            answer = await bot.send_message(
                chat_id,
                chunk,
                reply_parameters=reply_to,
                reply_markup=(
                    _markup(views.result_keyboard(job, [], multilingual=False)) if last else None
                ),
                parse_mode=None,
            )
            sent.append(answer.message_id)
        await services.transcription.answered(job, sent)
    else:
        status = await bot.send_message(
            chat_id,
            views.queued_text(admission.position),
            reply_parameters=reply_to,
            reply_markup=_markup(views.cancel_keyboard(job.id)),
            parse_mode=None,
        )
        await services.transcription.announce(job, status.message_id)


async def cmd_a2t_mode(
    message: Message, command: CommandObject, services: Services, bot: Bot, settings: Settings
) -> None:
    assert message.from_user is not None
    if message.chat.type == ChatType.PRIVATE:
        raise UserFacingError(N_("In private chats I always transcribe voice notes."))
    mode = (command.args or "").strip().lower()
    current = await services.transcription.chat_mode(message.chat.id, ChatType(message.chat.type))
    if not mode:
        await message.reply(
            _("Transcription mode here: {mode}. Set it with /a2t_mode {modes}.").format(
                mode=current.value, modes=MODES
            )
        )
        return
    if mode not in {m.value for m in A2TMode}:
        raise UserFacingError(
            N_("Unknown mode {mode}; use one of: {modes}."), mode=mode, modes=MODES
        )
    if not await is_chat_admin(bot, settings, message.chat.id, message.from_user.id):
        raise NotAllowedError(N_("Only chat admins can change the transcription mode."))
    await services.roster.remember_chat(chat_info(message.chat))
    await services.transcription.set_chat_mode(message.chat.id, A2TMode(mode))
    await message.reply(_("Transcription mode set to {mode}.").format(mode=mode))


async def cmd_a2t_status(
    message: Message, services: Services, bot: Bot, settings: Settings, moderators: Moderators
) -> None:
    """Moderators: the transcription queues and their live workers, here or in private."""
    assert message.from_user is not None
    if message.chat.type != ChatType.PRIVATE and message.chat.id != settings.moderation.chat_id:
        raise UserFacingError(
            N_("Use /a2t_status in a private chat with me or in the moderation chat.")
        )
    if not await moderators.is_moderator(bot, message.from_user.id):
        raise NotAllowedError(N_("Only moderators can see the transcription queues."))
    queues = await services.transcription.queue_status()
    await message.reply(views.queue_status_text(queues, utcnow()), parse_mode=None)


def _pressed_in(query: CallbackQuery) -> tuple[int | None, ChatType]:
    """The chat a button was pressed in: every A2T action is bound to it. None for a
    message Telegram does not name (inline mode): no job belongs there."""
    if query.message is None:
        return None, ChatType.PRIVATE
    return query.message.chat.id, ChatType(query.message.chat.type)


async def on_cancel(
    query: CallbackQuery,
    callback_data: A2TCallback,
    services: Services,
    bot: Bot,
    settings: Settings,
) -> None:
    """The requester, or an admin of the job's own chat, pressing in that chat."""
    svc = services.transcription
    chat_id, _type = _pressed_in(query)
    job = await svc.job_in_chat(callback_data.job_id, chat_id)
    actor = query.from_user.id
    is_admin = actor != job.user_id and await is_chat_admin(bot, settings, job.chat_id, actor)
    previous = await svc.cancel(job.id, chat_id, actor, is_admin)
    if previous == JobStatus.QUEUED and job.status_message_id is not None:
        try:
            await bot.edit_message_text(
                views.cancelled_text(),
                chat_id=job.chat_id,
                message_id=job.status_message_id,
                parse_mode=None,
            )
        except TelegramBadRequest as exc:  # the status message was deleted meanwhile
            log.info("cancelled job's status message not edited", error=exc.message)
    await query.answer(_("Cancelled.") if previous == JobStatus.QUEUED else _("Stopping…"))


async def on_file(
    query: CallbackQuery, callback_data: A2TCallback, services: Services, bot: Bot
) -> None:
    chat_id, chat_type = _pressed_in(query)
    job = await services.transcription.finished(callback_data.job_id, chat_id, chat_type)
    if callback_data.action == A2TAction.TXT:
        document = BufferedInputFile(views.transcript_txt(job), f"transcript-{job.id}.txt")
    else:
        document = BufferedInputFile(views.transcript_srt(job), f"transcript-{job.id}.srt")
    await bot.send_document(
        job.chat_id,
        document,
        reply_parameters=ReplyParameters(
            message_id=job.message_id, allow_sending_without_reply=True
        ),
    )
    await query.answer()


async def on_rerun(
    query: CallbackQuery, callback_data: A2TCallback, services: Services, bot: Bot
) -> None:
    chat_id, chat_type = _pressed_in(query)
    admission = await services.transcription.rerun(
        callback_data.job_id,
        chat_id,
        chat_type,
        callback_data.language,
        query.from_user.id,
        current_locale(),
    )
    if admission.outcome == "duplicate":
        await query.answer(_("Already on it."))
        return
    job = admission.job
    await _render_admission(bot, job.chat_id, job.message_id, admission, services)
    await query.answer()


async def on_bot_removed(event: ChatMemberUpdated, services: Services) -> None:
    count = await services.transcription.stop_chat(event.chat.id)
    log.info("bot removed from chat: pending jobs cancelled", cancelled=count)


def create_router() -> Router:
    router = Router(name="voice")
    router.message.filter(When(F.from_user))
    router.message.register(
        on_unserved_chat,
        UnservedChat(),
        or_f(VoiceMedia(), Command("transcribe", "a2t_mode")),
    )
    router.message.register(on_voice, VoiceMedia())
    router.message.register(cmd_transcribe, Command("transcribe"), VoiceMedia(in_reply=True))
    router.message.register(cmd_transcribe_without_reply, Command("transcribe"))
    router.message.register(cmd_a2t_mode, Command("a2t_mode"))
    router.message.register(cmd_a2t_status, Command("a2t_status"))
    router.callback_query.register(on_cancel, A2TCallback.filter(F.action == A2TAction.CANCEL))
    router.callback_query.register(
        on_file, A2TCallback.filter(F.action.in_({A2TAction.TXT, A2TAction.SRT}))
    )
    router.callback_query.register(on_rerun, A2TCallback.filter(F.action == A2TAction.RERUN))
    router.my_chat_member.register(on_bot_removed, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
    return router
