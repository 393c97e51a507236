"""Applications' texts and keyboards: the questionnaire (applicant's language) and the
moderators' card and digest (MODERATION__LANGUAGE). HTML; user values are quoted."""

from __future__ import annotations

from datetime import datetime

from aiogram import html
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db.enums import ApplicationStatus
from bot.i18n import Catalogs, _, pick_locale
from bot.repositories.applications import AnswerView, ApplicationView
from bot.telegram.applications.card import (
    NAME_SHOWN,
    QUESTION_SHOWN,
    ModAction,
    applicant_link,
    card_markup,
    clip,
    fit_answers,
    when,
)
from bot.telegram.callbacks import ApplyAction, ApplyCallback, ModCallback
from bot.telegram.text_limits import MESSAGE_LIMIT, cut, visible_len

DIGEST_NAME_SHOWN = 64
# The digest lists at most this many applications, then "and N more".
DIGEST_SHOWN = 50


def applicant_locale(i18n: Catalogs, view: ApplicationView) -> str:
    return pick_locale(view.applicant_locale, None, i18n.available_locales)


def _button(text: str, data: ApplyCallback | ModCallback) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


# --------------------------------------------------------------------------- applicant
def intro_text(chat_title: str | None, questions: int) -> str:
    return _(
        "You asked to join {chat}. Please answer {count} short questions for the moderators; "
        "you can reply with text or a voice message. /cancel stops."
    ).format(chat=html.quote(chat_title or _("the community")), count=questions)


def question_text(position: int, total: int, question: str) -> str:
    head = _("Question {number} of {total}:").format(number=position + 1, total=total)
    return f"{head}\n<b>{html.quote(_(question))}</b>"


def summary_text(view: ApplicationView) -> str:
    head = [_("<b>Your answers</b>")]
    tail = ["", _("Send it to the moderators, or change an answer first.")]

    def question(answer: AnswerView) -> str:
        return (
            f"{answer.position + 1}. <i>{html.quote(cut(_(answer.question), QUESTION_SHOWN))}</i>"
        )

    return fit_answers(head, view.answers, question, tail)


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
                f"{i + 1}. {clip(_(q), 40)}",
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
        'Welcome! Your application was approved. Join with <a href="{link}">this link</a> '
        "until {until}: Telegram asks you to send a join request, and I accept it at once. "
        "The link is yours alone; nobody else gets in with it."
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
def card_keyboard(view: ApplicationView) -> InlineKeyboardMarkup | None:
    markup = card_markup(view)
    return None if markup is None else InlineKeyboardMarkup.model_validate(markup)


def _back(app_id: int) -> list[InlineKeyboardButton]:
    return [_button(_("« Back"), ModCallback(action=ModAction.BACK, app_id=app_id))]


def reasons_keyboard(app_id: int, reasons: list[str]) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                clip(_(reason), 60),
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
    """One message, however many wait: the first DIGEST_SHOWN (fewer if they would not
    fit), then "and N more"; names are cut."""
    lines = [_("<b>Applications waiting for a decision</b>")]
    for index, view in enumerate(views):
        hours = round((now - (view.submitted_at or now)).total_seconds() / 3600)
        name = cut(view.applicant_name or str(view.user_id), DIGEST_NAME_SHOWN)
        line = _("#{id} from {applicant}, waiting {hours} h").format(
            id=view.id, applicant=html.quote(name), hours=hours
        )
        link = message_link(view.card_chat_id, view.card_message_id)
        if link is not None:
            card = _("card")
            line += f' — <a href="{html.quote(link)}">{card}</a>'
        rest = len(views) - index
        more = _("… and {count} more").format(count=rest)
        # Room for this line and, after it, the "and N more" line.
        if index >= DIGEST_SHOWN or visible_len("\n".join([*lines, line, more])) > MESSAGE_LIMIT:
            lines.append(more)
            break
        lines.append(line)
    return "\n".join(lines)


def dm_failed_text(view: ApplicationView, bot_username: str | None) -> str:
    text = _(
        "I could not write to {applicant}, who asked to join; they can start the "
        "questionnaire themselves with /apply in a private chat with me."
    ).format(applicant=applicant_link(view))
    if link := deep_link(bot_username):
        text += "\n" + html.quote(link)
    return text


def invite_misused_text(view: ApplicationView, user_id: int, name: str, *, joined: bool) -> str:
    link = f'<a href="tg://user?id={user_id}">{html.quote(cut(name, NAME_SHOWN))}</a>'
    who = f"{link} (id <code>{user_id}</code>)"
    if joined:
        text = _(
            "⚠️ {who} joined the community with the invite link of application #{id} "
            "({applicant}). I revoked the link; check whether they should stay."
        )
    else:
        text = _(
            "⚠️ {who} tried to join with the personal invite link of application #{id} "
            "({applicant}); I declined the request. The link still works for the applicant."
        )
    return text.format(who=who, id=view.id, applicant=applicant_link(view))


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
