"""The moderators' card of an application: its text and buttons, and its refresh when a
voice answer's transcript is ready. No aiogram here: the transcription worker refreshes
the card through its Bot API client (bot/telegram/botapi.py) and never loads aiogram;
the buttons are the Bot API's JSON, their data packed as `ModCallback` packs it
(bot/telegram/callbacks.py parses it; a test holds the two together)."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import ApplicationSource, ApplicationStatus, JobStatus
from bot.i18n import N_, Catalogs, _, get_i18n, pick_locale
from bot.log import get_logger
from bot.repositories.applications import AnswerView, ApplicationView
from bot.services.applications import ApplicationService
from bot.settings import Settings
from bot.telegram.botapi import BadRequestError, BotAPI, BotAPIError
from bot.telegram.text_limits import MESSAGE_LIMIT, cut, visible_len

log = get_logger(__name__)

# A card is one message (4096 characters, counted as Telegram does): the answers get what
# the rest leaves, shared equally and cut with "…"; questions, names and the reason are
# cut to these first.
QUESTION_SHOWN, NAME_SHOWN, REASON_SHOWN = 200, 128, 500


class ModAction(StrEnum):
    APPROVE = "a"
    REJECT = "r"  # show the reasons
    REASON = "rr"  # a canned reason was picked: ask whether to tell the applicant
    CUSTOM = "rc"  # ask the moderator to type a reason
    REJECT_NOW = "rd"  # reject with `reason` (-1: the typed one), telling if `share`
    BAN = "b"  # ask to confirm
    BAN_NOW = "bc"
    BACK = "k"


def mod_data(action: ModAction, app_id: int, reason: int = -1, share: bool = False) -> str:
    """A card button's callback data, as `ModCallback(...).pack()`."""
    return f"am:{action.value}:{app_id}:{reason}:{int(share)}"


def quote(text: str) -> str:
    """HTML-escape a user value (as aiogram's `html.quote`)."""
    return html.escape(text, quote=False)


@contextmanager
def in_locale(i18n: Catalogs, locale: str) -> Iterator[None]:
    with i18n.context(), i18n.use_locale(locale):
        yield


def moderation_locale(i18n: Catalogs, settings: Settings) -> str:
    return pick_locale(settings.moderation.language, None, i18n.available_locales)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


STATUS_NAMES = {
    ApplicationStatus.DRAFT: N_("being filled in"),
    ApplicationStatus.PENDING: N_("waiting for a decision"),
    ApplicationStatus.APPROVED: N_("approved"),
    ApplicationStatus.REJECTED: N_("rejected"),
    ApplicationStatus.BANNED: N_("banned"),
    ApplicationStatus.EXPIRED: N_("expired"),
    ApplicationStatus.WITHDRAWN: N_("withdrawn"),
}


def status_name(status: ApplicationStatus) -> str:
    return _(STATUS_NAMES[status])


def answer_shown(answer: AnswerView, limit: int | None = None) -> str:
    if answer.job_id is not None and answer.text is None:
        if answer.job_status == JobStatus.DONE and answer.job_text is not None:
            text = "🎤 " + quote(clip(answer.job_text, limit))
        elif answer.job_status in (JobStatus.FAILED, JobStatus.CANCELLED):
            text = "🎤 " + _("(voice answer; it could not be transcribed)")
        else:
            text = "🎤 " + _("(voice answer; transcribing…)")
        return text
    return quote(clip(answer.text or "", limit))


def clip(text: str, limit: int | None) -> str:
    return text if limit is None else cut(text, limit)


