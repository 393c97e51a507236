"""A small Bot API client without aiogram: the few methods a transcription worker calls
(sendMessage, editMessageText, getFile and the file download), JSON in and plain dicts
out. aiogram builds pydantic validators for all of its ~300 types at import, about half
of a worker's memory before its model (docs/PERFORMANCE.md); the worker needs none of it.

Every call goes through the same rules and budget as the aiogram Bot's
(bot/telegram/budget.py). Errors are typed as the callers need them, from the Bot API's
answer: 400 (a bad request: "message is not modified", "message to edit not found"),
403 (the bot was blocked or removed), 429 (retry_after), 5xx and the network
(transient). The token is in every URL: no error text or log line carries a URL, and
the network's errors are raised `from None` (their text and traceback would).
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from redis.asyncio import Redis

from bot.settings import BotSettings
from bot.telegram.budget import (
    Failure,
    SendBudget,
    SenderLimits,
    make_budget,
    send_under_budget,
)

JSON = dict[str, Any]
# A keyboard as the Bot API takes it: {"inline_keyboard": [[{"text", "callback_data"}]]}.
Markup = JSON
_HEADERS = {"Content-Type": "application/json"}
# As the aiogram Bot is built (bot/telegram/dispatcher.py): HTML, no link previews,
# unless a call says otherwise.
DEFAULT_PARSE_MODE = "HTML"


class BotAPIError(Exception):
    """The Bot API refused a call (`description` is its reason, as Telegram wrote it)."""

    def __init__(self, method: str, description: str, status: int = 0) -> None:
        super().__init__(description)
        self.method = method
        self.message = description
        self.status = status

    def __str__(self) -> str:
        # As aiogram words it: the text is stored and logged the same as before.
        return f"Telegram server says - {self.message}"


class BadRequestError(BotAPIError):
    """400: "message is not modified", "message to edit not found", "file is too big"."""


class ForbiddenError(BotAPIError):
    """403: the bot was blocked by the user, or removed from the chat."""


class RetryAfterError(BotAPIError):
    """429: flood control; the call may be repeated after `retry_after` seconds."""

    def __init__(self, method: str, description: str, retry_after: float) -> None:
        super().__init__(method, description, 429)
        self.retry_after = retry_after


class MigratedChatError(BotAPIError):
    """The group became a supergroup (`migrate_to_chat_id`): not a plain bad request,
    as aiogram's TelegramMigrateToChat is not one either."""


class ServerError(BotAPIError):
    """5xx: Telegram failed for now."""


class NetworkError(BotAPIError):
    """The call did not get an answer (connection, timeout). Its text names the error's
    type only: aiohttp's own text carries the URL, and so the token."""


