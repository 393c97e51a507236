"""How the dispatcher is assembled, checked without running it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiogram import F, Router, filters
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.types import Message, User

from bot.services import AppDeps
from bot.settings import Settings
from bot.telegram.dispatcher import create_dispatcher
from bot.telegram.filters import Command, CommandStart, When
from tests import factories as f


def _callables(router: Router) -> Iterator[tuple[str, CallableObject]]:
    for event, observer in router.observers.items():
        for flt in observer._handler.filters or []:
            yield f"{router.name}.{event} router filter {flt.callback!r}", flt
        for handler in observer.handlers:
            yield f"{router.name}.{event} handler {handler.callback!r}", handler
            for flt in handler.filters or []:
                yield f"{router.name}.{event} filter of {handler.callback!r}: {flt.callback!r}", flt
    for sub in router.sub_routers:
        yield from _callables(sub)


def _dispatcher_callables() -> list[tuple[str, CallableObject]]:
    settings = Settings(_env_file=None, bot={"token": "1:x"})  # type: ignore[call-arg]
    dispatcher = create_dispatcher(AppDeps(settings), None)  # type: ignore[arg-type]
    return list(_callables(dispatcher))


def test_every_filter_and_handler_runs_in_the_event_loop() -> None:
    # aiogram runs a synchronous filter or handler (a bare F.… too) through
    # asyncio.to_thread: a thread hop per check of every update. Wrap F.… in When().
    callables = _dispatcher_callables()
    synchronous = [where for where, c in callables if not c.awaitable]
    assert synchronous == []
    assert len(callables) > 50  # the walk did reach the routers


def test_every_command_filter_refuses_non_commands_before_parsing() -> None:
    commands = [
        (where, c.callback)
        for where, c in _dispatcher_callables()
        if isinstance(c.callback, filters.Command)
    ]
    assert len(commands) > 15
    assert [where for where, flt in commands if not isinstance(flt, Command)] == []


class _Bot:
    """What a command filter asks of the Bot: who it is (for /cmd@mention)."""

    async def me(self) -> User:
        return User(id=1, is_bot=True, first_name="Test", username="TestBot")


TEXTS = [
    "/top",
    "/top week",
    "/top@TestBot",
    "/top@testbot month",
    "/top@OtherBot",
    "/TOP",
    " /top",
    "\n/top",
    "/topx",
    "/",
    "+",
    "+1",
    "thanks",
    "",
    "!top",
    "top",
    "/start",
    "/start apply",
    "/start@TestBot apply",
    " ",
    "👍 /top",
]
FILTERS: list[tuple[Any, Any]] = [
    (Command("top"), filters.Command("top")),
    (Command("top", prefix="/!"), filters.Command("top", prefix="/!")),
    (Command("top", ignore_case=True), filters.Command("top", ignore_case=True)),
    (Command(re.compile(r"to.")), filters.Command(re.compile(r"to."))),
    (Command("top", magic=F.args == "week"), filters.Command("top", magic=F.args == "week")),
    (CommandStart(), filters.CommandStart()),
    (
        CommandStart(deep_link=True, magic=F.args == "apply"),
        filters.CommandStart(deep_link=True, magic=F.args == "apply"),
    ),
]


@pytest.mark.parametrize(("ours", "aiograms"), FILTERS, ids=lambda flt: str(flt)[:40])
@pytest.mark.parametrize("where", ["text", "caption"])
async def test_command_filters_answer_as_aiograms_own(ours: Any, aiograms: Any, where: str) -> None:
    bot = _Bot()
    for text in TEXTS:
        message = Message.model_validate({**f.message(chat=f.group_chat()), where: text})
        assert _plain(await ours(message, bot)) == _plain(await aiograms(message, bot)), text


def _plain(result: Any) -> Any:
    """A filter's answer with the regex match (equal only to itself) as the matched text."""
    if not isinstance(result, dict):
        return result
    command = result["command"]
    match = command.regexp_match
    return {
        **result,
        "command": (
            command.prefix,
            command.command,
            command.mention,
            command.args,
            match and match.group(0),
            command.magic_result,
        ),
    }


async def test_when_gives_the_magic_filters_result() -> None:
    message = Message.model_validate(f.message("hi", chat=f.group_chat()))
    assert await When(F.text == "hi")(message) is True
    assert not await When(F.text.startswith("/"))(message)
    assert await When(F.text.as_("said"))(message) == {"said": "hi"}
    assert not await When(F.voice)(message)
