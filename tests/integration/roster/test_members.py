"""/members on 10,000 seeded members through the real dispatcher: keyset paging both ways,
every filter against an independent reference, the CSV export, refusals, forged buttons."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import ChatType, MemberRole, MemberStatus
from bot.db.models import Chat, KarmaTotal, Membership, User
from bot.domain.member_filter import MemberFilter
from bot.services.roster import RosterService
from bot.settings import Settings
from bot.telegram.roster import views
from bot.telegram.roster.callbacks import MembersPageCallback, PageDirection
from tests import factories as f
from tests.fakes import ApiCall, FakeBotAPI
from tests.integration.roster.conftest import COMMUNITY, MOD_CHAT, MODERATOR

N = 10_000
PAGE = 20
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIRST = ["Ann", "Boris", "Chen", "Dana", "Émile", "Иван", "Olga", "Pat 100%", "Zoë", "=cmd"]
LAST = [None, "Lee", "Smith", "Петров", "Annan"]
LANGS = ["en", "ru", "de", "pt-br", None, "RU-ru"]
UI = [None, None, None, "ru", "en"]
STATUSES = [MemberStatus.ACTIVE] * 7 + [
    MemberStatus.RESTRICTED,
    MemberStatus.LEFT,
    MemberStatus.BANNED,
]
ID_RE = re.compile(r"tg://user\?id=(\d+)")


@dataclass(frozen=True)
class Seeded:
    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language: str | None  # effective, lower case
    role: MemberRole
    status: MemberStatus
    joined_at: datetime | None
    created_at: datetime
    karma: float

    @property
    def order_key(self) -> tuple[datetime, int]:
        return (self.created_at, self.user_id)


def _member(i: int) -> Seeded:
    language = UI[i % 5] or LANGS[i % 6]
    return Seeded(
        user_id=2_000_000 + i,
        first_name=FIRST[i % 10],
        last_name=LAST[i % 5],
        username=f"user_{i}" if i % 7 else None,
        language=language.lower() if language else None,
        role=(
            MemberRole.ADMIN
            if i % 97 == 0
            else MemberRole.MODERATOR
            if i % 89 == 0
            else MemberRole.MEMBER
        ),
        status=STATUSES[i % 10],
        joined_at=None if i % 50 == 0 else T0 + timedelta(hours=i),
        # Groups of three share created_at: the keyset must break ties by user id.
        created_at=T0 + timedelta(minutes=i // 3),
        karma=float(i % 41 - 20) if i % 4 == 0 else 0.0,
    )


SEED = [_member(i) for i in range(N)]


async def seed(db: async_sessionmaker[AsyncSession]) -> None:
    started = time.perf_counter()
    async with db() as session:
        chat = {"id": COMMUNITY["id"], "type": ChatType.SUPERGROUP, "title": "Community"}
        await session.execute(insert(Chat), [chat])
        await session.execute(
            insert(User),
            [
                {
                    "id": m.user_id,
                    "first_name": m.first_name,
                    "last_name": m.last_name,
                    "username": m.username,
                    "language_code": LANGS[i % 6],
                    "ui_language": UI[i % 5],
                }
                for i, m in enumerate(SEED)
            ],
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "chat_id": COMMUNITY["id"],
                    "user_id": m.user_id,
                    "role": m.role,
                    "status": m.status,
                    "joined_at": m.joined_at,
                    "created_at": m.created_at,
                    "updated_at": m.created_at,
                }
                for m in SEED
            ],
        )
        await session.execute(
            insert(KarmaTotal),
            [
                {"chat_id": COMMUNITY["id"], "user_id": m.user_id, "karma": m.karma}
                for i, m in enumerate(SEED)
                if i % 4 == 0
            ],
        )
        await session.commit()
    assert time.perf_counter() - started < 30


def ordered(members: list[Seeded]) -> list[int]:
    return [m.user_id for m in sorted(members, key=lambda m: m.order_key, reverse=True)]


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _query_matches(m: Seeded, q: str) -> bool:
    """3 characters or more: anywhere in the names or the username; fewer: at the start
    of the first name, the last name or the username."""
    if len(q) < 3:
        return any((v or "").lower().startswith(q) for v in (m.first_name, m.last_name, m.username))
    full = f"{m.first_name} {m.last_name or ''}"
    return any(q in (v or "").lower() for v in (m.first_name, m.last_name, m.username, full))


# (filter text, reference predicate)
FILTERS: list[tuple[str, Any]] = [
    ("status=active", lambda m: m.status == MemberStatus.ACTIVE),
    (
        "status=left,banned",
        lambda m: m.status in (MemberStatus.LEFT, MemberStatus.BANNED),
    ),
    ("status=restricted", lambda m: m.status == MemberStatus.RESTRICTED),
    ("role=admin,moderator", lambda m: m.role != MemberRole.MEMBER),
    ("lang=ru", lambda m: m.language is not None and m.language.split("-")[0] == "ru"),
    ("lang=pt", lambda m: m.language == "pt-br"),
    (
        "joined>2026-03-01",
        lambda m: m.joined_at is not None and m.joined_at >= day_start(date(2026, 3, 2)),
    ),
    (
        "joined<2026-01-10",
        lambda m: m.joined_at is not None and m.joined_at < day_start(date(2026, 1, 10)),
    ),
    (
        "joined=2026-02-01",
        lambda m: m.joined_at is not None and m.joined_at.date() == date(2026, 2, 1),
    ),
    (
        "joined>=2026-02-01 joined<=2026-02-28",
        lambda m: (
            m.joined_at is not None and date(2026, 2, 1) <= m.joined_at.date() <= date(2026, 2, 28)
        ),
    ),
    ("karma>=5", lambda m: m.karma >= 5),
    ("karma>5", lambda m: m.karma > 5),
    ("karma<0", lambda m: m.karma < 0),
    ("karma<=-20", lambda m: m.karma <= -20),
    ("karma=0", lambda m: m.karma == 0),
    ("karma>=-3 karma<3", lambda m: -3 <= m.karma < 3),
    ("q=ann", lambda m: _query_matches(m, "ann")),
    ("q=петров", lambda m: _query_matches(m, "петров")),
    ('q="olga lee"', lambda m: _query_matches(m, "olga lee")),
    ("q=@user_123", lambda m: _query_matches(m, "user_123")),
    ("q=00%", lambda m: _query_matches(m, "00%")),
    # 1-2 letters match the start of a name: Lee and Émile share "le", only Lee starts so.
    ("q=le", lambda m: _query_matches(m, "le")),
    ("q=AN", lambda m: _query_matches(m, "an")),
    ("q=u", lambda m: _query_matches(m, "u")),
    ("q=п", lambda m: _query_matches(m, "п")),
    ("q==c", lambda m: _query_matches(m, "=c")),
    (
        "status=active lang=ru joined>2026-01-15 karma<=0 q=d",
        lambda m: (
            m.status == MemberStatus.ACTIVE
            and m.language is not None
            and m.language.startswith("ru")
            and m.joined_at is not None
            and m.joined_at >= day_start(date(2026, 1, 16))
            and m.karma <= 0
            and _query_matches(m, "d")
        ),
    ),
]


@pytest.fixture
async def seeded(db: async_sessionmaker[AsyncSession]) -> None:
    await seed(db)


def members_cmd(text: str, user: dict[str, Any] = MODERATOR, chat: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return f.message_update(f.message(text, from_user=user, chat=chat or f.private_chat(user)))


def ids_of(call: ApiCall) -> list[int]:
    return [int(i) for i in ID_RE.findall(call.params["text"])]


def total_of(call: ApiCall) -> int:
    """The exact number of matches the page shows."""
    match = re.search(r"<b>(\d+) members? match", call.params["text"])
    assert match, call.params["text"]
    return int(match.group(1))


def count_shown(call: ApiCall) -> tuple[int, bool]:
    """The number of matches the page shows, and whether it is exact (False: "more than")."""
    match = re.search(r"<b>(More than )?(\d+) members? match", call.params["text"])
    assert match, call.params["text"]
    return int(match.group(2)), match.group(1) is None


def buttons(call: ApiCall) -> dict[str, str]:
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


@pytest.mark.parametrize("settings", [{"page_size": PAGE, "count_max": N}], indirect=True)
async def test_paging_walks_every_member_once_and_back(
    seeded: None, feed: Any, fake_api: FakeBotAPI
) -> None:
    await feed(members_cmd("/members"))
    first = await fake_api.wait_for_call("sendMessage")
    assert total_of(first) == N
    assert "Previous" not in " ".join(buttons(first))
    seen = ids_of(first)
    pages = [seen]
    message = fake_api.sent_messages(MODERATOR["id"])[-1]
    markup = buttons(first)
    started = time.perf_counter()
    while "Next ›" in markup:
        before = len(fake_api.calls)
        await feed(f.callback_query_update(MODERATOR, message, markup["Next ›"]))
        edit = await fake_api.wait_for_call("editMessageText", after=before)
        pages.append(ids_of(edit))
        markup = buttons(edit)
        message = fake_api.messages[(MODERATOR["id"], message["message_id"])]
    per_page = (time.perf_counter() - started) / max(len(pages) - 1, 1)
    walked = [uid for page in pages for uid in page]
    assert walked == ordered(SEED)  # every member once, newest first, ties by id
    assert len(pages) == N // PAGE
    assert per_page < 0.5  # keyset: the last page costs what the first does

    # And back: Previous from the last page gives the pages before, in order.
    for expected in reversed(pages[-4:-1]):
        before = len(fake_api.calls)
        await feed(f.callback_query_update(MODERATOR, message, markup["‹ Previous"]))
        edit = await fake_api.wait_for_call("editMessageText", after=before)
        assert ids_of(edit) == expected
        markup = buttons(edit)
        message = fake_api.messages[(MODERATOR["id"], message["message_id"])]


@pytest.mark.parametrize("settings", [{"page_size": PAGE}], indirect=True)
async def test_every_filter_matches_the_reference(
    seeded: None, feed: Any, fake_api: FakeBotAPI, settings: Settings
) -> None:
    """Pages and counts: exact up to ROSTER__COUNT_MAX (1000), "more than 1000" beyond."""
    count_max = settings.roster.count_max
    shown = {"exact": 0, "more": 0}
    for text, predicate in FILTERS:
        expected = ordered([m for m in SEED if predicate(m)])
        assert expected, text  # each filter selects someone...
        assert len(expected) < N, text  # ...and not everyone
        before = len(fake_api.calls)
        await feed(members_cmd(f"/members {text}"))
        sent = await fake_api.wait_for_call("sendMessage", after=before)
        if len(expected) > count_max:
            assert count_shown(sent) == (count_max, False), text
            shown["more"] += 1
        else:
            assert count_shown(sent) == (len(expected), True), text
            shown["exact"] += 1
        assert ids_of(sent) == expected[:PAGE], text
        if len(expected) > PAGE:  # the filter holds on the next page too
            message = fake_api.sent_messages(MODERATOR["id"])[-1]
            mark = len(fake_api.calls)
            await feed(f.callback_query_update(MODERATOR, message, buttons(sent)["Next ›"]))
            edit = await fake_api.wait_for_call("editMessageText", after=mark)
            assert ids_of(edit) == expected[PAGE : 2 * PAGE], text
            assert count_shown(edit) == count_shown(sent), text
    assert min(shown.values()) > 5, shown  # both kinds were checked


async def test_export_sends_the_filtered_csv(seeded: None, feed: Any, fake_api: FakeBotAPI) -> None:
    await feed(members_cmd("/members export status=active karma>=5"))
    call = await fake_api.wait_for_call("sendDocument")
    assert call.filenames["document"] == "members.csv"
    expected = [m for m in SEED if m.status == MemberStatus.ACTIVE and m.karma >= 5]
    assert call.params["caption"].startswith(f"{len(expected)} members exported.")
    rows = list(csv.DictReader(io.StringIO(call.files["document"].decode("utf-8-sig"))))
    assert [int(r["user_id"]) for r in rows] == ordered(expected)
    by_id = {m.user_id: m for m in expected}
    for row in rows:
        m = by_id[int(row["user_id"])]
        assert row["status"] == "active"
        assert float(row["karma"]) == m.karma
        assert row["username"] == (m.username or "")
        assert row["language"] == (m.language or "")
        assert row["joined_at"] == (m.joined_at.isoformat() if m.joined_at else "")
        # Formula-like names are neutralised for spreadsheets.
        assert row["first_name"] == ("'=cmd" if m.first_name == "=cmd" else m.first_name)

    fake_api.reset_calls()
    await feed(members_cmd("/members export"))
    call = await fake_api.wait_for_call("sendDocument")
    assert call.files["document"].decode("utf-8-sig").count("\n") == N + 1


@pytest.mark.parametrize("settings", [{"export_max_rows": 2_500}], indirect=True)
async def test_export_is_capped_and_its_file_removed(
    seeded: None,
    feed: Any,
    fake_api: FakeBotAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CSV goes through a temporary file (written a batch at a time): the newest
    ROSTER__EXPORT_MAX_ROWS members, and no file left behind once it is sent."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    await feed(members_cmd("/members export"))
    call = await fake_api.wait_for_call("sendDocument")
    assert call.params["caption"].startswith("2500 members exported.")
    rows = list(csv.DictReader(io.StringIO(call.files["document"].decode("utf-8-sig"))))
    assert [int(r["user_id"]) for r in rows] == ordered(SEED)[:2_500]
    assert os.listdir(tmp_path) == []


async def _export_peak(db: async_sessionmaker[AsyncSession], settings: Settings) -> tuple[int, int]:
    """Rows written and the traced memory peak of writing the whole export."""
    tracemalloc.start()
    try:
        async with db() as session:
            batches = RosterService(session, settings).export_members(MemberFilter())
            async with views.members_csv(batches) as (_, rows):
                return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_export_memory_stays_bounded_as_the_roster_grows(
    seeded: None, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Read from one cursor and written out a batch at a time: three times the members
    must not take three times the memory (an export built in memory would)."""
    small_rows, small = await _export_peak(db, settings)
    async with db() as session:
        more = [
            replace(m, user_id=m.user_id + N * k, created_at=m.created_at + timedelta(days=30 * k))
            for k in (1, 2)
            for m in SEED
        ]
        await session.execute(
            insert(User), [{"id": m.user_id, "first_name": m.first_name} for m in more]
        )
        await session.execute(
            insert(Membership),
            [
                {"chat_id": COMMUNITY["id"], "user_id": m.user_id, "created_at": m.created_at}
                for m in more
            ],
        )
        await session.commit()
    large_rows, large = await _export_peak(db, settings)
    assert (small_rows, large_rows) == (N, 3 * N)
    assert large < small * 1.5, (small, large)


