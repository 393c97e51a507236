"""Texts, keyboards and files of /members, /whoami and /forgetme."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from aiogram import html
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestUsers,
    ReplyKeyboardMarkup,
)

from bot.db.enums import MemberRole, MemberStatus
from bot.domain.member_filter import MemberFilter
from bot.i18n import N_, _, ngettext
from bot.repositories.roster import MatchCount, MemberPage, MemberRow
from bot.services.profiles import ForgetReport, ProfileRecord
from bot.telegram.applications.card import status_name as application_status
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback
from bot.texts import num

FILTER_MARK = "🔎"
NO_FILTER = "—"
# request_id of the /whoami "pick a user" button (echoed back in users_shared).
WHOAMI_REQUEST_ID = 4_101

MEMBERS_WHERE = N_("Use /members in a private chat with me or in the moderation chat.")
MODERATORS_ONLY = N_("Only moderators can list the members.")
PAGE_STALE = N_("This list is out of date or not valid. Run /members again.")
FORGET_PRIVATE = N_("Send /forgetme to me in a private chat.")
FORGET_NOT_YOURS = N_("Only the person who asked can confirm this.")

STATUS_NAMES = {
    MemberStatus.ACTIVE: N_("active"),
    MemberStatus.RESTRICTED: N_("restricted"),
    MemberStatus.LEFT: N_("left"),
    MemberStatus.BANNED: N_("banned"),
}
ROLE_NAMES = {
    MemberRole.MEMBER: N_("member"),
    MemberRole.MODERATOR: N_("moderator"),
    MemberRole.ADMIN: N_("admin"),
}
# ChatMember.status as Telegram names it.
TELEGRAM_STATUS_NAMES = {
    "creator": N_("owner"),
    "administrator": N_("administrator"),
    "member": N_("member"),
    "restricted": N_("restricted"),
    "left": N_("not in the chat"),
    "kicked": N_("banned"),
}


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"


def short(text: str, limit: int = 48) -> str:
    """Names on list pages are cut (a page must stay under Telegram's 4096 characters)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_link(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{html.quote(short(name))}</a>'


# --------------------------------------------------------------------------- /members
def filter_line(flt: MemberFilter) -> str:
    return f"{FILTER_MARK} {flt.canonical() or NO_FILTER}"


def filter_from_text(text: str | None) -> str | None:
    """The canonical filter written on a page (None: the text has no filter line)."""
    for line in (text or "").splitlines():
        if line.startswith(f"{FILTER_MARK} "):
            query = line[len(FILTER_MARK) + 1 :].strip()
            return "" if query == NO_FILTER else query
    return None


def member_line(row: MemberRow) -> str:
    parts = [_(STATUS_NAMES[row.status])]
    if row.role != MemberRole.MEMBER:
        parts.append(_(ROLE_NAMES[row.role]))
    if row.language:
        parts.append(row.language)
    parts.append(_("joined {date}").format(date=day(row.joined_at)))
    parts.append(_("karma {karma}").format(karma=num(row.karma)))
    if row.last_seen_at:
        parts.append(_("seen {date}").format(date=day(row.last_seen_at)))
    name = user_link(row.user_id, row.full_name)
    if row.is_bot:
        name += " 🤖"
    if row.username:
        name += f" @{html.quote(row.username)}"  # at most 32 characters
    return f"• {name} — {', '.join(parts)}"


def members_text(count: MatchCount, flt: MemberFilter, page: MemberPage) -> str:
    n = count.n
    if count.exact:
        header = ngettext("{n} member matches.", "{n} members match.", n).format(n=n)
    else:
        header = ngettext(
            "More than {n} member matches.", "More than {n} members match.", n
        ).format(n=n)
    lines = [f"<b>{header}</b>", html.quote(filter_line(flt)), ""]
    if not page.rows:
        lines.append(_("Nobody on this page."))
    lines.extend(member_line(row) for row in page.rows)
    return "\n".join(lines)


def members_keyboard(
    page: MemberPage, prev_data: str | None, next_data: str | None
) -> InlineKeyboardMarkup | None:
    buttons = []
    if page.has_prev and prev_data:
        buttons.append(InlineKeyboardButton(text=_("‹ Previous"), callback_data=prev_data))
    if page.has_next and next_data:
        buttons.append(InlineKeyboardButton(text=_("Next ›"), callback_data=next_data))
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


CSV_COLUMNS = (
    "user_id",
    "username",
    "first_name",
    "last_name",
    "language",
    "telegram_language_code",
    "is_bot",
    "is_premium",
    "role",
    "status",
    "joined_at",
    "left_at",
    "last_seen_at",
    "karma",
)


# Spreadsheets run a cell that starts with = + - @ (and, in some, tab or CR) as a
# formula. A CSV cell need not start where the CSV field does: a spreadsheet set to split
# on ";" (the default where "," is the decimal separator, e.g. Russian) or on tabs opens
# the field "Bob;=1+2" as the cells "Bob" and "=1+2", and a reader that ignores quotes
# splits a quoted "Bob,=1+2" too. So a trigger is neutralised wherever a cell may start:
# at the start of the field and after any separator a spreadsheet may split on (, ; tab
# | and line breaks, spaces between ignored), by putting ' before it (spreadsheets show
# a leading ' as text, or hide it). Every field is quoted as well. Numbers the bot
# formats itself (ids, karma like -3.5) stay numbers: a plain number is no formula.
_TRIGGER = re.compile(r"(^|[,;\t|\r\n])([ \u00a0]*)(?=[=+\-@\t\r])")
_TRIGGER_CHAR = re.compile(r"[=+\-@\t\r]")  # a text without one has nothing to neutralise
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: object) -> str:
    """A value as an inert CSV field (see above)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if not _TRIGGER_CHAR.search(text) or _NUMBER.fullmatch(text):
        return text
    return _TRIGGER.sub(r"\1\2'", text)


def _csv_fields(r: MemberRow) -> tuple[str, ...]:
    # Only the texts members choose can hold a formula; ids, flags, enum values, ISO
    # dates and karma (a plain number) are written as csv_cell would leave them.
    cell = csv_cell
    return (
        str(r.user_id),
        cell(r.username),
        cell(r.first_name),
        cell(r.last_name),
        cell(r.language),
        cell(r.language_code),
        "1" if r.is_bot else "0",
        "" if r.is_premium is None else str(int(r.is_premium)),
        r.role.value,
        r.status.value,
        "" if r.joined_at is None else r.joined_at.isoformat(),
        "" if r.left_at is None else r.left_at.isoformat(),
        "" if r.last_seen_at is None else r.last_seen_at.isoformat(),
        num(r.karma),
    )


def members_csv_text(rows: Iterable[MemberRow], *, header: bool = True) -> str:
    """Rows as CSV lines (every field quoted and inert), the column names first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(map(_csv_fields, rows))
    return buffer.getvalue()


