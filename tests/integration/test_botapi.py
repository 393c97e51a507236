"""The worker's Bot API client (bot/telegram/botapi.py) against the fake Bot API: what
it sends, and its errors typed as the pipeline reads them, the token in none of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.settings import Settings
from bot.telegram.botapi import (
    BadRequestError,
    BotAPI,
    BotAPIError,
    DownloadError,
    ForbiddenError,
    MigratedChatError,
    NetworkError,
    RetryAfterError,
    ServerError,
    _error,
)
from bot.telegram.budget import SenderLimits
from tests.fakes.bot_api import FakeBotAPI

CHAT = 4242
# No waiting between retries: the rules are the sender's, tested with it.
FAST = SenderLimits(backoff_s=0.0, transient_retries=2, max_retry_after_s=0.5)


@pytest.fixture(autouse=True)
def chat(fake_api: FakeBotAPI) -> None:
    fake_api.set_chat({"id": CHAT, "type": "private", "first_name": "Ann"})


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[BotAPI]:
    client = BotAPI(settings.bot, limits=FAST)
    yield client
    await client.close()


async def test_send_and_edit_as_the_worker_posts(client: BotAPI, fake_api: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "Cancel", "callback_data": "a2t:x:1:"}]]}
    message_id = await client.send_message(
        CHAT, "a <b>", reply_to=7, reply_markup=markup, parse_mode=None
    )
    await client.edit_message_text(CHAT, message_id, "<b>done</b>")
    sent = fake_api.calls_of("sendMessage")[-1].params
    assert sent["text"] == "a <b>"
    assert "parse_mode" not in sent
    assert sent["reply_parameters"] == {"message_id": 7, "allow_sending_without_reply": True}
    assert sent["reply_markup"] == markup
    edit = fake_api.calls_of("editMessageText")[-1].params
    assert edit["message_id"] == message_id
    assert edit["parse_mode"] == "HTML"


@pytest.mark.parametrize(
    ("code", "description", "error"),
    [
        (400, "Bad Request: message is not modified", BadRequestError),
        (400, "Bad Request: message to edit not found", BadRequestError),
        (403, "Forbidden: bot was blocked by the user", ForbiddenError),
        (502, "Bad Gateway", ServerError),
        (429, None, RetryAfterError),
    ],
)
async def test_errors_are_typed_from_the_answer(
    client: BotAPI,
    fake_api: FakeBotAPI,
    code: int,
    description: str | None,
    error: type[BotAPIError],
) -> None:
    fake_api.fail_next("editMessageText", error_code=code, description=description, times=5)
    with pytest.raises(error) as raised:
        await client.edit_message_text(CHAT, 1, "text")
    if description is not None:
        assert raised.value.message == description
        assert str(raised.value) == f"Telegram server says - {description}"
    assert fake_api.token not in str(raised.value)


async def test_transient_errors_are_retried(client: BotAPI, fake_api: FakeBotAPI) -> None:
    fake_api.fail_next("sendMessage", error_code=500, times=2)
    assert await client.send_message(CHAT, "hello") > 0
    assert len(fake_api.calls_of("sendMessage")) == 3


async def test_a_network_failure_names_no_url(settings: Settings) -> None:
    dead = settings.bot.model_copy(update={"api_base_url": "http://127.0.0.1:9"})
    client = BotAPI(dead, limits=FAST)
    try:
        with pytest.raises(NetworkError) as raised:
            await client.send_message(CHAT, "x")
    finally:
        await client.close()
    assert type(raised.value).__name__ == "NetworkError"
    assert settings.bot.token is not None
    token = settings.bot.token.get_secret_value()
    assert token not in str(raised.value)
    assert raised.value.__cause__ is None


async def test_file_download(client: BotAPI, fake_api: FakeBotAPI) -> None:
    stored = fake_api.add_file(b"OggS voice", file_path="voice/file_1.oga")
    file = await client.get_file(stored["file_id"])
    assert file.file_path == "voice/file_1.oga"
    assert file.file_size == len(b"OggS voice")
    assert await client.download_file(file.file_path) == b"OggS voice"
    fake_api.fail_next_download(404)
    with pytest.raises(DownloadError) as raised:
        await client.download_file(file.file_path)
    assert raised.value.status == 404
    assert fake_api.token not in str(raised.value)


def test_a_migrated_group_is_not_a_plain_bad_request() -> None:
    """As aiogram's TelegramMigrateToChat: a caller that skips bad requests does not
    skip this one."""
    answer = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001},
    }
    error = _error("sendMessage", 400, answer)
    assert isinstance(error, MigratedChatError)
    assert not isinstance(error, BadRequestError)