async def test_works_in_the_moderation_chat_and_not_elsewhere(
    seeded: None, feed: Any, fake_api: FakeBotAPI
) -> None:
    await feed(members_cmd("/members status=banned", chat=MOD_CHAT))
    sent = await fake_api.wait_for_call("sendMessage")
    assert sent.params["chat_id"] == MOD_CHAT["id"]
    assert total_of(sent) == N // 10

    fake_api.reset_calls()
    await feed(members_cmd("/members", chat=COMMUNITY))
    refusal = await fake_api.wait_for_call("sendMessage")
    assert refusal.params["text"] == (
        "Use /members in a private chat with me or in the moderation chat."
    )


async def test_non_moderator_is_refused(seeded: None, feed: Any, fake_api: FakeBotAPI) -> None:
    eve = f.user(id=777, first_name="Eve")
    await feed(members_cmd("/members", user=eve))
    refusal = await fake_api.wait_for_call("sendMessage")
    assert refusal.params["text"] == "Only moderators can list the members."
    await feed(members_cmd("/members export", user=eve))
    assert not fake_api.calls_of("sendDocument")


async def test_bad_filter_is_explained(feed: Any, fake_api: FakeBotAPI) -> None:
    await feed(members_cmd("/members joined>soon"))
    reply = await fake_api.wait_for_call("sendMessage")
    # The reader sees "joined>soon: ..." (the term is HTML-escaped in the reply).
    assert reply.params["text"] == "joined&gt;soon: write the date as YYYY-MM-DD."
    assert reply.params["parse_mode"] == "HTML"


