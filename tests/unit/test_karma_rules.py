"""What counts as a vote, and what a vote weighs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db.enums import KarmaSanction
from bot.domain.karma_rules import (
    VoteDirection,
    downvote_weight,
    escalation_step,
    parse_escalation,
    parse_vote,
    reaction_direction,
    ring_factor,
    sanction_due,
    vote_weight,
)

UP, DOWN = VoteDirection.UP, VoteDirection.DOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+", UP),
        ("+1", UP),
        ("+1!", UP),
        ("  + nice", UP),
        ("thanks", UP),
        ("Thanks a lot", UP),
        ("THANK YOU", UP),
        ("thank  you!", UP),
        ("thx", UP),
        ("ty", UP),
        ("ty, mate", UP),
        ("Спасибо", UP),
        ("спасибо большое", UP),
        ("спс", UP),
        ("Благодарю!", UP),
        ("пасиб", UP),
        ("👍", UP),
        ("👍🏽", UP),
        ("-", DOWN),
        ("-1", DOWN),
        ("- no", DOWN),
        ("👎", DOWN),
        ("no thanks", None),
        ("hello +1", None),
        ("+5", None),
        ("+10", None),
        ("-100", None),
        ("--", None),
        ("+-", None),
        ("thanksgiving", None),
        ("tyre", None),
        ("thank", None),
        ("спасибочки", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_vote(text: str | None, expected: VoteDirection | None) -> None:
    assert parse_vote(text) == expected


@pytest.mark.parametrize(
    ("karma", "weight"),
    [(-10.0, 1.0), (0.0, 1.0), (1.0, 1.0), (2.25, 1.5), (16.0, 4.0), (25.0, 5.0), (1e6, 5.0)],
)
def test_vote_weight_is_sqrt_clamped(karma: float, weight: float) -> None:
    assert vote_weight(karma, 1.0, 5.0) == pytest.approx(weight)


def test_vote_weight_uses_the_configured_bounds() -> None:
    assert vote_weight(0.0, 0.5, 2.0) == 0.5
    assert vote_weight(100.0, 0.5, 2.0) == 2.0


@pytest.mark.parametrize(
    ("n", "factor"), [(0, 1.0), (1, 0.5), (2, 0.25), (3, 0.125), (4, 0.1), (50, 0.1)]
)
def test_ring_factor_compounds_down_to_the_minimum(n: int, factor: float) -> None:
    assert ring_factor(n, 0.5, 0.1) == pytest.approx(factor)


@pytest.mark.parametrize(
    ("emojis", "direction"),
    [([], 0), (["👍"], 1), (["👎"], -1), (["👍", "👎"], 0), (["🔥", "👍"], 1), (["❤"], 0)],
)
def test_reaction_direction(emojis: list[str], direction: int) -> None:
    assert reaction_direction(emojis) == direction


def test_parse_escalation_and_its_steps() -> None:
    ladder = parse_escalation(" 30m, 12H ,7d,ban")
    assert [(s.kind, s.duration) for s in ladder] == [
        (KarmaSanction.READ_ONLY, timedelta(minutes=30)),
        (KarmaSanction.READ_ONLY, timedelta(hours=12)),
        (KarmaSanction.READ_ONLY, timedelta(days=7)),
        (KarmaSanction.BAN, None),
    ]
    assert [escalation_step(ladder, n)[0] for n in range(6)] == [0, 1, 2, 3, 3, 3]


@pytest.mark.parametrize(
    ("has_history", "used", "weight"),
    [
        (False, 0.0, 0.0),  # no karma history: weight 0
        (True, 0.0, 2.0),
        (True, 4.0, 1.0),  # cut to what the cap leaves
        (True, 5.0, 0.0),  # nothing left
        (True, 5.0 - 1e-12, 0.0),  # float sums: a hair below the cap is the cap
    ],
)
def test_downvote_weight(has_history: bool, used: float, weight: float) -> None:
    assert downvote_weight(2.0, has_history, used, 5.0) == pytest.approx(weight)


@pytest.mark.parametrize(
    ("total", "delta", "voters", "before", "due"),
    [
        (-21.0, -2.0, 3, 2, True),  # the third voter: both hold now, not before
        (-21.0, -2.0, 3, 3, True),  # a voter again: the total crossed just now
        (-23.0, -2.0, 4, 3, False),  # both held before already
        (-21.0, -2.0, 2, 2, False),  # too few voters
        (-19.0, -2.0, 5, 4, False),  # above the limit
        (-21.0, 2.0, 3, 2, False),  # an upvote never sanctions
        (-20.0, -1.0, 1, 0, False),  # exactly at the limit with one voter (of 3)
    ],
)
def test_sanction_due(total: float, delta: float, voters: int, before: int, due: bool) -> None:
    assert sanction_due(total, delta, -20.0, voters, before, 3) is due


def test_with_one_voter_the_rule_is_crossing_the_limit() -> None:
    assert sanction_due(-21.0, -2.0, -20.0, 1, 1, 1) is True
    assert sanction_due(-25.0, -2.0, -20.0, 1, 1, 1) is False  # already below
