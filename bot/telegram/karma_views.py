"""Karma's user-facing texts and keyboards (one module, ready to move to gettext)."""

from __future__ import annotations

from aiogram import html
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.repositories.karma import HistoryRow, RankedMember
from bot.services.karma import CancelResult, KarmaStanding, Leaderboard, VoteResult
from bot.telegram.callbacks import KarmaAction, KarmaCallback

PERIOD_TITLES = {"week": "this week", "month": "the last 30 days", "all": "all time"}
GROUPS_ONLY = "Karma lives in group chats: use this command in one."
TOP_USAGE = "Use /top, /top week, /top month or /top all."
HISTORY_USAGE = "Reply to a member's message with /karma_history to see their votes."
ADMINS_ONLY = "Only chat admins can see karma history."
CANCELLED_ALERT = "Vote cancelled."


def num(value: float) -> str:
    """One decimal, and no "-0.0"."""
    return f"{round(value, 1) + 0.0:.1f}"


def signed(value: float) -> str:
    text = num(value)
    return text if text.startswith("-") else f"+{text}"


def vote_text(result: VoteResult) -> str:
    text = f"{html.quote(result.target_name)}'s karma: {num(result.total)} ({signed(result.delta)})"
    if result.ring_factor < 1:
        text += f"\nWeight reduced to ×{result.ring_factor:g}: you two vote for each other a lot."
    if result.restricted_until is not None:
        text += (
            f"\n{html.quote(result.target_name)} is read-only until "
            f"{result.restricted_until:%Y-%m-%d %H:%M} UTC: karma too low."
        )
    return text


def vote_keyboard(event_id: int) -> InlineKeyboardMarkup:
    data = KarmaCallback(action=KarmaAction.CANCEL, event_id=event_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Cancel", callback_data=data)]]
    )


def cancelled_text(result: CancelResult) -> str:
    text = (
        f"Vote cancelled ({signed(-result.delta)}). "
        f"{html.quote(result.target_name)}'s karma: {num(result.total)}"
    )
    if result.lift_restriction:
        text += f"\n{html.quote(result.target_name)} may write again."
    return text


def standing_text(name: str, standing: KarmaStanding) -> str:
    who = html.quote(name)
    if standing.rank is None:
        return f"{who} has no karma in this chat yet."
    return f"{who}'s karma: {num(standing.karma)} (rank {standing.rank} of {standing.ranked})"


def _row(member: RankedMember) -> str:
    return f"{member.rank}. {html.quote(member.name)} — {num(member.karma)}"


def top_text(board: Leaderboard) -> str:
    title = f"<b>Top karma, {PERIOD_TITLES[board.period]}</b>"
    if not board.top:
        return f"{title}\nNo votes yet."
    lines = [title, *(_row(m) for m in board.top)]
    if board.me is not None:
        lines += ["…", f"You: {_row(board.me)}"]
    return "\n".join(lines)


def message_link(chat_id: int, message_id: int | None) -> str | None:
    """t.me link to a supergroup message (basic groups have none)."""
    raw = str(chat_id)
    if message_id is None or not raw.startswith("-100"):
        return None
    return f"https://t.me/c/{raw[4:]}/{message_id}"


def history_text(name: str, chat_id: int, rows: list[HistoryRow]) -> str:
    title = f"<b>Karma history of {html.quote(name)}</b> (last {len(rows)})"
    if not rows:
        return f"No karma votes for {html.quote(name)} in this chat."
    lines = [title]
    for row in rows:
        line = (
            f"{row.created_at:%Y-%m-%d %H:%M} {signed(row.delta)} from {html.quote(row.voter_name)}"
        )
        if (link := message_link(chat_id, row.message_id)) is not None:
            line += f' — <a href="{html.quote(link)}">message</a>'
        if row.cancelled:
            line += " (cancelled)"
        lines.append(line)
    return "\n".join(lines)
