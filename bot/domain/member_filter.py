"""The /members filter language, parsed into a validated `MemberFilter`.

    status=active,restricted  role=admin  lang=ru  joined>2026-01-01  joined<=2026-03-31
    karma>=5  karma<10  q=ann  q="ann lee"

Terms are separated by spaces (quote a value that has spaces); every key may appear once,
`joined` and `karma` once per direction. Dates are UTC days: `joined>2026-01-01` means
from 2026-01-02 00:00 on. `lang` is the language the member reads (their /language choice,
else Telegram's language_code), matched on the primary subtag. `q` searches first name,
last name and username, case-insensitively: a term of 3 characters or more anywhere in
them, a shorter one at the start of one of them (`q=an` finds Anna, not Dana). Members
with no karma count as 0.

`MemberFilter.canonical()` writes the filter back in this language (shown on every page,
and read back from it when a page button is pressed), so parse(canonical()) == filter.
"""

from __future__ import annotations

import re
import shlex
from datetime import date, timedelta
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.db.enums import MemberRole, MemberStatus
from bot.errors import UserFacingError
from bot.texts import N_

_TERM = re.compile(r"^(?P<key>[A-Za-z_]+)(?P<op>>=|<=|=|>|<)(?P<value>.*)$", re.DOTALL)
_LANG = re.compile(r"^[a-z]{2,3}$")
MAX_QUERY_CHARS = 64
MAX_LANGUAGES = 10
# Errors quote the offending term, cut to this (the input may be thousands of characters).
SHOWN_TERM_CHARS = 64
# The filter's days must have a day before and after them (joined>DAY, joined<DAY).
FIRST_DAY, LAST_DAY = date.min + timedelta(days=1), date.max - timedelta(days=1)
E = TypeVar("E", bound=StrEnum)


class MemberFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    statuses: tuple[MemberStatus, ...] = ()
    roles: tuple[MemberRole, ...] = ()
    languages: tuple[str, ...] = ()
    joined_from: date | None = None  # inclusive UTC day
    joined_to: date | None = None  # inclusive UTC day
    karma_ge: float | None = None
    karma_gt: float | None = None
    karma_le: float | None = None
    karma_lt: float | None = None
    query: str | None = Field(default=None, min_length=1, max_length=MAX_QUERY_CHARS)

    @model_validator(mode="after")
    def _consistent(self) -> MemberFilter:
        if self.joined_from and self.joined_to and self.joined_from > self.joined_to:
            raise ValueError("joined range is empty")
        if any(_LANG.match(code) is None for code in self.languages):
            raise ValueError("language codes are two or three letters")
        if len(self.languages) > MAX_LANGUAGES:
            raise ValueError(f"at most {MAX_LANGUAGES} languages")
        if self.query and any(ord(ch) < 32 for ch in self.query):
            raise ValueError("the search is one line of text")
        return self

    @property
    def is_empty(self) -> bool:
        return self == MemberFilter()

    def canonical(self) -> str:
        """The filter in the /members language, terms in a fixed order."""
        terms: list[str] = []
        if self.statuses:
            terms.append("status=" + ",".join(s.value for s in self.statuses))
        if self.roles:
            terms.append("role=" + ",".join(r.value for r in self.roles))
        if self.languages:
            terms.append("lang=" + ",".join(self.languages))
        if self.joined_from:
            terms.append(f"joined>={self.joined_from.isoformat()}")
        if self.joined_to:
            terms.append(f"joined<={self.joined_to.isoformat()}")
        for op, value in (
            (">=", self.karma_ge),
            (">", self.karma_gt),
            ("<=", self.karma_le),
            ("<", self.karma_lt),
        ):
            if value is not None:
                terms.append(f"karma{op}{_number(value)}")
        if self.query:
            terms.append("q=" + shlex.quote(self.query))
        return " ".join(terms)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


