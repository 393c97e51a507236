"""A row (or a few) in every table, with the values that break naive backups: Telegram
ids past 2**32, negative chat ids, floats that do not round-trip through decimal text
carelessly, microseconds, unicode and newlines, nested JSON, JSON columns that are SQL
NULL, enums, booleans, every foreign key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import (
    A2TMode,
    ApplicationSource,
    ApplicationStatus,
    ChatType,
    JobStatus,
    KarmaLift,
    KarmaSanction,
    KarmaSource,
    MediaKind,
    MemberRole,
    MemberStatus,
)
from bot.db.models import (
    Application,
    ApplicationAnswer,
    ApplicationEvent,
    Chat,
    KarmaEvent,
    KarmaMessageAuthor,
    KarmaRestriction,
    KarmaTotal,
    LegacyImport,
    Membership,
    Moderator,
    TranscriptionJob,
    User,
)

T0 = datetime(2026, 3, 4, 5, 6, 7, 890_123, tzinfo=UTC)
ZOE, BOT_USER, CHAT = 5_000_000_001, 777_000, -1_001_234_567_890


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def populate(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        s.add_all(
            [
                User(
                    id=ZOE,
                    first_name='Zoë 🎙️ "quoted"\nline',
                    username="zoe_v",
                    language_code="de",
                    ui_language="ru",
                    is_premium=True,
                    created_at=_at(0),
                    updated_at=_at(1),
                ),
                User(
                    id=BOT_USER,
                    is_bot=True,
                    first_name="Bot",
                    last_name="Ünïcode",
                    created_at=_at(2),
                    updated_at=_at(2),
                ),
                Chat(
                    id=CHAT,
                    type=ChatType.SUPERGROUP,
                    title="Täst\tgroup",
                    a2t_mode=A2TMode.COMMAND,
                    karma_reactions=True,
                    created_at=_at(0),
                    updated_at=_at(3),
                ),
            ]
        )
        await s.flush()
        s.add_all(
            [
                Membership(
                    chat_id=CHAT,
                    user_id=ZOE,
                    role=MemberRole.MODERATOR,
                    status=MemberStatus.BANNED,
                    joined_at=_at(4),
                    last_seen_at=_at(5),
                    created_at=_at(4),
                    updated_at=_at(6),
                ),
                Membership(chat_id=CHAT, user_id=BOT_USER, created_at=_at(7), updated_at=_at(7)),
                KarmaTotal(chat_id=CHAT, user_id=ZOE, karma=-2.5, updated_at=_at(8)),
                KarmaTotal(chat_id=CHAT, user_id=BOT_USER, karma=0.1 + 0.2, updated_at=_at(8)),
                KarmaMessageAuthor(chat_id=CHAT, message_id=2**40, user_id=ZOE, created_at=_at(9)),
                KarmaEvent(
                    id=10,
                    chat_id=CHAT,
                    voter_id=BOT_USER,
                    target_id=ZOE,
                    source=KarmaSource.REACTION,
                    direction=-1,
                    weight=1 / 3,
                    delta=-1 / 3,
                    message_id=99,
                    created_at=_at(10),
                    cancelled_at=_at(11),
                ),
                KarmaEvent(
                    id=11,
                    chat_id=CHAT,
                    voter_id=ZOE,
                    target_id=BOT_USER,
                    source=KarmaSource.REPLY,
                    direction=1,
                    weight=2.0,
                    delta=2.0,
                    created_at=_at(12),
                ),
                TranscriptionJob(
                    id=20,
                    dedup_key=f"{CHAT}:100:auto",
                    chat_id=CHAT,
                    user_id=ZOE,
                    message_id=100,
                    media_kind=MediaKind.VOICE,
                    file_id="AwACAgIAAxkBAAI",
                    file_unique_id="AgADxyz",
                    file_size=12345,
                    declared_duration_s=11.0,
                    status=JobStatus.DONE,
                    engine="whisper",
                    language="en",
                    audio_duration_s=11.04,
                    processing_s=0.987654321,
                    progress=1.0,
                    text="ask not — what «your» country\ncan do",
                    segments=[
                        {"start": 0.0, "end": 1.25, "text": "ask not", "words": None},
                        {"start": 1.25, "end": 11.04, "text": "what…", "p": 0.1 + 0.2},
                    ],
                    result_message_ids=[5, 6],
                    attempts=2,
                    generation=1,
                    received_at=_at(13),
                    finished_at=_at(14),
                    created_at=_at(13),
                    updated_at=_at(14),
                ),
                TranscriptionJob(
                    id=21,
                    dedup_key=f"{ZOE}:101:ru",
                    chat_id=ZOE,
                    user_id=None,
                    message_id=101,
                    media_kind=MediaKind.VIDEO_NOTE,
                    file_id="x",
                    file_unique_id="y",
                    status=JobStatus.QUEUED,
                    language_hint="ru",
                    # segments left unset: SQL NULL (a restore must not make it JSON null)
                    received_at=_at(15),
                    created_at=_at(15),
                    updated_at=_at(15),
                ),
                Moderator(user_id=ZOE, added_by="ops", note="named by the CLI", created_at=_at(16)),
                LegacyImport(source="applications", legacy_id=3, target_id=30, imported_at=_at(17)),
            ]
        )
        await s.flush()
        s.add_all(
            [
                KarmaRestriction(
                    id=40,
                    chat_id=CHAT,
                    user_id=ZOE,
                    event_id=10,
                    step=2,
                    kind=KarmaSanction.BAN,
                    until=None,
                    created_at=_at(18),
                    lifted_at=_at(19),
                    lifted_by=BOT_USER,
                    lift_reason=KarmaLift.PARDON,
                ),
                Application(
                    id=30,
                    user_id=ZOE,
                    chat_id=CHAT,
                    source=ApplicationSource.JOIN_REQUEST,
                    status=ApplicationStatus.PENDING,
                    submitted_at=_at(20),
                    expires_at=_at(20 + 72 * 60),
                    card_chat_id=-100_555,
                    card_message_id=77,
                    created_at=_at(19),
                    updated_at=_at(20),
                ),
                Application(
                    id=31,
                    user_id=ZOE,
                    chat_id=CHAT,
                    source=ApplicationSource.COMMAND,
                    status=ApplicationStatus.REJECTED,
                    decided_by=BOT_USER,
                    decided_at=_at(5),
                    reason="Not now; try again in a month.",
                    reason_shared=True,
                    created_at=_at(1),
                    updated_at=_at(5),
                ),
            ]
        )
        await s.flush()
        s.add_all(
            [
                ApplicationAnswer(
                    application_id=30,
                    position=0,
                    question="Who are you?",
                    answer="Zoë",
                    answered_at=_at(19),
                ),
                ApplicationAnswer(
                    application_id=30,
                    position=1,
                    question="Why?",
                    answer=None,
                    transcription_job_id=20,
                    answered_at=_at(20),
                ),
                ApplicationEvent(
                    id=50,
                    application_id=30,
                    actor_id=ZOE,
                    action="submitted",
                    details={"b": [1, 2.5, None, "x"], "a": {"nested": True, "n": 2**53}},
                    created_at=_at(20),
                ),
                # details=None through the ORM stores the JSON value null; a restore
                # writes SQL NULL, which reads back the same.
                ApplicationEvent(
                    id=51,
                    application_id=31,
                    actor_id=None,
                    action="expired",
                    details=None,
                    created_at=_at(21),
                ),
            ]
        )
        await s.commit()
