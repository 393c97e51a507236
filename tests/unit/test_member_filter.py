"""The /members filter language: every term, its canonical form, and clear refusals."""

from __future__ import annotations

from datetime import date

import pytest

from bot.db.enums import MemberRole, MemberStatus
from bot.domain.member_filter import MemberFilter, parse_member_filter
from bot.errors import UserFacingError


def test_every_term() -> None:
    flt = parse_member_filter(
        "status=active,restricted role=admin lang=RU,en joined>2026-01-01 joined<=2026-03-31 "
        'karma>=5 karma<10.5 q="ann lee"'
    )
    assert flt == MemberFilter(
        statuses=(MemberStatus.ACTIVE, MemberStatus.RESTRICTED),
        roles=(MemberRole.ADMIN,),
        languages=("ru", "en"),
        joined_from=date(2026, 1, 2),
        joined_to=date(2026, 3, 31),
        karma_ge=5,
        karma_lt=10.5,
        query="ann lee",
    )


def test_equal_and_strict_bounds() -> None:
    flt = parse_member_filter("joined=2026-02-03 karma=0")
    assert (flt.joined_from, flt.joined_to) == (date(2026, 2, 3), date(2026, 2, 3))
    assert (flt.karma_ge, flt.karma_le) == (0, 0)
    flt = parse_member_filter("Joined<2026-02-03 KARMA>-1.5 q=@Ann")
    assert flt.joined_to == date(2026, 2, 2)
    assert flt.karma_gt == -1.5
    assert flt.query == "Ann"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "status=left",
        "status=active,banned lang=ru joined>=2026-01-01 joined<=2026-02-01 karma>2 karma<=9",
        'q="it\'s me" role=moderator,member',
        "karma=-3.25",
    ],
)
def test_canonical_round_trip(text: str) -> None:
    flt = parse_member_filter(text)
    assert parse_member_filter(flt.canonical()) == flt


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("status=gone", "use one of active, restricted, left, banned"),
        ("joined>yesterday", "YYYY-MM-DD"),
        ("karma>=lots", "not a number"),
        ("karma>=nan", "not a number"),
        ("colour=red", "Unknown filter colour"),
        ("status>active", "status takes only ="),
        ("lang=ru lang=en", "repeats"),
        ("justtext", "could not read the filter justtext"),
        ('q="unclosed', "could not read"),
        ("joined>2026-05-01 joined<2026-04-01", "cannot match"),
        ("lang=english", "cannot match"),
        ("q=" + "x" * 65, "cannot match"),
        ("status=", "could not read"),
    ],
)
def test_bad_filters_are_refused_clearly(text: str, fragment: str) -> None:
    with pytest.raises(UserFacingError) as caught:
        parse_member_filter(text)
    assert fragment in str(caught.value)