BAD_SYNTAX = N_(
    "I could not read the filter {term}. Write terms like: status=active lang=ru "
    "joined>2026-01-01 karma>=5 q=ann"
)
BAD_CHOICE = N_("{term}: use one of {allowed}.")
BAD_DATE = N_("{term}: write the date as YYYY-MM-DD.")
DATE_RANGE = N_("{term}: use a date from 0001-01-02 to 9999-12-30.")
BAD_NUMBER = N_("{term}: that is not a number.")
BAD_FILTER = N_(
    "The filter {term} cannot match: check that ranges are not empty, language codes have "
    "2-3 letters (at most 10 of them) and the search has at most 64 characters."
)
UNKNOWN_KEY = N_("Unknown filter {key}. Use status, role, lang, joined, karma or q.")
REPEATED = N_("The filter {term} repeats an earlier one.")
BAD_OPERATOR = N_("{key} takes only = (as in {key}=...).")


def _shown(term: str) -> str:
    """A term as an error quotes it: cut, the input may be long."""
    return term if len(term) <= SHOWN_TERM_CHARS else term[: SHOWN_TERM_CHARS - 1] + "…"


def parse_member_filter(text: str | None) -> MemberFilter:
    """Parse the arguments of /members; raises UserFacingError on anything unclear."""
    try:
        terms = shlex.split(text or "")
    except ValueError:
        raise UserFacingError(BAD_SYNTAX, term=_shown(text or "")) from None
    values: dict[str, object] = {}

    def put(name: str, value: object, term: str) -> None:
        if name in values:
            raise UserFacingError(REPEATED, term=_shown(term))
        values[name] = value

    for term in terms:
        match = _TERM.match(term)
        if match is None:
            raise UserFacingError(BAD_SYNTAX, term=_shown(term))
        key, op, raw = match["key"].lower(), match["op"], match["value"].strip()
        if not raw:
            raise UserFacingError(BAD_SYNTAX, term=_shown(term))
        if key in ("status", "role", "lang", "q") and op != "=":
            raise UserFacingError(BAD_OPERATOR, key=_shown(key))
        if key == "status":
            put("statuses", _enum_list(MemberStatus, raw, term), term)
        elif key == "role":
            put("roles", _enum_list(MemberRole, raw, term), term)
        elif key == "lang":
            put("languages", tuple(dict.fromkeys(raw.lower().split(","))), term)
        elif key == "q":
            put("query", raw.lstrip("@") or raw, term)
        elif key == "joined":
            day = _date(raw, term)
            if op in (">", ">=", "="):
                put("joined_from", day + timedelta(days=1) if op == ">" else day, term)
            if op in ("<", "<=", "="):
                put("joined_to", day - timedelta(days=1) if op == "<" else day, term)
        elif key == "karma":
            number = _float(raw, term)
            names: dict[str, tuple[str, ...]] = {
                ">=": ("karma_ge",),
                ">": ("karma_gt",),
                "<=": ("karma_le",),
            }
            names |= {"<": ("karma_lt",), "=": ("karma_ge", "karma_le")}
            for name in names[op]:
                put(name, number, term)
        else:
            raise UserFacingError(UNKNOWN_KEY, key=_shown(key))
    try:
        return MemberFilter.model_validate(values)
    except ValidationError:
        raise UserFacingError(BAD_FILTER, term=_shown(text or "")) from None


def _enum_list(enum: type[E], raw: str, term: str) -> tuple[E, ...]:
    try:
        return tuple(dict.fromkeys(enum(part.strip().lower()) for part in raw.split(",")))
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise UserFacingError(BAD_CHOICE, term=_shown(term), allowed=allowed) from None


def _date(raw: str, term: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise UserFacingError(BAD_DATE, term=_shown(term)) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # a day either side must exist: joined>9999-12-31
        raise UserFacingError(DATE_RANGE, term=_shown(term))
    return day


def _float(raw: str, term: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise UserFacingError(BAD_NUMBER, term=_shown(term))
    return number