def fit_answers(
    head: list[str],
    answers: list[AnswerView],
    question: Callable[[AnswerView], str],
    tail: list[str],
) -> str:
    """Questions and answers between `head` and `tail`, in one message: when the whole
    does not fit, the answers share what the rest leaves equally, cut with "…"."""

    def render(limit: int | None) -> str:
        lines = list(head)
        for answer in answers:
            lines += ["", question(answer), answer_shown(answer, limit)]
        return "\n".join(lines + tail)

    text = render(None)
    if visible_len(text) <= MESSAGE_LIMIT:
        return text
    # A first guess, then shrink until it fits (the "…" of cut answers and the fixed
    # texts of voice answers make the guess inexact).
    spare = MESSAGE_LIMIT - visible_len(render(0))
    limit = max(spare // max(1, len(answers)), 1)
    while True:
        text = render(limit)
        if visible_len(text) <= MESSAGE_LIMIT or limit == 1:
            return text
        limit = max(limit - max(limit // 8, 8), 1)


def applicant_link(view: ApplicationView) -> str:
    name = quote(cut(view.applicant_name or str(view.user_id), NAME_SHOWN))
    link = f'<a href="tg://user?id={view.user_id}">{name}</a>'
    if view.applicant_username:
        link += f" @{quote(view.applicant_username)}"
    return f"{link} (id <code>{view.user_id}</code>)"


def card_text(view: ApplicationView, *, erased: bool = False) -> str:
    """The card, within one message: long answers are cut to fit. `erased`: the
    applicant had their data deleted (/forgetme), the card says so instead of answers."""
    source = (
        _("join request") if view.source == ApplicationSource.JOIN_REQUEST else _("/apply command")
    )
    head = [
        _("<b>Application #{id}</b> — {status}").format(
            id=view.id, status=status_name(view.status)
        ),
        _("From: {applicant}").format(applicant=applicant_link(view)),
        _("Via: {source}; sent {at}").format(source=source, at=when(view.submitted_at)),
    ]
    if erased:
        head += ["", _("🗑 The applicant's name and answers were deleted at their request.")]
    tail: list[str] = []
    if view.decided_at is not None:
        tail += ["", decision_line(view)]
        if view.reason:
            shared = _("told the applicant") if view.reason_shared else _("not told")
            reason = quote(cut(_(view.reason), REASON_SHOWN))
            tail.append(_("Reason: {reason} ({shared})").format(reason=reason, shared=shared))
    elif view.status == ApplicationStatus.EXPIRED:
        tail += ["", _("⌛ Expired without a decision.")]
    elif view.status == ApplicationStatus.WITHDRAWN:
        tail += ["", _("↩️ Withdrawn by the applicant.")]

    def question(answer: AnswerView) -> str:
        return f"<b>{answer.position + 1}. {quote(cut(_(answer.question), QUESTION_SHOWN))}</b>"

    return fit_answers(head, [] if erased else view.answers, question, tail)


def decision_line(view: ApplicationView) -> str:
    who = quote(cut(view.decider_name or str(view.decided_by), NAME_SHOWN))
    at = when(view.decided_at)
    if view.status == ApplicationStatus.APPROVED:
        return _("✅ Approved by {moderator} at {at}").format(moderator=who, at=at)
    if view.status == ApplicationStatus.BANNED:
        return _("⛔ Banned by {moderator} at {at}").format(moderator=who, at=at)
    return _("❌ Rejected by {moderator} at {at}").format(moderator=who, at=at)


def card_markup(view: ApplicationView) -> dict[str, Any] | None:
    """The card's buttons while a decision is open."""
    if view.status != ApplicationStatus.PENDING:
        return None

    def button(text: str, action: ModAction) -> dict[str, str]:
        return {"text": text, "callback_data": mod_data(action, view.id)}

    return {
        "inline_keyboard": [
            [
                button(_("✅ Approve"), ModAction.APPROVE),
                button(_("❌ Reject"), ModAction.REJECT),
                button(_("⛔ Ban"), ModAction.BAN),
            ]
        ]
    }


async def transcript_ready(
    bot: BotAPI, sessions: async_sessionmaker[AsyncSession], settings: Settings, job_id: int
) -> None:
    """Job hook: a voice answer was transcribed; its card shows the text now. Runs inside
    the pipeline's i18n context (its catalogs). Never fails the job."""
    try:
        async with sessions() as session:
            svc = ApplicationService(session, settings)
            for view in await svc.for_transcription(job_id):
                await _refresh(bot, get_i18n(), settings, view)
    except (BotAPIError, SQLAlchemyError) as exc:
        log.warning("card not updated with the transcript", job_id=job_id, error=str(exc))
    except Exception:
        # The job is done and posted: a bug here must not turn it into a failure.
        log.exception("card update crashed", job_id=job_id)


async def _refresh(bot: BotAPI, i18n: Catalogs, settings: Settings, view: ApplicationView) -> None:
    """As `actions.refresh_card` edits it, through the Bot API client."""
    if view.card_chat_id is None or view.card_message_id is None:
        return
    with in_locale(i18n, moderation_locale(i18n, settings)):
        text, markup = card_text(view), card_markup(view)
    try:
        await bot.edit_message_text(
            view.card_chat_id, view.card_message_id, text, reply_markup=markup
        )
    except BadRequestError as exc:
        if "not modified" not in exc.message:
            log.warning("card edit failed", application_id=view.id, error=exc.message)
    except BotAPIError as exc:  # e.g. the bot left the moderation chat
        log.warning("card edit failed", application_id=view.id, error=str(exc))
