"""Input of any size or shape gets an answer Telegram accepts: the unknown-command reply
escapes and cuts the command, /members cuts the filter it quotes and explains dates
out of range (no OverflowError)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories as f
from tests.fakes import FakeBotAPI, render_text
from tests.integration.roster.conftest import MODERATOR


async def _reply(feed: Any, fake_api: FakeBotAPI, text: str, user: dict[str, Any]) -> str:
    before = len(fake_api.calls)
    await feed(f.message_update(f.message(text, from_user=user)))
    call = await fake_api.wait_for_call("sendMessage", after=before)
    assert fake_api.rejected_calls(after=before) == [], fake_api.rejected_calls(after=before)
    return render_text(str(call.params["text"]), call.params.get("parse_mode"))


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("/<b>", "/<b>"),
        ("/a&b</i>", "/a&b</i>"),
        ("/" + "x" * 5000, "/" + "x" * 63 + "…"),
    ],
)
async def test_unknown_commands_are_quoted_escaped_and_cut(
    feed: Any, fake_api: FakeBotAPI, command: str, shown: str
) -> None:
    text = await _reply(feed, fake_api, command, f.user())
    assert text == f"I don't know the command {shown}. /help lists what I can do."


@pytest.mark.parametrize(
    "term", ["joined>9999-12-31", "joined<=9999-12-31", "joined<0001-01-01", "joined=0001-01-01"]
)
async def test_dates_at_the_end_of_time_are_explained(
    feed: Any, fake_api: FakeBotAPI, term: str
) -> None:
    text = await _reply(feed, fake_api, f"/members {term}", MODERATOR)
    assert text == f"{term}: use a date from 0001-01-02 to 9999-12-30."


@pytest.mark.parametrize(
    "args",
    [
        "q" * 4000,
        "q=" + "x" * 4000,
        "lang=" + ",".join(["en"] * 1500),
        "lang=" + ",".join(f"{a}{b}" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefgh"),
        "karma>=" + "9" * 4000,
        '"' + "<&>" * 1300,
    ],
)
async def test_a_huge_filter_gets_an_answer_that_quotes_it_cut(
    feed: Any, fake_api: FakeBotAPI, args: str
) -> None:
    text = await _reply(feed, fake_api, f"/members {args}", MODERATOR)
    assert len(text) < 600, text
