"""CallbackData factories. aiogram validates the packed data on the way in, so forged
or malformed callback data never reaches a handler as valid input: every number is
bounded too (a database id is a positive int64; PostgreSQL refuses anything larger
with an error, not a miss), and data that does not validate is "not valid"."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.telegram.a2t_views import A2TAction as A2TAction
from bot.telegram.applications.card import ModAction as ModAction
from bot.telegram.filters import When

# A row id (a BIGINT primary key) or a Telegram user id.
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
# A small index into a configured list (questions, reasons), or a marker below 0.
Index = Annotated[int, Field(ge=-2, le=10_000)]


def malformed(*factories: type[CallbackData]) -> When:
    """Data with one of these factories' prefix that does not parse: forged, or from an
    older version of the bot. Register it after the factories' own filters."""
    return When(F.data.startswith(tuple(f"{f.__prefix__}{f.__separator__}" for f in factories)))


class A2TCallback(CallbackData, prefix="a2t"):
    action: A2TAction
    job_id: DbId
    language: str = ""


class KarmaAction(StrEnum):
    CANCEL = "x"


class KarmaCallback(CallbackData, prefix="k"):
    action: KarmaAction
    event_id: DbId


class LanguageCallback(CallbackData, prefix="lang"):
    code: str  # a catalog's language, or "auto": Telegram's


class ApplyAction(StrEnum):
    SUBMIT = "s"
    EDIT = "e"  # list the questions to redo one
    REDO = "r"  # answer question `position` again
    BACK = "b"  # back to the summary
    CANCEL = "x"


class ApplyCallback(CallbackData, prefix="ap"):
    """The applicant's buttons under the questionnaire's summary."""

    action: ApplyAction
    app_id: DbId
    position: Index = 0


class ModCallback(CallbackData, prefix="am"):
    """Moderators' buttons on an application card."""

    action: ModAction
    app_id: DbId
    reason: Index = -1
    share: bool = False
