"""Fetch a Telegram file by file_id, refusing anything over the size limit."""

from __future__ import annotations

import io

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.texts import N_
from worker.audio import AudioError


async def fetch_file(bot: Bot, file_id: str, max_bytes: int) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except TelegramBadRequest as exc:
        if "too big" in exc.message:
            raise AudioError("too_large", N_("The file is too large to download.")) from exc
        raise AudioError("unavailable", N_("Telegram no longer has this file.")) from exc
    if file.file_size is not None and file.file_size > max_bytes:
        raise AudioError("too_large", N_("The file is too large to download."))
    if not file.file_path:
        raise AudioError("unavailable", N_("Telegram no longer has this file."))
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, destination=buffer, timeout=120)
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise AudioError("too_large", N_("The file is too large to download."))
    return data
