"""Posts a job's progress and outcome to its chat, idempotently: the job row records
which result messages were already sent, so a re-run continues instead of repeating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from bot.db.base import utcnow
from bot.log import get_logger
from bot.repositories.jobs import JobView
from bot.settings import A2TSettings
from bot.telegram import a2t_views as views

log = get_logger(__name__)

SaveIds = Callable[[list[int]], Awaitable[None]]


class Notifier:
    def __init__(self, bot: Bot, settings: A2TSettings) -> None:
        self.bot = bot
        self.settings = settings

    async def progress(self, job: JobView, text: str) -> None:
        """Best effort: a progress edit that fails is skipped, never re-sent."""
        if job.status_message_id is None:
            return
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=job.chat_id,
                message_id=job.status_message_id,
                reply_markup=views.cancel_keyboard(job.id),
                parse_mode=None,
            )
        except TelegramBadRequest as exc:
            log.debug("progress edit skipped", error=exc.message)

    async def result(self, job: JobView, multilingual: bool, save_ids: SaveIds) -> None:
        footer = views.result_footer(
            job, utcnow(), timedelta(seconds=self.settings.delayed_after_s)
        )
        chunks = views.result_messages(job, footer)
        keyboard = views.result_keyboard(job, self.settings.rerun_languages, multilingual)
        posted = list(job.result_message_ids or [])
        for index, chunk in enumerate(chunks):
            if index < len(posted):
                continue  # sent by an earlier attempt
            markup = keyboard if index == len(chunks) - 1 else None
            if index == 0:
                message_id = await self.replace_status(job, chunk, markup)
            else:
                message_id = await self._reply(job, chunk, markup)
            posted.append(message_id)
            await save_ids(posted)

    async def replace_status(
        self, job: JobView, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int:
        """Turn the status message into `text`. Only when that message is gone (deleted
        by someone) is a new one sent: the outcome must reach the user."""
        if job.status_message_id is not None:
            try:
                await self.bot.edit_message_text(
                    text=text,
                    chat_id=job.chat_id,
                    message_id=job.status_message_id,
                    reply_markup=markup,
                    parse_mode=None,
                )
                return job.status_message_id
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return job.status_message_id
                if "not found" not in exc.message:
                    raise
                log.info("status message gone, replying instead", error=exc.message)
        return await self._reply(job, text, markup)

    async def _reply(self, job: JobView, text: str, markup: InlineKeyboardMarkup | None) -> int:
        message = await self.bot.send_message(
            chat_id=job.chat_id,
            text=text,
            reply_parameters=ReplyParameters(
                message_id=job.message_id, allow_sending_without_reply=True
            ),
            reply_markup=markup,
            parse_mode=None,
        )
        return message.message_id
