"""How the dispatcher is assembled, checked without running it."""

from __future__ import annotations

from collections.abc import Iterator

from aiogram import F, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.types import Message

from bot.services import AppDeps
from bot.settings import Settings
from bot.telegram.dispatcher import create_dispatcher
from bot.telegram.filters import When
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


def test_every_filter_and_handler_runs_in_the_event_loop() -> None:
    # aiogram runs a synchronous filter or handler (a bare F.… too) through
    # asyncio.to_thread: a thread hop per check of every update. Wrap F.… in When().
    settings = Settings(_env_file=None, bot={"token": "1:x"})  # type: ignore[call-arg]
    dispatcher = create_dispatcher(AppDeps(settings), None)  # type: ignore[arg-type]
    synchronous = [where for where, c in _callables(dispatcher) if not c.awaitable]
    assert synchronous == []
    assert sum(1 for _ in _callables(dispatcher)) > 50  # the walk did reach the routers


async def test_when_gives_the_magic_filters_result() -> None:
    message = Message.model_validate(f.message("hi", chat=f.group_chat()))
    assert await When(F.text == "hi")(message) is True
    assert not await When(F.text.startswith("/"))(message)
    assert await When(F.text.as_("said"))(message) == {"said": "hi"}
    assert not await When(F.voice)(message)