@asynccontextmanager
async def members_csv(
    batches: AsyncIterable[Sequence[MemberRow]],
) -> AsyncIterator[tuple[FSInputFile, int]]:
    """The export as a CSV document, and how many rows it has. Written to a temporary
    file a batch at a time, so that memory holds one batch whatever the roster's size
    (the upload reads the file in chunks too); the file is removed on exit. A batch's
    write goes to the page cache: too short to be worth a thread."""
    # utf-8-sig: spreadsheets open non-Latin names correctly.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8-sig", newline="", prefix="members-", suffix=".csv"
    ) as file:
        file.write(members_csv_text((), header=True))
        rows = 0
        async for batch in batches:
            file.write(members_csv_text(batch, header=False))
            rows += len(batch)
        file.flush()
        yield FSInputFile(file.name, filename="members.csv"), rows


def export_caption(count: int, flt: MemberFilter) -> str:
    text = ngettext("{n} member exported.", "{n} members exported.", count).format(n=count)
    return f"{text}\n{html.quote(filter_line(flt))}"


# --------------------------------------------------------------------------- /whoami
@dataclass(frozen=True, slots=True)
class Person:
    """Who the card is about, as Telegram describes them (or the bot's record of it)."""

    id: int
    first_name: str | None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool | None = None
    is_bot: bool = False

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)


@dataclass(frozen=True, slots=True)
class ChatView:
    id: int
    type: str | None  # None: the bot has not seen the chat yet
    title: str | None


