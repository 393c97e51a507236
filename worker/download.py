"""Fetch a Telegram file by file_id, refusing anything over the size limit.

The file's URL carries the bot token; the client's download errors carry a status and
nothing else (bot/telegram/botapi.py), so neither a log line nor a traceback ever shows
the URL. A 5xx, 408, 429 or a network failure is transient (tried again); any other
refusal means Telegram no longer serves the file.
"""

from __future__ import annotations

from bot.telegram.botapi import BadRequestError, BotAPI, DownloadError
from bot.texts import N_
from worker.audio import AudioError

GONE = N_("Telegram no longer has this file.")
TOO_LARGE = N_("The file is too large to download.")


class DownloadFailedError(Exception):
    """The file server failed for now (5xx, 429, network): try again later."""


async def fetch_file(bot: BotAPI, file_id: str, max_bytes: int) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except BadRequestError as exc:
        if "too big" in exc.message:
            raise AudioError("too_large", TOO_LARGE) from exc
        raise AudioError("unavailable", GONE) from exc
    if file.file_size is not None and file.file_size > max_bytes:
        raise AudioError("too_large", TOO_LARGE)
    if not file.file_path:
        raise AudioError("unavailable", GONE)
    try:
        data = await bot.download_file(file.file_path, timeout_s=120)
    except DownloadError as exc:
        status = exc.status
        if status is None:
            raise DownloadFailedError(f"file download failed: {exc}") from None
        if status >= 500 or status in (408, 429):
            raise DownloadFailedError(f"file download answered HTTP {status}") from None
        raise AudioError("unavailable", GONE) from None
    if len(data) > max_bytes:
        raise AudioError("too_large", TOO_LARGE)
    return data
