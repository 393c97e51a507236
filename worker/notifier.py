"""Posts a job's progress and outcome to its chat, idempotently: the result is posted
from the parts stored on the job row (split once, when the transcript was stored), and
the row records which parts were already sent, so a re-run continues instead of
repeating.

The part being sent is recorded before each send and its message id saved (in its own
commit) right after. Part 1 is an edit of the status message, which can be repeated
harmlessly. A later part is a new message: if the worker dies after Telegram took it
and before its id was saved, the re-run finds the part marked as being sent without
an id. The Bot API cannot tell whether that message exists, so the part is sent again:
a part may appear twice in that case (logged), but never goes missing.
"""

from __future__ import annotations

from typing import Protocol

from bot.log import get_logger
from bot.repositories.jobs import JobView
from bot.settings import A2TSettings
from bot.telegram import a2t_views as views
from bot.telegram.botapi import BadRequestError, BotAPI, Markup

log = get_logger(__name__)


class PostingLog(Protocol):
    """Where the progress of posting a result is recorded (the job row, fenced)."""

    async def sending(self, part: int) -> None: ...

    async def sent(self, message_ids: list[int]) -> None: ...


class Notifier:
    def __init__(self, bot: BotAPI, settings: A2TSettings) -> None:
        self.bot = bot
        self.settings = settings

    async def progress(self, job: JobView, text: str) -> None:
        """Best effort: a progress edit that fails is skipped, never re-sent."""
        if job.status_message_id is None:
            return
        try:
            await self.bot.edit_message_text(
                job.chat_id,
                job.status_message_id,
                text,
                reply_markup=views.cancel_keyboard(job.id),
                parse_mode=None,
            )
        except BadRequestError as exc:
            log.debug("progress edit skipped", error=exc.message)

    async def result(self, job: JobView, multilingual: bool, record: PostingLog) -> None:
        parts = job.result_parts
        assert parts, "the result is split into parts when it is stored"
        keyboard = views.result_keyboard(job, self.settings.rerun_languages, multilingual)
        posted = list(job.result_message_ids or [])
        for index, part in enumerate(parts):
            if index < len(posted):
                continue  # sent by an earlier attempt
            if index > 0 and job.posting_part == index:
                log.warning(
                    "result part may have been sent by a run that died; sending again",
                    part=index + 1,
                )
            markup = keyboard if index == len(parts) - 1 else None
            await record.sending(index)
            if index == 0:
                message_id = await self.replace_status(job, part, markup)
            else:
                message_id = await self._reply(job, part, markup)
            posted.append(message_id)
            await record.sent(posted)

    async def replace_status(self, job: JobView, text: str, markup: Markup | None = None) -> int:
        """Turn the status message into `text`. Only when that message is gone (deleted
        by someone) is a new one sent: the outcome must reach the user."""
        if job.status_message_id is not None:
            try:
                await self.bot.edit_message_text(
                    job.chat_id,
                    job.status_message_id,
                    text,
                    reply_markup=markup,
                    parse_mode=None,
                )
                return job.status_message_id
            except BadRequestError as exc:
                if "not modified" in exc.message:
                    return job.status_message_id
                if "not found" not in exc.message:
                    raise
                log.info("status message gone, replying instead", error=exc.message)
        return await self._reply(job, text, markup)

    async def _reply(self, job: JobView, text: str, markup: Markup | None) -> int:
        return await self.bot.send_message(
            job.chat_id, text, reply_to=job.message_id, reply_markup=markup, parse_mode=None
        )
