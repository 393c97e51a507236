"""Karma rules as pure functions: what counts as a vote, what a vote weighs, and the
negative-karma escalation ladder."""

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


def ring_factor(reciprocal_votes: int, damping: float, minimum: float) -> float:
    """damping ** n for n reciprocal votes, never below `minimum`."""
    if reciprocal_votes <= 0:
        return 1.0
    return max(damping**reciprocal_votes, minimum)


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
