"""aiogram objects -> the services' validated DTOs."""

from __future__ import annotations

from aiogram import types
from aiogram.types import Message

from bot.domain.dto import ChatInfo, UserProfile, VoiceRequest
from bot.telegram.filters import VoiceMediaRef


def user_profile(user: types.User) -> UserProfile:
    return UserProfile(
        id=user.id,
        is_bot=user.is_bot,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        is_premium=user.is_premium,
    )


def chat_info(chat: types.Chat) -> ChatInfo:
    return ChatInfo.model_validate(
        {"id": chat.id, "type": chat.type, "title": chat.title, "username": chat.username}
    )


def speaker_of(message: types.Message) -> int | None:
    """Whose voice a media message carries: a forwarded note's original sender when
    Telegram names them, else its author. None when hidden (the sender's privacy
    settings) or not a person (a channel, a group); the forwarder is never the speaker."""
    origin = message.forward_origin
    if origin is None:
        return message.from_user.id if message.from_user else None
    if isinstance(origin, types.MessageOriginUser):
        return origin.sender_user.id
    return None


def voice_request(
    media_message: Message,
    media: VoiceMediaRef,
    *,
    user_id: int | None,
    speaker_id: int | None = None,
    ui_locale: str | None = None,
) -> VoiceRequest:
    """The transcription request for the media a filter found on `media_message`,
    charged to `user_id`."""
    return VoiceRequest(
        chat_id=media_message.chat.id,
        user_id=user_id,
        speaker_id=speaker_id,
        message_id=media_message.message_id,
        media_kind=media.kind,
        file_id=media.file_id,
        file_unique_id=media.file_unique_id,
        file_size=media.file_size,
        mime_type=media.mime_type,
        duration_s=media.duration,
        received_at=media_message.date,
        ui_locale=ui_locale,
    )