@dataclass(frozen=True, slots=True)
class MemberView:
    """getChatMember's answer: Telegram's status, and the rights that are on (admins) or
    off (restricted members)."""

    status: str
    rights_on: tuple[str, ...] = ()
    rights_off: tuple[str, ...] = ()
    until: datetime | None = None
    is_member: bool = True  # a restricted member: still in the chat

    @property
    def present(self) -> bool:
        """In the chat now."""
        if self.status == "restricted":
            return self.is_member
        return self.status in ("creator", "administrator", "member")


class Access(Enum):
    """What a /whoami card may show its reader."""

    PUBLIC = "public"  # what Telegram shows everyone: id, names, username, premium, bot
    MEMBER = "member"  # + facts of the chat the reader is in: status, rights, roster, karma
    FULL = "full"  # + application and transcription usage: the person, or a moderator


def _yes_no(value: bool | None) -> str:
    if value is None:
        return _("unknown")
    return _("yes") if value else _("no")


def whoami_text(
    person: Person,
    chat: ChatView | None,
    member: MemberView | None,
    record: ProfileRecord,
    *,
    access: Access,
) -> str:
    """The profile card, as much of it as `access` allows (the caller looks up nothing
    scoped to a chat for a PUBLIC reader either)."""
    lines = [f"👤 <b>{html.quote(short(person.full_name, 128))}</b>"]
    lines.append(_("User id: {id}").format(id=f"<code>{person.id}</code>"))
    username = f"@{html.quote(person.username)}" if person.username else "—"
    lines.append(_("Username: {username}").format(username=username))
    names = " / ".join(p for p in (person.first_name, person.last_name) if p) or "—"
    lines.append(_("First / last name: {names}").format(names=html.quote(short(names, 256))))
    if access is not Access.PUBLIC:  # Telegram tells a user's language to bots only
        language = html.quote(person.language_code or "—")
        if record.user and record.user.ui_language:
            chosen = html.quote(record.user.ui_language)
            language += " · " + _("chosen: {code}").format(code=chosen)
        lines.append(_("Language: {language}").format(language=language))
    lines.append(_("Telegram Premium: {value}").format(value=_yes_no(person.is_premium)))
    if person.is_bot:
        lines.append(_("This is a bot."))
    if access is Access.PUBLIC:
        lines += ["", _("Membership, karma and my records: shown to community members only.")]
        return "\n".join(lines)
    if chat is not None:
        title = f" — {html.quote(chat.title)}" if chat.title else ""
        lines.append("")
        lines.append(
            _("Chat: {id} ({type}){title}").format(
                id=f"<code>{chat.id}</code>", type=chat.type or "?", title=title
            )
        )
    if member is not None:
        status = TELEGRAM_STATUS_NAMES.get(member.status)
        lines.append(
            _("Status in the chat: {status}").format(
                status=_(status) if status else html.quote(member.status)
            )
        )
        if member.rights_on:
            rights = ", ".join(member.rights_on)
            lines.append(_("Rights: {rights}").format(rights=f"<code>{rights}</code>"))
        if member.rights_off:
            rights = ", ".join(member.rights_off)
            lines.append(_("Restricted: {rights}").format(rights=f"<code>{rights}</code>"))
        if member.until:
            lines.append(_("Until: {date}").format(date=f"{member.until:%Y-%m-%d %H:%M} UTC"))
    if record.membership is not None:
        m = record.membership
        lines.append(
            _("In the roster: {status}, {role}; joined {joined}").format(
                status=_(STATUS_NAMES[m.status]),
                role=_(ROLE_NAMES[m.role]),
                joined=day(m.joined_at),
            )
        )
        if m.left_at and m.status in (MemberStatus.LEFT, MemberStatus.BANNED):
            lines.append(_("Left: {date}").format(date=day(m.left_at)))
    if record.karma is not None:
        k = record.karma
        if k.rank is None:
            lines.append(_("Karma: {karma}, not ranked yet").format(karma=num(k.karma)))
        else:
            lines.append(
                _("Karma: {karma}, rank {rank} of {ranked}").format(
                    karma=num(k.karma), rank=k.rank, ranked=k.ranked
                )
            )
    if access is Access.FULL:
        lines.append("")
        app = record.application
        if app is None:
            lines.append(_("Application: none"))
        else:
            lines.append(
                _("Application: {status} ({date})").format(
                    status=application_status(app.status),
                    date=day(app.decided_at or app.created_at),
                )
            )
        minutes = num(record.transcribed_s / 60)
        usage = ngettext(
            "{n} voice note, {minutes} min", "{n} voice notes, {minutes} min", record.transcriptions
        ).format(n=record.transcriptions, minutes=minutes)
        lines.append(_("Transcribed: {usage}").format(usage=usage))
    if record.user is None:
        lines.append("")
        lines.append(_("I have no records of this user yet."))
    else:
        lines.append(_("Known to me since {date}").format(date=day(record.user.created_at)))
    return "\n".join(lines)