class DownloadError(Exception):
    """The file server refused (`status`) or did not answer (None). No URL in it."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _classify(exc: Exception) -> Failure | None:
    if isinstance(exc, RetryAfterError):
        return Failure(retry_after=exc.retry_after)
    if isinstance(exc, (ServerError, NetworkError)):
        return Failure(transient=True)
    return None


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    file_size: int | None
    file_path: str | None


class BotAPI:
    """One process's client: one aiohttp session, opened on the first call."""

    def __init__(
        self,
        settings: BotSettings,
        *,
        limits: SenderLimits | None = None,
        budget: SendBudget | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        if settings.token is None:
            raise ValueError("BOT__TOKEN is not set")
        self._token = settings.token.get_secret_value()
        self._base = settings.api_base_url.rstrip("/")
        self._is_local = settings.api_is_local
        self.limits = limits or SenderLimits()
        self.budget = budget or make_budget(self.limits, None)
        self.timeout_s = timeout_s
        self._session: ClientSession | None = None

    def __repr__(self) -> str:  # never the token
        return f"BotAPI({self._base})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession()
        return self._session

    async def call(self, method: str, chat_id: int | str | None = None, **params: Any) -> Any:
        """One Bot API method under the send budget; `None` parameters are left out."""
        payload = {key: value for key, value in params.items() if value is not None}
        if chat_id is not None:
            payload["chat_id"] = chat_id
        return await send_under_budget(
            lambda: self._post(method, payload),
            method=method,
            chat_id=chat_id,
            limits=self.limits,
            budget=self.budget,
            classify=_classify,
        )

    async def _post(self, method: str, payload: JSON) -> Any:
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            async with self._http().post(
                url,
                data=json.dumps(payload),
                headers=_HEADERS,
                timeout=ClientTimeout(total=self.timeout_s),
            ) as response:
                status, body = response.status, await response.text()
        except TimeoutError:
            raise NetworkError(method, "Request timeout error") from None
        except ClientError as exc:
            raise NetworkError(method, type(exc).__name__) from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise ServerError(method, f"not JSON (HTTP {status})", status) from None
        if 200 <= status <= 226 and answer.get("ok"):
            return answer.get("result")
        raise _error(method, status, answer)

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        reply_to: int | None = None,
        reply_markup: Markup | None = None,
        parse_mode: str | None = DEFAULT_PARSE_MODE,
    ) -> int:
        """Send a message; its id. `reply_to`: a reply that is sent even when that
        message is gone."""
        reply = (
            {"message_id": reply_to, "allow_sending_without_reply": True}
            if reply_to is not None
            else None
        )
        message = await self.call(
            "sendMessage",
            chat_id,
            text=text,
            parse_mode=parse_mode,
            link_preview_options={"is_disabled": True},
            reply_parameters=reply,
            reply_markup=reply_markup,
        )
        return int(message["message_id"])

    async def edit_message_text(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        *,
        reply_markup: Markup | None = None,
        parse_mode: str | None = DEFAULT_PARSE_MODE,
    ) -> None:
        await self.call(
            "editMessageText",
            chat_id,
            message_id=message_id,
            text=text,
            parse_mode=parse_mode,
            link_preview_options={"is_disabled": True},
            reply_markup=reply_markup,
        )

    async def get_file(self, file_id: str) -> FileInfo:
        file = await self.call("getFile", file_id=file_id)
        return FileInfo(file["file_id"], file.get("file_size"), file.get("file_path"))

    async def download_file(self, file_path: str, timeout_s: float = 120.0) -> bytes:
        """The file's bytes; a self-hosted server started with --local gives a path on
        this host instead, read from disk."""
        if self._is_local:
            try:
                return await asyncio.to_thread(Path(file_path).read_bytes)
            except OSError as exc:
                raise DownloadError(None, type(exc).__name__) from None
        url = f"{self._base}/file/bot{self._token}/{file_path}"
        buffer = io.BytesIO()
        try:
            async with self._http().get(url, timeout=ClientTimeout(total=timeout_s)) as response:
                if response.status >= 400:
                    raise DownloadError(response.status, f"HTTP {response.status}")
                async for chunk in response.content.iter_chunked(65536):
                    buffer.write(chunk)
        except TimeoutError:
            raise DownloadError(None, "TimeoutError") from None
        except ClientError as exc:
            raise DownloadError(None, type(exc).__name__) from None
        return buffer.getvalue()


def create_client(settings: BotSettings, redis: Redis | None) -> BotAPI:
    """The worker's client: under the deployment's one send budget in `redis` when given
    (REDIS__URL), shared with the bot replicas and the other workers; else this
    process's own."""
    limits = SenderLimits()
    return BotAPI(settings, limits=limits, budget=make_budget(limits, redis))


def _error(method: str, status: int, answer: JSON) -> BotAPIError:
    description = str(answer.get("description") or f"HTTP {status}")
    parameters = answer.get("parameters") or {}
    if parameters.get("retry_after"):
        return RetryAfterError(method, description, float(parameters["retry_after"]))
    if parameters.get("migrate_to_chat_id"):
        return MigratedChatError(method, description, status)
    if status == 400:
        return BadRequestError(method, description, status)
    if status == 403:
        return ForbiddenError(method, description, status)
    if status >= 500:
        return ServerError(method, description, status)
    return BotAPIError(method, description, status)
