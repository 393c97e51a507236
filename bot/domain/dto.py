"""Validated inputs and plain outputs of the services. The Telegram layer builds these
from aiogram objects; services never see aiogram types."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.db.enums import ChatType, KarmaSource, MediaKind


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        """PostgreSQL text cannot hold U+0000; nothing a person reads needs it."""
        return without_nul(value) if isinstance(value, str) else value


def without_nul(text: str) -> str:
    return text.replace("\x00", "")


def full_name(first: str, last: str | None) -> str:
    """A person's name as Telegram shows it: first and last, or first alone."""
    return f"{first} {last}".strip() if last else first


class UserProfile(_Input):
    id: int = Field(gt=0)
    is_bot: bool = False
    first_name: str = Field(max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=64)
    language_code: str | None = Field(default=None, max_length=16)
    is_premium: bool | None = None

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


class ChatInfo(_Input):
    id: int  # negative for groups and channels
    type: ChatType
    title: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=64)


class VoiceRequest(_Input):
    """A voice note, audio file, video note or audio document to transcribe."""

    chat_id: int
    user_id: int | None = Field(default=None, gt=0)  # who asked: charged, may cancel
    # Whose voice it is (the author, or a forwarded note's original sender); None: unknown.
    speaker_id: int | None = Field(default=None, gt=0)
    message_id: int = Field(gt=0)
    update_id: int | None = None
    media_kind: MediaKind
    file_id: str = Field(min_length=1, max_length=256)
    file_unique_id: str = Field(min_length=1, max_length=64)
    file_size: int | None = Field(default=None, ge=0)
    mime_type: str | None = Field(default=None, max_length=128)
    duration_s: float | None = Field(default=None, ge=0)
    language_hint: str | None = Field(default=None, min_length=2, max_length=16)
    received_at: datetime
    # The requester's UI language: the job's status and result are written in it.
    ui_locale: str | None = Field(default=None, max_length=16)

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        return value


class VoteRequest(_Input):
    """A karma vote: `voter` replied to a message of `target` in `chat`."""

    chat: ChatInfo
    voter: UserProfile
    target: UserProfile
    direction: Literal[1, -1]
    source: KarmaSource = KarmaSource.REPLY
    message_id: int | None = Field(default=None, gt=0)  # the voted-on message
    vote_message_id: int | None = Field(default=None, gt=0)  # the "+" reply itself


class Decision(StrEnum):
    """What a moderator decided about an application (its audit event's name too)."""

    APPROVE = "approve"
    REJECT = "reject"
    BAN = "ban"


class ApplicationDecision(_Input):
    """A moderator's decision, pressed on the card at (card_chat_id, card_message_id)."""

    application_id: int = Field(gt=0)
    moderator_id: int = Field(gt=0)
    decision: Decision
    reason: str | None = Field(default=None, min_length=1, max_length=1000)
    share_reason: bool = False
    card_chat_id: int
    card_message_id: int = Field(gt=0)
