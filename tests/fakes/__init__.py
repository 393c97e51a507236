"""Test doubles: a fake Telegram Bot API server."""

from tests.fakes.bot_api import (
    DEFAULT_TOKEN,
    ApiCall,
    BotAPIError,
    FakeBotAPI,
    FloodLimits,
    StoredFile,
    chat_member_json,
    render_text,
)

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "BotAPIError",
    "FakeBotAPI",
    "FloodLimits",
    "StoredFile",
    "chat_member_json",
    "render_text",
]