@pytest.mark.parametrize("settings", [{"page_size": PAGE}], indirect=True)
async def test_forged_and_foreign_page_buttons_are_refused(
    seeded: None, feed: Any, fake_api: FakeBotAPI
) -> None:
    await feed(members_cmd("/members status=active"))
    sent = await fake_api.wait_for_call("sendMessage")
    message = fake_api.sent_messages(MODERATOR["id"])[-1]
    genuine = MembersPageCallback.unpack(buttons(sent)["Next ›"])

    forged = [
        genuine.model_copy(update={"user_id": genuine.user_id + 1}).pack(),  # moved cursor
        genuine.model_copy(update={"direction": PageDirection.PREV}).pack(),
        genuine.model_copy(update={"signature": "0" * 16}).pack(),
        "mp:n:notanumber:1:abc",  # does not even parse
    ]
    for data in forged:
        before = len(fake_api.calls)
        await feed(f.callback_query_update(MODERATOR, message, data))
        alert = await fake_api.wait_for_call("answerCallbackQuery", after=before)
        assert alert.params["show_alert"] is True
        assert alert.params["text"] == "This list is out of date or not valid. Run /members again."
    assert not fake_api.calls_of("editMessageText")

    # A genuine button pressed on a message whose filter line differs (another list).
    other = {**message, "text": message["text"].replace("status=active", "status=banned")}
    before = len(fake_api.calls)
    await feed(f.callback_query_update(MODERATOR, other, buttons(sent)["Next ›"]))
    alert = await fake_api.wait_for_call("answerCallbackQuery", after=before)
    assert alert.params["show_alert"] is True

    # A non-moderator pressing a genuine button: refused, nothing edited.
    eve = f.user(id=778, first_name="Eve")
    before = len(fake_api.calls)
    await feed(f.callback_query_update(eve, message, buttons(sent)["Next ›"]))
    alert = await fake_api.wait_for_call("answerCallbackQuery", after=before)
    assert alert.params["text"] == "Only moderators can list the members."
    assert not fake_api.calls_of("editMessageText")


