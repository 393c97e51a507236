"""Applications' texts and keyboards: the questionnaire (applicant's language) and the
moderators' card and digest (MODERATION__LANGUAGE). HTML; user values are quoted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from aiogram import html
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.db.enums import ApplicationSource, ApplicationStatus, JobStatus
from bot.i18n import _, pick_locale
from bot.repositories.applications import AnswerView, ApplicationView
from bot.settings import Settings
from bot.telegram.callbacks import ApplyAction, ApplyCallback, ModAction, ModCallback

CARD_BUDGET = 3600  # characters of answers on a card (a message holds 4096)


@contextmanager
def in_locale(i18n: I18n, locale: str) -> Iterator[None]:
    with i18n.context(), i18n.use_locale(locale):
        yield


def applicant_locale(i18n: I18n, view: ApplicationView) -> str:
    return pick_locale(view.applicant_locale, None, i18n.available_locales)


def moderation_locale(i18n: I18n, settings: Settings) -> str:
    return pick_locale(settings.moderation.language, None, i18n.available_locales)


def _button(text: str, data: ApplyCallback | ModCallback) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def status_name(status: ApplicationStatus) -> str:
    names = {
        ApplicationStatus.DRAFT: _("being filled in"),
        ApplicationStatus.PENDING: _("waiting for a decision"),
        ApplicationStatus.APPROVED: _("approved"),
        ApplicationStatus.REJECTED: _("rejected"),
        ApplicationStatus.BANNED: _("banned"),
        ApplicationStatus.EXPIRED: _("expired"),
        ApplicationStatus.WITHDRAWN: _("withdrawn"),
    }
    return names[status]


# --------------------------------------------------------------------------- applicant
def intro_text(chat_title: str | None, questions: int) -> str:
    return _(
        "You asked to join {chat}. Please answer {count} short questions for the moderators; "
        "you can reply with text or a voice message. /cancel stops."
    ).format(chat=html.quote(chat_title or _("the community")), count=questions)


def question_text(position: int, total: int, question: str) -> str:
    head = _("Question {number} of {total}:").format(number=position + 1, total=total)
    return f"{head}\n<b>{html.quote(_(question))}</b>"


def answer_shown(answer: AnswerView, limit: int | None = None) -> str:
    if answer.job_id is not None and answer.text is None:
        if answer.job_status == JobStatus.DONE and answer.job_text is not None:
            text = "🎤 " + html.quote(_clip(answer.job_text, limit))
        elif answer.job_status in (JobStatus.FAILED, JobStatus.CANCELLED):
            text = "🎤 " + _("(voice answer; it could not be transcribed)")
        else:
            text = "🎤 " + _("(voice answer; transcribing…)")
        return text
    return html.quote(_clip(answer.text or "", limit))


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(1, limit - 1)] + "…"


def summary_text(view: ApplicationView) -> str:
    lines = [_("<b>Your answers</b>")]
    for answer in view.answers:
        lines += ["", f"{answer.position + 1}. <i>{html.quote(_(answer.question))}</i>"]
        lines.append(answer_shown(answer))
    lines += ["", _("Send it to the moderators, or change an answer first.")]
    return "\n".join(lines)


def summary_keyboard(app_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("✅ Send"), ApplyCallback(action=ApplyAction.SUBMIT, app_id=app_id))],
            [
                _button(
                    _("✏️ Change an answer"), ApplyCallback(action=ApplyAction.EDIT, app_id=app_id)
                )
            ],
            [_button(_("Cancel"), ApplyCallback(action=ApplyAction.CANCEL, app_id=app_id))],
        ]
    )


def edit_keyboard(app_id: int, questions: list[str]) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                f"{i + 1}. {_clip(_(q), 40)}",
                ApplyCallback(action=ApplyAction.REDO, app_id=app_id, position=i),
            )
        ]
        for i, q in enumerate(questions)
    ]
    rows.append([_button(_("« Back"), ApplyCallback(action=ApplyAction.BACK, app_id=app_id))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def submitted_text() -> str:
    return _("Thank you! Your application is with the moderators; I will write when they decide.")


def pending_text() -> str:
    return _("Your application is with the moderators; I will write when they decide.")


def voice_received_text() -> str:
    return _("Got your voice answer; I will transcribe it for the moderators.")


def text_or_voice_text() -> str:
    return _("Please answer with text or a voice message.")


def use_buttons_text() -> str:
    return _("Use the buttons under your answers: send, change an answer or cancel.")


def cancelled_text() -> str:
    return _("Application cancelled. Send /apply whenever you want to start again.")


def already_member_text() -> str:
    return _("You are already a member of the community.")


def nothing_to_cancel_text() -> str:
    return _("There is nothing to cancel.")


def approved_join_request_text() -> str:
    return _("Welcome! Your application was approved and your join request accepted.")


def approved_invite_text(link: str, expires: datetime) -> str:
    return _(
        'Welcome! Your application was approved. Join with <a href="{link}">this link</a>; '
        "it works once and until {until}."
    ).format(link=html.quote(link), until=when(expires))


def rejected_text(reason: str | None) -> str:
    if reason:
        return _("Sorry, your application was declined. Reason: {reason}").format(
            reason=html.quote(_(reason))
        )
    return _("Sorry, your application was declined.")


def reminder_text(status: ApplicationStatus, expires: datetime | None) -> str:
    if status == ApplicationStatus.DRAFT:
        return _(
            "Your application is not finished; it will be dropped at {until}. "
            "Send /apply to continue."
        ).format(until=when(expires))
    return _("Your application is still waiting for the moderators; it expires at {until}.").format(
        until=when(expires)
    )


def expired_text() -> str:
    return _("Your application expired without a decision. You can send /apply to try again.")


def deep_link(bot_username: str | None) -> str | None:
    return f"https://t.me/{bot_username}?start=apply" if bot_username else None


# --------------------------------------------------------------------------- moderators
def _applicant(view: ApplicationView) -> str:
    name = html.quote(view.applicant_name or str(view.user_id))
    link = f'<a href="tg://user?id={view.user_id}">{name}</a>'
    if view.applicant_username:
        link += f" @{html.quote(view.applicant_username)}"
    return f"{link} (id <code>{view.user_id}</code>)"


def card_text(view: ApplicationView) -> str:
    source = (
        _("join request") if view.source == ApplicationSource.JOIN_REQUEST else _("/apply command")
    )
    lines = [
        _("<b>Application #{id}</b> — {status}").format(
            id=view.id, status=status_name(view.status)
        ),
        _("From: {applicant}").format(applicant=_applicant(view)),
        _("Via: {source}; sent {at}").format(source=source, at=when(view.submitted_at)),
    ]
    per_answer = CARD_BUDGET // max(1, len(view.answers))
    for answer in view.answers:
        lines += ["", f"<b>{answer.position + 1}. {html.quote(_clip(_(answer.question), 200))}</b>"]
        lines.append(answer_shown(answer, per_answer))
    if view.decided_at is not None:
        lines += ["", decision_line(view)]
        if view.reason:
            shared = _("told the applicant") if view.reason_shared else _("not told")
            lines.append(
                _("Reason: {reason} ({shared})").format(
                    reason=html.quote(_(view.reason)), shared=shared
                )
            )
    elif view.status == ApplicationStatus.EXPIRED:
        lines += ["", _("⌛ Expired without a decision.")]
    elif view.status == ApplicationStatus.WITHDRAWN:
        lines += ["", _("↩️ Withdrawn by the applicant.")]
    return "\n".join(lines)


def decision_line(view: ApplicationView) -> str:
    who = html.quote(view.decider_name or str(view.decided_by))
    at = when(view.decided_at)
    if view.status == ApplicationStatus.APPROVED:
        return _("✅ Approved by {moderator} at {at}").format(moderator=who, at=at)
    if view.status == ApplicationStatus.BANNED:
        return _("⛔ Banned by {moderator} at {at}").format(moderator=who, at=at)
    return _("❌ Rejected by {moderator} at {at}").format(moderator=who, at=at)


def card_keyboard(view: ApplicationView) -> InlineKeyboardMarkup | None:
    if view.status != ApplicationStatus.PENDING:
        return None
    app_id = view.id
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(_("✅ Approve"), ModCallback(action=ModAction.APPROVE, app_id=app_id)),
                _button(_("❌ Reject"), ModCallback(action=ModAction.REJECT, app_id=app_id)),
                _button(_("⛔ Ban"), ModCallback(action=ModAction.BAN, app_id=app_id)),
            ]
        ]
    )


def _back(app_id: int) -> list[InlineKeyboardButton]:
    return [_button(_("« Back"), ModCallback(action=ModAction.BACK, app_id=app_id))]


def reasons_keyboard(app_id: int, reasons: list[str]) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                _clip(_(reason), 60),
                ModCallback(action=ModAction.REASON, app_id=app_id, reason=index),
            )
        ]
        for index, reason in enumerate(reasons)
    ]
    rows.append(
        [_button(_("✏️ Other reason…"), ModCallback(action=ModAction.CUSTOM, app_id=app_id))]
    )
    rows.append([_button(_("Reject without a reason"), _reject(app_id, -2, share=False))])
    rows.append(_back(app_id))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _reject(app_id: int, reason: int, *, share: bool) -> ModCallback:
    return ModCallback(action=ModAction.REJECT_NOW, app_id=app_id, reason=reason, share=share)


def share_keyboard(app_id: int, reason: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("Reject and tell the reason"), _reject(app_id, reason, share=True))],
            [_button(_("Reject, keep the reason private"), _reject(app_id, reason, share=False))],
            _back(app_id),
        ]
    )


def ban_keyboard(app_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(
                    _("⛔ Yes, ban from the community"),
                    ModCallback(action=ModAction.BAN_NOW, app_id=app_id),
                )
            ],
            _back(app_id),
        ]
    )


def custom_reason_prompt(moderator_id: int, moderator_name: str, app_id: int) -> str:
    mention = f'<a href="tg://user?id={moderator_id}">{html.quote(moderator_name)}</a>'
    return _("{moderator}, reply with the reason for rejecting application #{id}.").format(
        moderator=mention, id=app_id
    )


def custom_reason_received(app_id: int, reason: str) -> str:
    return _("Reason for application #{id}: {reason}\nTell the applicant?").format(
        id=app_id, reason=html.quote(reason)
    )


def digest_text(views: list[ApplicationView], now: datetime) -> str:
    lines = [_("<b>Applications waiting for a decision</b>")]
    for view in views:
        hours = round((now - (view.submitted_at or now)).total_seconds() / 3600)
        line = _("#{id} from {applicant}, waiting {hours} h").format(
            id=view.id, applicant=html.quote(view.applicant_name or str(view.user_id)), hours=hours
        )
        link = message_link(view.card_chat_id, view.card_message_id)
        if link is not None:
            card = _("card")
            line += f' — <a href="{html.quote(link)}">{card}</a>'
        lines.append(line)
    return "\n".join(lines)


def dm_failed_text(view: ApplicationView, bot_username: str | None) -> str:
    text = _(
        "I could not write to {applicant}, who asked to join; they can start the "
        "questionnaire themselves with /apply in a private chat with me."
    ).format(applicant=_applicant(view))
    if link := deep_link(bot_username):
        text += "\n" + html.quote(link)
    return text


def invite_failed_text(app_id: int, error: str) -> str:
    return _(
        "Application #{id} is approved, but I could not create an invite link ({error}). "
        "Please invite the applicant by hand, and make me an admin who may invite users."
    ).format(id=app_id, error=html.quote(error))


def message_link(chat_id: int | None, message_id: int | None) -> str | None:
    raw = str(chat_id)
    if chat_id is None or message_id is None or not raw.startswith("-100"):
        return None
    return f"https://t.me/c/{raw[4:]}/{message_id}"
