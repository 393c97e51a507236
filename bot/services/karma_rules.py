"""Karma rules as pure functions: what counts as a vote, and what a vote weighs."""

from __future__ import annotations

import math
import re
from enum import IntEnum


class VoteDirection(IntEnum):
    UP = 1
    DOWN = -1


_UP_WORDS = ("thank you", "thanks", "thx", "ty", "спасибо", "спс", "благодарю", "пасибо", "пасиб")
# A trigger counts only at the very start and only as a whole token: "thanks a lot" and
# "+1!" vote, "no thanks", "+5", "--" and "tyre" do not.
_TRIGGER = re.compile(
    r"\s*(?:(?P<up>\+1?|👍|"
    + "|".join(w.replace(" ", r"\s+") for w in _UP_WORDS)
    + r")|(?P<down>-1?|👎))(?![\w+\-])",
    re.IGNORECASE,
)


def parse_vote(text: str | None) -> VoteDirection | None:
    """The direction a reply's text votes in, or None when it is not a vote."""
    if not text:
        return None
    match = _TRIGGER.match(text)
    if match is None:
        return None
    return VoteDirection.UP if match.group("up") else VoteDirection.DOWN


def vote_weight(voter_karma: float, floor: float, cap: float) -> float:
    """clamp(sqrt(max(karma, 0)), floor, cap)."""
    return min(max(math.sqrt(max(voter_karma, 0.0)), floor), cap)


def ring_factor(reciprocal_votes: int, damping: float, minimum: float) -> float:
    """damping ** n for n reciprocal votes, never below `minimum`."""
    if reciprocal_votes <= 0:
        return 1.0
    return max(damping**reciprocal_votes, minimum)
