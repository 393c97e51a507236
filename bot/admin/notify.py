"""The one place the ops CLI talks to Telegram: after an operator cancels a queued job,
the user's status message ("queued…") is edited to say it was cancelled, in the user's
language, as the cancel button would have done. (A running job's worker does that
itself when it sees the cancel at its next heartbeat.)"""

from __future__ import annotations

from bot.repositories.jobs import JobView
from bot.settings import Settings


async def tell_cancelled(settings: Settings, job: JobView) -> str | None:
    """Edit the job's status message; returns why that did not happen, or None."""
    if job.status_message_id is None:
        return "the job has no status message to update"
    if settings.bot.token is None:
        return "BOT__TOKEN is not set: the user's status message was not updated"
    # aiogram only here, and only when needed: every other command runs without it.
    from aiogram.exceptions import TelegramAPIError

    from bot.i18n import DEFAULT_LOCALE, create_i18n
    from bot.telegram import a2t_views
    from bot.telegram.dispatcher import create_bot

    bot = create_bot(settings.bot)
    i18n = create_i18n()
    try:
        with i18n.context(), i18n.use_locale(job.ui_locale or DEFAULT_LOCALE):
            text = a2t_views.cancelled_text()
        await bot.edit_message_text(
            text=text, chat_id=job.chat_id, message_id=job.status_message_id, parse_mode=None
        )
    except TelegramAPIError as exc:
        return f"the user's status message could not be updated: {exc.message}"
    finally:
        await bot.session.close()
    return None