def pick_user_keyboard() -> ReplyKeyboardMarkup:
    button = KeyboardButton(
        text=_("👤 Pick a user"),
        request_users=KeyboardButtonRequestUsers(
            request_id=WHOAMI_REQUEST_ID,
            user_is_bot=False,
            max_quantity=1,
            request_name=True,
            request_username=True,
        ),
    )
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def pick_user_hint() -> str:
    return _("To see someone else's card, reply to their message with /whoami or pick them:")


# --------------------------------------------------------------------------- /forgetme
def forget_prompt() -> str:
    return _(
        "This deletes your personal data from my records: your name, username, languages "
        "and premium flag; the text of your transcriptions; your application answers "
        "(an open application is withdrawn); when you were last seen in chats.\n\n"
        "Kept, because moderation needs it: your Telegram id, your membership status "
        "(bans), decisions on your applications and their audit trail, and karma votes "
        "(they are other members' history too, and hold only ids and numbers).\n\n"
        "Delete now?"
    )


def forget_keyboard(user_id: int) -> InlineKeyboardMarkup:
    yes = ForgetCallback(action=ForgetAction.CONFIRM, user_id=user_id).pack()
    no = ForgetCallback(action=ForgetAction.CANCEL, user_id=user_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("Delete my data"), callback_data=yes),
                InlineKeyboardButton(text=_("Cancel"), callback_data=no),
            ]
        ]
    )


def forget_cancelled() -> str:
    return _("Cancelled: nothing was deleted.")


def forget_report(report: ForgetReport) -> str:
    lines = [_("Done. Deleted:")]
    lines.append(
        "• "
        + (
            _("your profile: name, username, languages, premium flag")
            if report.profile
            else _("your profile: nothing was stored")
        )
    )
    lines.append(
        "• "
        + ngettext("{n} transcript", "{n} transcripts", report.transcripts).format(
            n=report.transcripts
        )
    )
    lines.append(
        "• "
        + ngettext("{n} application answer", "{n} application answers", report.answers).format(
            n=report.answers
        )
    )
    lines.append(
        "• "
        + ngettext(
            "last-seen time in {n} chat", "last-seen times in {n} chats", report.last_seen
        ).format(n=report.last_seen)
    )
    if report.cards:
        lines.append(
            "• "
            + ngettext(
                "your name and answers on {n} application card of the moderators",
                "your name and answers on {n} application cards of the moderators",
                len(report.cards),
            ).format(n=len(report.cards))
        )
    if report.applications_withdrawn:
        lines.append(
            "• "
            + ngettext(
                "{n} open application withdrawn",
                "{n} open applications withdrawn",
                report.applications_withdrawn,
            ).format(n=report.applications_withdrawn)
        )
    lines.append("")
    lines.append(_("Kept:"))
    lines.append(
        "• "
        + ngettext(
            "{n} decision on your applications (with its audit trail)",
            "{n} decisions on your applications (with their audit trail)",
            report.decisions_kept,
        ).format(n=report.decisions_kept)
    )
    lines.append(
        "• "
        + ngettext(
            "{n} karma vote (ids and numbers only)",
            "{n} karma votes (ids and numbers only)",
            report.karma_events_kept,
        ).format(n=report.karma_events_kept)
    )
    lines.append("• " + _("your Telegram id and membership status in chats"))
    if report.transcripts_running:
        lines.append(
            "• "
            + ngettext(
                "{n} transcription still running: send /forgetme again when it is done",
                "{n} transcriptions still running: send /forgetme again when they are done",
                report.transcripts_running,
            ).format(n=report.transcripts_running)
        )
    lines.append("")
    lines.append(
        _(
            "Telegram shows me your name with every message you send, so if you write again "
            "I will see it again."
        )
    )
    return "\n".join(lines)
