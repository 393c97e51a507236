"""Karma rules as pure functions: what counts as a vote, what a vote weighs, when a fall
is sanctioned, and the negative-karma escalation ladder.

The anti-abuse rules, precisely (every count is of live votes: not cancelled; "in the
chat": votes of that chat only; the settings are KARMA__*):

Weight. A vote weighs sqrt(voter's karma) clamped to [WEIGHT_FLOOR, WEIGHT_CAP].

Rings (upvotes). When V upvotes T, n counts the ways karma already flowed from T back to
V within RING_WINDOW_H: each upvote T gave V (a pair, T→V), plus each member X, counted
once, such that T upvoted X and X upvoted V (a chain, T→X→V: three accounts passing
karma round a triangle, which pairs alone do not see). The weight is multiplied by
RING_DAMPING ** n, never below RING_MIN_FACTOR. Chains longer than two hops are not
followed (each hop costs the vote a database lookup; the daily quota bounds the rest).

Downvotes. A voter needs positive karma to downvote at all. A voter with no karma
history in the chat — no upvote received there at least DOWNVOTE_HISTORY_H ago —
downvotes with weight 0: the vote is recorded (moderators see it in /karma_history)
but moves nothing and counts towards no sanction; fresh accounts upvoting each other
cannot mint downvoting power on the spot. Upvotes of such voters keep WEIGHT_FLOOR:
welcoming a newcomer should work at once, and rings, the quota and the cooldown bound
what upvotes can do. One voter's downvotes on one target weigh at most
DOWNVOTE_DAILY_CAP in total per UTC day: a vote is cut to what is left, and refused
once nothing is.

Sanctions. A downvote leads to the next escalation step when it makes both true at
once: the target's karma is at or below RESTRICT_BELOW, and at least SANCTION_MIN_VOTERS
distinct members downvoted the target with weight > 0 within the last
SANCTION_WINDOW_D days. One member, however heavy, cannot sanction anyone alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum

from bot.db.enums import KarmaSanction


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


def reaction_direction(emojis: list[str]) -> int:
    """What a member's reactions on a message vote: +1 for 👍, -1 for 👎, 0 for neither
    or both."""
    up, down = "👍" in emojis, "👎" in emojis
    return int(up) - int(down)


def vote_weight(voter_karma: float, floor: float, cap: float) -> float:
    """clamp(sqrt(max(karma, 0)), floor, cap)."""
    return min(max(math.sqrt(max(voter_karma, 0.0)), floor), cap)


def ring_factor(returns: int, damping: float, minimum: float) -> float:
    """damping ** n for n ways karma flowed back (pairs and chains, see above), never
    below `minimum`."""
    if returns <= 0:
        return 1.0
    return max(damping**returns, minimum)


# Float sums of weights: a hair of tolerance, so 5 downvotes of 1.0 fill a cap of 5.0.
EPSILON = 1e-9


def downvote_weight(weight: float, has_history: bool, used_today: float, cap: float) -> float:
    """A downvote's weight: 0 without karma history, else cut to what the daily cap on
    this voter's downvotes of this target leaves (0 when nothing is left)."""
    if not has_history:
        return 0.0
    left = cap - used_today
    return max(min(weight, left), 0.0) if left > EPSILON else 0.0


def sanction_due(
    total: float,
    delta: float,
    limit: float,
    voters: int,
    voters_before: int,
    min_voters: int,
) -> bool:
    """True when this vote (`delta`, leaving the target at `total`) makes "karma at or
    below `limit`, and downvoted by at least `min_voters` distinct members" true, and it
    was not before it (`voters_before`: the distinct downvoters without this vote)."""
    if delta >= 0 or total > limit or voters < min_voters:
        return False
    was_due = total - delta <= limit and voters_before >= min_voters
    return not was_due


@dataclass(frozen=True, slots=True)
class EscalationStep:
    kind: KarmaSanction
    duration: timedelta | None  # read-only for this long; None for a ban (until lifted)


_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_STEP = re.compile(r"(?P<n>\d+)(?P<unit>[mhd])|(?P<ban>ban)")
# Telegram treats a restriction shorter than 30 s or longer than 366 days as forever.
_SHORTEST, _LONGEST = timedelta(minutes=1), timedelta(days=366)


def parse_escalation(spec: str) -> tuple[EscalationStep, ...]:
    """KARMA__ESCALATION: comma-separated steps, each read-only for `<n>m|h|d` or `ban`,
    e.g. "7d,30d,ban". A ban, if any, is the last step."""
    steps: list[EscalationStep] = []
    for raw in spec.split(","):
        token = raw.strip().lower()
        match = _STEP.fullmatch(token)
        if match is None:
            raise ValueError(f"{raw.strip()!r} is not a step: use e.g. 12h, 7d or ban")
        if steps and steps[-1].kind is KarmaSanction.BAN:
            raise ValueError("ban must be the last step")
        if match["ban"]:
            steps.append(EscalationStep(KarmaSanction.BAN, None))
            continue
        duration = int(match["n"]) * _UNITS[match["unit"]]
        if not _SHORTEST <= duration <= _LONGEST:
            raise ValueError(f"{token}: a read-only step lasts from 1m to 366d")
        steps.append(EscalationStep(KarmaSanction.READ_ONLY, duration))
    return tuple(steps)


def escalation_step(ladder: tuple[EscalationStep, ...], earlier: int) -> tuple[int, EscalationStep]:
    """The step for a member with `earlier` counted sanctions: the next one on the
    ladder, and the last one again once the ladder is climbed."""
    index = min(earlier, len(ladder) - 1)
    return index, ladder[index]
