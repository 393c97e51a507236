"""What counts as a vote, and what a vote weighs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db.enums import KarmaSanction
from bot.services.karma_rules import (
    VoteDirection,
    escalation_step,
    parse_escalation,
    parse_vote,
    reaction_direction,
    ring_factor,
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
