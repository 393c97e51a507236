"""CallbackData factories of the roster features (/members pages, /forgetme).

A /members page button carries the keyset cursor and an HMAC over (chat, filter shown
on the page, direction, cursor), keyed by the bot token: forged or altered data, or a
button moved to another chat, is refused without touching the database.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.telegram.callbacks import DbId


class PageDirection(StrEnum):
    NEXT = "n"
    PREV = "p"


class MembersPageCallback(CallbackData, prefix="mp"):
    # Packed by position: the field names cost no bytes of the 64 Telegram allows.
    direction: PageDirection
    # The edge row's created_at, microseconds since the epoch (up to the year 9999).
    created_us: Annotated[int, Field(ge=0, le=253_402_300_799_999_999)]
    user_id: DbId  # the edge row's user id
    signature: str


class ForgetAction(StrEnum):
    CONFIRM = "y"
    CANCEL = "n"


class ForgetCallback(CallbackData, prefix="fm"):
    action: ForgetAction
    user_id: DbId  # whose data: only they may press


def page_signature(secret: str, chat_id: int, query: str, d: str, c: int, u: int) -> str:
    key = hashlib.sha256(f"members-page:{secret}".encode()).digest()
    message = f"{chat_id}\x1f{query}\x1f{d}\x1f{c}\x1f{u}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]
