"""Karma's user-facing texts and keyboards, in the reader's language (gettext)."""

from __future__ import annotations

from datetime import datetime

from aiogram import html
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db.enums import KarmaSanction
from bot.i18n import N_, _
from bot.repositories.karma import HistoryRow, RankedMember
from bot.services.karma import (
    CancelResult,
    KarmaStanding,
    Leaderboard,
    PardonResult,
    Sanction,
    VoteResult,
)
from bot.telegram.callbacks import KarmaAction, KarmaCallback
from bot.telegram.text_limits import cut
from bot.texts import num

# Names in lists are cut: 20 history rows of two 64-emoji names would not fit a message.
NAME_SHOWN = 48

# Marked here, translated where raised (UserFacingError) or shown.
GROUPS_ONLY = N_("Karma lives in group chats: use this command in one.")
TOP_USAGE = N_("Use /top, /top week, /top month or /top all.")
HISTORY_USAGE = N_("Reply to a member's message with /karma_history to see their votes.")
ADMINS_ONLY = N_("Only chat admins can see karma history.")
PARDON_ADMINS_ONLY = N_("Only chat admins allowed to restrict members can lift karma sanctions.")
REACTIONS_ADMINS_ONLY = N_(
    "Only chat admins allowed to change the chat's info can switch reaction votes."
)
BUTTON_NOT_VALID = N_("This button is not valid.")
PARDON_BAD_ID = N_("That is not a user id: a user id is a whole number, as /whoami shows it.")
PARDON_USAGE = N_(
    "Reply to a member's message with /karma_pardon, or send /karma_pardon with their user id."
)


def period_title(period: str) -> str:
    titles = {"week": _("this week"), "month": _("the last 30 days"), "all": _("all time")}
    return titles[period]


def signed(value: float) -> str:
    text = num(value)
    return text if text.startswith("-") or text == "0.0" else f"+{text}"


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def vote_text(result: VoteResult) -> str:
    name = html.quote(result.target_name)
    text = _("{name}'s karma: {total} ({delta})").format(
        name=name, total=num(result.total), delta=signed(result.delta)
    )
    if result.ring_factor < 1:
        text += "\n" + _(
            "Weight reduced to ×{factor}: they recently voted for you, "
            "or for someone who voted for you."
        ).format(factor=f"{result.ring_factor:g}")
    if result.muted:
        text += "\n" + _("Not counted: downvotes count once you have had upvotes here for a while.")
    elif result.capped:
        text += "\n" + _("Weight limited: that is all one member may downvote them today.")
    if result.sanction is not None:
        text += "\n" + sanction_text(result.target_name, result.sanction)
    return text


def sanction_text(name: str, sanction: Sanction) -> str:
    who = html.quote(name)
    if sanction.until is None:
        return _("{name} is banned: karma too low (step {step}).").format(
            name=who, step=sanction.step + 1
        )
    return _("{name} is read-only until {until} UTC: karma too low (step {step}).").format(
        name=who, until=_when(sanction.until), step=sanction.step + 1
    )


def lifted_text(name: str, sanction: Sanction) -> str:
    who = html.quote(name)
    if sanction.kind is KarmaSanction.BAN:
        return _("{name} is unbanned and may rejoin.").format(name=who)
    return _("{name} may write again.").format(name=who)


def vote_keyboard(event_id: int) -> InlineKeyboardMarkup:
    data = KarmaCallback(action=KarmaAction.CANCEL, event_id=event_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Cancel"), callback_data=data)]]
    )


def cancelled_alert() -> str:
    return _("Vote cancelled.")


def cancelled_text(result: CancelResult) -> str:
    name = html.quote(result.target_name)
    text = _("Vote cancelled ({delta}). {name}'s karma: {total}").format(
        delta=signed(-result.delta), name=name, total=num(result.total)
    )
    if result.lifted is not None:
        text += "\n" + lifted_text(result.target_name, result.lifted)
    return text


def pardon_text(result: PardonResult) -> str:
    return (
        _("Karma sanction lifted by a moderator.") + "\n" + lifted_text(result.name, result.lifted)
    )


def standing_text(name: str, standing: KarmaStanding) -> str:
    who = html.quote(name)
    if standing.rank is None:
        return _("{name} has no karma in this chat yet.").format(name=who)
    return _("{name}'s karma: {karma} (rank {rank} of {ranked})").format(
        name=who, karma=num(standing.karma), rank=standing.rank, ranked=standing.ranked
    )


def _row(member: RankedMember) -> str:
    return f"{member.rank}. {html.quote(cut(member.name, NAME_SHOWN))} — {num(member.karma)}"


def top_text(board: Leaderboard) -> str:
    title = "<b>{}</b>".format(_("Top karma, {period}").format(period=period_title(board.period)))
    if not board.top:
        return f"{title}\n" + _("No votes yet.")
    lines = [title, *(_row(m) for m in board.top)]
    if board.me is not None:
        lines += ["…", _("You: {row}").format(row=_row(board.me))]
    return "\n".join(lines)


def message_link(chat_id: int, message_id: int | None) -> str | None:
    """t.me link to a supergroup message (basic groups have none)."""
    raw = str(chat_id)
    if message_id is None or not raw.startswith("-100"):
        return None
    return f"https://t.me/c/{raw[4:]}/{message_id}"


def history_text(name: str, chat_id: int, rows: list[HistoryRow]) -> str:
    who = html.quote(cut(name, NAME_SHOWN))
    if not rows:
        return _("No karma votes for {name} in this chat.").format(name=who)
    title = _("<b>Karma history of {name}</b> (last {count})").format(name=who, count=len(rows))
    lines = [title]
    for row in rows:
        voter = html.quote(cut(row.voter_name, NAME_SHOWN))
        line = _("{when} {delta} from {voter}").format(
            when=_when(row.created_at), delta=signed(row.delta), voter=voter
        )
        if (link := message_link(chat_id, row.message_id)) is not None:
            line += ' — <a href="{}">{}</a>'.format(html.quote(link), _("message"))
        if row.cancelled:
            line += " " + _("(cancelled)")
        lines.append(line)
    return "\n".join(lines)


def reactions_state_text(on: bool) -> str:
    state = _("Reaction votes are on in this chat.") if on else _("Reaction votes are off.")
    return state + "\n" + _("Use /karma_reactions on or /karma_reactions off.")


def reactions_switched_text(on: bool) -> str:
    if not on:
        return _("Reaction votes are off: only replies vote now.")
    return _(
        "Reaction votes are on: 👍 and 👎 on a message vote like + and -, and removing "
        "the reaction cancels the vote. I must be an admin here to see reactions."
    )
