"""CallbackData factories. aiogram validates the packed data on the way in, so forged
or malformed callback data never reaches a handler as valid input."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class A2TAction(StrEnum):
    CANCEL = "x"
    TXT = "t"
    SRT = "s"
    RERUN = "r"


class A2TCallback(CallbackData, prefix="a2t"):
    action: A2TAction
    job_id: int
    language: str = ""


class KarmaAction(StrEnum):
    CANCEL = "x"


class KarmaCallback(CallbackData, prefix="k"):
    action: KarmaAction
    event_id: int


class LanguageCallback(CallbackData, prefix="lang"):
    code: str  # a catalog's language, or "auto": Telegram's