async def test_a_page_of_the_longest_profiles_fits_one_message(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    """256-character names, 32-character usernames, every field set: the page stays under
    Telegram's 4096 characters (the fake API refuses longer texts, as Telegram does)."""
    async with db() as session:
        await session.execute(insert(Chat), [{"id": COMMUNITY["id"], "type": ChatType.SUPERGROUP}])
        await session.execute(
            insert(User),
            [
                {
                    "id": 3_000_000 + i,
                    "first_name": "Ж" * 256,
                    "last_name": "W" * 256,
                    "username": f"u{i:02d}" + "x" * 29,
                    "language_code": "pt-br",
                    "ui_language": "zh-hant-tw",
                    "is_bot": True,
                }
                for i in range(20)
            ],
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "chat_id": COMMUNITY["id"],
                    "user_id": 3_000_000 + i,
                    "role": MemberRole.MODERATOR,
                    "status": MemberStatus.RESTRICTED,
                    "joined_at": T0,
                    "last_seen_at": T0,
                }
                for i in range(20)
            ],
        )
        await session.execute(
            insert(KarmaTotal),
            [
                {"chat_id": COMMUNITY["id"], "user_id": 3_000_000 + i, "karma": -12345.67}
                for i in range(20)
            ],
        )
        await session.commit()
    await feed(members_cmd("/members"))
    sent = await fake_api.wait_for_call("sendMessage")
    assert sent.response is not None
    assert sent.response["ok"] is True, sent.response
    assert len(ids_of(sent)) == 20


async def test_unconfigured_community_chat_is_explained(
    feed: Any, fake_api: FakeBotAPI, deps: Any
) -> None:
    deps.settings.community.chat_id = None
    await feed(members_cmd("/members"))
    reply = await fake_api.wait_for_call("sendMessage")
    assert "COMMUNITY__CHAT_ID" in reply.params["text"]
