"""Fetch a Telegram file by file_id, refusing anything over the size limit.

The file's URL carries the bot token (`/file/bot<token>/<path>`), and aiohttp puts the
URL into its errors' text. So download errors are translated here into errors that
carry a status and nothing else, raised `from None`: neither a log line nor a
traceback ever shows the URL. A 5xx, 429 or a network failure is transient (tried
again); any other refusal means Telegram no longer serves the file.
"""

from __future__ import annotations

import io

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiohttp import ClientError, ClientResponseError

from bot.texts import N_
from worker.audio import AudioError

GONE = N_("Telegram no longer has this file.")
TOO_LARGE = N_("The file is too large to download.")


class DownloadFailedError(Exception):
    """The file server failed for now (5xx, 429, network): try again later."""


async def fetch_file(bot: Bot, file_id: str, max_bytes: int) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except TelegramBadRequest as exc:
        if "too big" in exc.message:
            raise AudioError("too_large", TOO_LARGE) from exc
        raise AudioError("unavailable", GONE) from exc
    if file.file_size is not None and file.file_size > max_bytes:
        raise AudioError("too_large", TOO_LARGE)
    if not file.file_path:
        raise AudioError("unavailable", GONE)
    buffer = io.BytesIO()
    try:
        await bot.download_file(file.file_path, destination=buffer, timeout=120)
    except ClientResponseError as exc:
        status = exc.status
        if status >= 500 or status in (408, 429):
            raise DownloadFailedError(f"file download answered HTTP {status}") from None
        raise AudioError("unavailable", GONE) from None
    except (ClientError, TimeoutError) as exc:
        raise DownloadFailedError(f"file download failed: {type(exc).__name__}") from None
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise AudioError("too_large", TOO_LARGE)
    return data
