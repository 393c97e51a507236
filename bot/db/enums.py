"""Domain enums, stored as short strings with a CHECK constraint (no native PG enums:
adding a value is then a plain migration)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


class ChatType(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class MemberRole(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"
    LEFT = "left"
    BANNED = "banned"


class A2TMode(StrEnum):
    """Per-chat transcription mode, set by chat admins."""

    AUTO = "auto"  # every voice note
    COMMAND = "command"  # only /transcribe as a reply
    OFF = "off"


class ApplicationSource(StrEnum):
    COMMAND = "command"
    JOIN_REQUEST = "join_request"


class ApplicationStatus(StrEnum):
    DRAFT = "draft"  # questionnaire in progress
    PENDING = "pending"  # submitted, waiting for a moderator
    APPROVED = "approved"
    REJECTED = "rejected"
    BANNED = "banned"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class KarmaSource(StrEnum):
    REPLY = "reply"
    REACTION = "reaction"
    MODERATOR = "moderator"


class KarmaSanction(StrEnum):
    """A step of the negative-karma escalation (KARMA__ESCALATION)."""

    READ_ONLY = "read_only"
    BAN = "ban"


class KarmaLift(StrEnum):
    """Why a karma sanction ended early."""

    UNDO = "undo"  # the vote that triggered it was cancelled: it does not count any more
    PARDON = "pardon"  # a moderator lifted it (/karma_pardon): it still counts


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}


class MediaKind(StrEnum):
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO_NOTE = "video_note"
    DOCUMENT = "document"


def str_enum(enum_cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        name=enum_cls.__name__.lower(),
        validate_strings=True,
    )
