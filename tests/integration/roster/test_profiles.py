"""/whoami (self, reply, the user picker; English and Russian) and /forgetme through the
real dispatcher, on records written the way the features write them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import (
    ApplicationSource,
    ApplicationStatus,
    JobStatus,
    KarmaSource,
    MediaKind,
    MemberStatus,
)
from bot.db.models import (
    Application,
    ApplicationAnswer,
    ApplicationEvent,
    KarmaEvent,
    KarmaTotal,
    Membership,
    TranscriptionJob,
    User,
)
from bot.telegram.roster.callbacks import ForgetAction, ForgetCallback
from bot.telegram.roster.views import WHOAMI_REQUEST_ID
from tests import factories as f
from tests.fakes import FakeBotAPI
from tests.integration.roster.conftest import COMMUNITY, MODERATOR

T0 = 1_767_225_600  # 2026-01-01
ANN = f.user(id=601, first_name="Ann", last_name="Lee", username="ann", is_premium=True)
BOB = f.user(id=602, first_name="Bob", username="bob")
IVAN = f.user(id=603, first_name="Иван", username="ivan", language_code="ru")
TAG = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    return TAG.sub("", html_text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def join(feed: Any, user: dict[str, Any], date: int = T0) -> None:
    await feed(
        f.chat_member_update(
            COMMUNITY, user, f.chat_member(user, "left"), f.chat_member(user), date=date
        )
    )


async def add_records(db: async_sessionmaker[AsyncSession], user_id: int) -> None:
    """Karma, two applications with answers, transcriptions: as the other features write."""
    now = datetime.now(UTC)
    async with db() as session:
        await session.merge(User(id=BOB["id"], first_name="Bob", username="bob"))
        await session.flush()
        await session.execute(
            insert(KarmaTotal),
            [
                {"chat_id": COMMUNITY["id"], "user_id": user_id, "karma": 7.0},
                {"chat_id": COMMUNITY["id"], "user_id": BOB["id"], "karma": 9.5},
            ],
        )
        await session.execute(
            insert(KarmaEvent),
            [
                {
                    "chat_id": COMMUNITY["id"],
                    "voter_id": voter,
                    "target_id": target,
                    "source": KarmaSource.REPLY,
                    "direction": 1,
                    "weight": 1.0,
                    "delta": 1.0,
                }
                for voter, target in ((BOB["id"], user_id), (user_id, BOB["id"]))
            ],
        )
        decided = Application(
            user_id=user_id,
            chat_id=COMMUNITY["id"],
            source=ApplicationSource.COMMAND,
            status=ApplicationStatus.APPROVED,
            decided_by=MODERATOR["id"],
            decided_at=datetime(2026, 1, 5, tzinfo=UTC),
            created_at=datetime(2026, 1, 4, tzinfo=UTC),
        )
        pending = Application(
            user_id=user_id,
            chat_id=COMMUNITY["id"],
            source=ApplicationSource.JOIN_REQUEST,
            status=ApplicationStatus.REJECTED,
            created_at=datetime(2026, 1, 2, tzinfo=UTC),
        )
        session.add_all([decided, pending])
        await session.flush()
        session.add_all(
            [
                ApplicationAnswer(
                    application_id=app.id, position=i, question=f"Q{i}", answer=f"my answer {i}"
                )
                for app, n in ((decided, 3), (pending, 2))
                for i in range(n)
            ]
        )
        for n, (status, seconds) in enumerate(
            [(JobStatus.DONE, 60.0), (JobStatus.DONE, 30.0), (JobStatus.RUNNING, 10.0)]
        ):
            session.add(
                TranscriptionJob(
                    dedup_key=f"{user_id}:{n}:",
                    chat_id=user_id,
                    user_id=user_id,
                    message_id=n + 1,
                    media_kind=MediaKind.VOICE,
                    file_id=f"AwAC{n}",
                    file_unique_id=f"AgAD{n}",
                    status=status,
                    audio_duration_s=seconds,
                    text="secret words" if status == JobStatus.DONE else None,
                    segments=[{"start": 0, "end": 1, "text": "secret"}],
                    received_at=now - timedelta(hours=n),
                )
            )
        await session.commit()


# --------------------------------------------------------------------------- /whoami
async def test_whoami_on_self_in_private(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, ANN)
    await add_records(db, ANN["id"])
    fake_api.set_chat_member(COMMUNITY["id"], ANN, "administrator", can_delete_messages=True)
    await feed(f.message_update(f.message("/whoami", from_user=ANN, chat=f.private_chat(ANN))))

    card, hint = await fake_api.wait_for_calls("sendMessage", 2)
    text = plain(card.params["text"])
    for line in (
        "👤 Ann Lee",
        "User id: 601",
        "Username: @ann",
        "First / last name: Ann / Lee",
        "Language: en",
        "Telegram Premium: yes",
        f"Chat: {COMMUNITY['id']} (supergroup) — Community",
        "Status in the chat: administrator",
        "In the roster: active, member; joined 2026-01-01",
        "Karma: 7.0, rank 2 of 2",
        "Application: approved (2026-01-05)",
        "Transcribed: 2 voice notes, 1.5 min",
    ):
        assert line in text.splitlines(), (line, text)
    assert "can_delete_messages" in text
    assert "can_restrict_members" not in text
    button = hint.params["reply_markup"]["keyboard"][0][0]
    assert button["request_users"]["request_id"] == WHOAMI_REQUEST_ID
    assert button["request_users"]["user_is_bot"] is False


async def test_whoami_as_a_reply_in_the_group(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, ANN)
    await add_records(db, ANN["id"])
    fake_api.set_chat_member(
        COMMUNITY["id"], ANN, "restricted", is_member=True, until_date=T0 + 86400
    )
    said = f.message("hello all", from_user=ANN, chat=COMMUNITY)
    await feed(f.message_update(said))

    # Another member sees the public part only.
    await feed(f.message_update(f.message("/whoami", from_user=BOB, chat=COMMUNITY, reply_to=said)))
    card = await fake_api.wait_for_call("sendMessage")
    text = plain(card.params["text"])
    assert card.params["chat_id"] == COMMUNITY["id"]
    assert "User id: 601" in text
    assert f"Chat: {COMMUNITY['id']} (supergroup) — Community" in text
    assert "Status in the chat: restricted" in text
    assert "Restricted: can_send_messages" in text
    assert "Until: 2026-01-02 00:00 UTC" in text
    assert "Karma: 7.0, rank 2 of 2" in text
    assert "Application:" not in text
    assert "Transcribed:" not in text

    # A moderator sees everything.
    fake_api.reset_calls()
    await feed(
        f.message_update(f.message("/whoami", from_user=MODERATOR, chat=COMMUNITY, reply_to=said))
    )
    text = plain((await fake_api.wait_for_call("sendMessage")).params["text"])
    assert "User id: 601" in text
    assert "Application: approved (2026-01-05)" in text
    assert "Transcribed: 2 voice notes, 1.5 min" in text


def users_shared(user_id: int, **names: Any) -> dict[str, Any]:
    return {"request_id": WHOAMI_REQUEST_ID, "users": [{"user_id": user_id, **names}]}


async def test_whoami_via_the_user_picker(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, ANN)
    await add_records(db, ANN["id"])
    chat = f.private_chat(MODERATOR)
    picked = f.message(
        from_user=MODERATOR, chat=chat, users_shared=users_shared(601, first_name="Annie")
    )
    await feed(f.message_update(picked))
    text = plain((await fake_api.wait_for_call("sendMessage")).params["text"])
    assert "👤 Annie Lee" in text  # the name Telegram just shared, the rest from records
    assert "User id: 601" in text
    assert "Username: @ann" in text
    assert "Karma: 7.0, rank 2 of 2" in text
    assert "Application: approved (2026-01-05)" in text
    assert "Known to me since" in text

    fake_api.reset_calls()
    stranger = f.message(from_user=MODERATOR, chat=chat, users_shared=users_shared(4242))
    await feed(f.message_update(stranger))
    text = plain((await fake_api.wait_for_call("sendMessage")).params["text"])
    assert "User id: 4242" in text
    assert "I have no records of this user yet." in text

    # A users_shared answer to some other button is not ours.
    fake_api.reset_calls()
    other = f.message(
        from_user=MODERATOR,
        chat=chat,
        users_shared={"request_id": 1, "users": [{"user_id": 601}]},
    )
    await feed(f.message_update(other))
    assert not fake_api.calls_of("sendMessage")


async def test_the_picker_shows_strangers_only_what_telegram_shows_everyone(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    """Anyone can pick anyone: chat-scoped facts (membership, ban dates, role, karma) go
    to members of the community chat and moderators only."""
    await join(feed, ANN)
    await add_records(db, ANN["id"])
    owner = f.user(id=699, first_name="Owner")
    banned = f.chat_member(ANN, "kicked", until_date=T0 + 30 * 86400)
    await feed(f.chat_member_update(COMMUNITY, owner, f.chat_member(ANN), banned, date=T0 + 60))

    eve = f.user(id=650, first_name="Eve")  # not in the community, not a moderator
    before = len(fake_api.calls)
    await feed(
        f.message_update(
            f.message(from_user=eve, chat=f.private_chat(eve), users_shared=users_shared(601))
        )
    )
    text = plain((await fake_api.wait_for_call("sendMessage", after=before)).params["text"])
    for shown in ("👤 Ann Lee", "User id: 601", "Username: @ann", "Telegram Premium: yes"):
        assert shown in text, (shown, text)
    for hidden in (
        "Chat:",
        "Status in the chat",
        "banned",
        "Until",
        "In the roster",
        "Left:",
        "Karma",
        "Application",
        "Transcribed",
        "Language",
        "Known to me since",
    ):
        assert hidden not in text, (hidden, text)
    assert "shown to community members only" in text
    # Telegram is asked whether Eve is a member, and nothing about Ann.
    asked = [
        c.params.get("user_id") for c in fake_api.calls[before:] if c.method == "getChatMember"
    ]
    assert asked == [eve["id"]]

    # A member of the community sees the chat's facts about Ann (not her application).
    await join(feed, BOB)
    fake_api.reset_calls()
    await feed(
        f.message_update(
            f.message(from_user=BOB, chat=f.private_chat(BOB), users_shared=users_shared(601))
        )
    )
    text = plain((await fake_api.wait_for_call("sendMessage")).params["text"])
    assert "Status in the chat: banned" in text
    assert "In the roster: banned, member; joined 2026-01-01" in text
    assert "Left: 2026-01-01" in text
    assert "Application" not in text


async def test_whoami_in_russian(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, IVAN)
    await add_records(db, IVAN["id"])
    await feed(f.message_update(f.message("/whoami", from_user=IVAN, chat=f.private_chat(IVAN))))
    card, hint = await fake_api.wait_for_calls("sendMessage", 2)
    text = plain(card.params["text"])
    for line in (
        "👤 Иван",
        "Id пользователя: 603",
        "Имя пользователя: @ivan",
        "Язык: ru",
        "Telegram Premium: нет",
        "Статус в чате: участник",
        "В списке участников: активен, участник; вступил(а) 2026-01-01",
        "Карма: 7.0, место 2 из 2",
        "Заявка: одобрена (2026-01-05)",
        "Расшифровано: 2 голосовых, 1.5 мин",
    ):
        assert line in text.splitlines(), (line, text)
    assert hint.params["reply_markup"]["keyboard"][0][0]["text"] == "👤 Выбрать пользователя"


# --------------------------------------------------------------------------- /forgetme
async def test_forgetme_removes_what_it_says_and_keeps_the_rest(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, ANN)
    await feed(f.message_update(f.message("hi", from_user=ANN, chat=COMMUNITY, date=T0 + 60)))
    await add_records(db, ANN["id"])
    async with db() as session:
        pending = await session.scalar(
            select(Application).where(Application.status == ApplicationStatus.REJECTED)
        )
        assert pending is not None
        pending.status = ApplicationStatus.PENDING  # one application still open
        user = await session.get(User, 601)
        assert user is not None
        user.ui_language = "en"
        await session.commit()
    chat = f.private_chat(ANN)

    # Cancel: nothing changes.
    await feed(f.message_update(f.message("/forgetme", from_user=ANN, chat=chat)))
    prompt = await fake_api.wait_for_call("sendMessage")
    assert "Delete now?" in prompt.params["text"]
    message = fake_api.sent_messages(601)[-1]
    cancel = ForgetCallback(action=ForgetAction.CANCEL, user_id=601).pack()
    await feed(f.callback_query_update(ANN, message, cancel))
    edit = await fake_api.wait_for_call("editMessageText")
    assert edit.params["text"] == "Cancelled: nothing was deleted."
    async with db() as session:
        assert (await session.get(User, 601)).username == "ann"  # type: ignore[union-attr]

    # Someone else's confirm button (forged user id) is refused.
    confirm = ForgetCallback(action=ForgetAction.CONFIRM, user_id=601).pack()
    before = len(fake_api.calls)
    await feed(f.callback_query_update(BOB, message, confirm))
    alert = await fake_api.wait_for_call("answerCallbackQuery", after=before)
    assert alert.params["text"] == "Only the person who asked can confirm this."
    async with db() as session:
        assert (await session.get(User, 601)).username == "ann"  # type: ignore[union-attr]

    fake_api.reset_calls()
    await feed(f.callback_query_update(ANN, message, confirm))
    report = (await fake_api.wait_for_call("editMessageText")).params["text"]
    for line in (
        "• your profile: name, username, languages, premium flag",
        "• 2 transcripts",
        "• 5 application answers",
        "• last-seen time in 1 chat",
        "• 1 open application withdrawn",
        "• 1 decision on your applications (with its audit trail)",
        "• 2 karma votes (ids and numbers only)",
        "• 1 transcription still running: send /forgetme again when it is done",
    ):
        assert line in report.splitlines(), (line, report)

    async with db() as session:
        user = await session.get(User, 601)
        assert user is not None
        assert (
            user.first_name,
            user.last_name,
            user.username,
            user.language_code,
            user.ui_language,
            user.is_premium,
        ) == ("—", None, None, None, None, None)
        jobs = (
            await session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.message_id))
        ).all()
        assert [(j.text, j.segments, j.file_id) for j in jobs[:2]] == [(None, None, "")] * 2
        assert jobs[2].status == JobStatus.RUNNING  # not finished: left alone, and reported
        assert sum(j.audio_duration_s or 0 for j in jobs) == 100  # quota still counts them
        assert await session.scalar(select(func.count()).select_from(ApplicationAnswer)) == 0
        apps = {a.status: a for a in (await session.scalars(select(Application))).all()}
        assert set(apps) == {ApplicationStatus.APPROVED, ApplicationStatus.WITHDRAWN}
        assert apps[ApplicationStatus.APPROVED].decided_by == MODERATOR["id"]
        audit = (await session.scalars(select(ApplicationEvent))).all()
        assert [(e.action, e.details) for e in audit] == [("withdrawn", {"reason": "forgetme"})]
        assert await session.scalar(select(func.count()).select_from(KarmaEvent)) == 2
        member = await session.get(Membership, (COMMUNITY["id"], 601))
        assert member is not None
        assert (member.status, member.last_seen_at) == (MemberStatus.ACTIVE, None)

    # Again: nothing left to remove.
    fake_api.reset_calls()
    await feed(f.message_update(f.message("/forgetme", from_user=ANN, chat=chat)))
    await fake_api.wait_for_call("sendMessage")
    message = fake_api.sent_messages(601)[-1]
    await feed(f.callback_query_update(ANN, message, confirm))
    report = (await fake_api.wait_for_call("editMessageText")).params["text"]
    assert "• your profile: nothing was stored" in report
    assert "• 0 transcripts" in report


async def test_forgetme_only_in_private(feed: Any, fake_api: FakeBotAPI) -> None:
    await feed(f.message_update(f.message("/forgetme", from_user=ANN, chat=COMMUNITY)))
    reply = await fake_api.wait_for_call("sendMessage")
    assert reply.params["text"] == "Send /forgetme to me in a private chat."


async def test_forgetme_forged_data_is_refused(
    feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]
) -> None:
    await join(feed, ANN)
    chat = f.private_chat(ANN)
    await feed(f.message_update(f.message("/forgetme", from_user=ANN, chat=chat)))
    message = fake_api.sent_messages(601)[-1]
    await feed(f.callback_query_update(ANN, message, "fm:y:not-a-number"))
    alert = await fake_api.wait_for_call("answerCallbackQuery")
    assert alert.params["show_alert"] is True
    assert not fake_api.calls_of("editMessageText")
    async with db() as session:
        user = await session.get(User, 601)
    assert user is not None
    assert user.username == "ann"
