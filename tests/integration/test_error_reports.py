"""Unexpected errors reach the maintainers' chat: through the real dispatcher and the
fake Bot API, once per error and window, with ids and never the user's text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.error_reports import ErrorEvent, ErrorReporter, install_error_reports
from bot.log import configure_logging, get_logger
from bot.settings import LogSettings, Settings
from tests import factories as f
from tests.fakes import FakeBotAPI

ERRORS_CHAT = -100_999_000_111
SECRET_WORDS = "my-private-words-4711"


@pytest.fixture(autouse=True)
def production_logging() -> None:
    """Logging as `python -m bot` sets it up: structlog lines through the root logger."""
    configure_logging(LogSettings(level="INFO", format="json"))


@pytest.fixture
def settings(make_settings: Any, pg_url: str) -> Settings:
    return make_settings(pg_url, moderation={"errors_chat_id": ERRORS_CHAT, "errors_window_s": 2})


@pytest.fixture
def failing_router(dispatcher: Any) -> Router:
    router = Router(name="boom")

    @router.message(Command("boom"))
    async def cmd_boom(message: Message) -> None:
        raise RuntimeError(f"failed on {message.text}")  # the text must not be reported

    @router.message(Command("bang"))
    async def cmd_bang(message: Message) -> None:
        raise KeyError("bang")

    dispatcher.include_router(router)
    # Ahead of the fallback router, which would answer the commands as unknown.
    dispatcher.sub_routers.insert(0, dispatcher.sub_routers.pop())
    return router


@pytest.fixture
async def reports(settings: Settings, bot: Bot) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Reporting switched on exactly as `python -m bot` does it."""
    stop = install_error_reports(settings.moderation, bot.send_message, "bot")
    assert stop is not None
    yield stop
    await stop()  # idempotent: a test may have stopped it already


def _to_errors_chat(call: Any) -> bool:
    return bool(call.params.get("chat_id") == ERRORS_CHAT)


def _boom(user: dict[str, Any], text: str = f"/boom {SECRET_WORDS}") -> dict[str, Any]:
    return f.message_update(f.message(text, from_user=user, chat=f.private_chat(user)))


@pytest.mark.usefixtures("failing_router", "reports")
async def test_a_crashed_update_is_reported_once_with_ids_only(
    feed: Any, fake_api: FakeBotAPI
) -> None:
    alice = f.user(id=7701, first_name="Alice")
    for _ in range(3):
        await feed(_boom(alice))

    first = await fake_api.wait_for_call("sendMessage", _to_errors_chat)
    text = first.params["text"]
    assert "RuntimeError" in text
    assert "tests/integration/test_error_reports.py" in text
    assert "in cmd_boom" in text
    assert "update failed" in text
    assert "user_id=7701" in text
    assert "chat_id=7701" in text
    assert "update_id=" in text
    assert SECRET_WORDS not in text
    assert fake_api.token not in text
    # The user still got the apology each time.
    apologies = [c for c in fake_api.calls_of("sendMessage") if c.params["chat_id"] == 7701]
    assert len(apologies) == 3

    # The two repeats come as one count when the window closes, not as two posts.
    summary = await fake_api.wait_for_call(
        "sendMessage", lambda c: _to_errors_chat(c) and "more" in c.params["text"], timeout=10
    )
    assert "2 more times" in summary.params["text"]
    assert SECRET_WORDS not in summary.params["text"]
    assert len([c for c in fake_api.calls_of("sendMessage") if _to_errors_chat(c)]) == 2


@pytest.mark.usefixtures("failing_router", "reports")
async def test_different_errors_are_reported_separately(feed: Any, fake_api: FakeBotAPI) -> None:
    bob = f.user(id=7702, first_name="Bob")
    await feed(_boom(bob))
    await feed(_boom(bob, "/bang"))
    posts = await fake_api.wait_for_calls("sendMessage", 2, predicate=_to_errors_chat)
    assert ["RuntimeError" in p.params["text"] for p in posts] == [True, False]
    assert "KeyError" in posts[1].params["text"]


@pytest.mark.usefixtures("failing_router")
async def test_without_an_errors_chat_nothing_is_posted(
    make_settings: Any, pg_url: str, feed: Any, fake_api: FakeBotAPI, bot: Bot
) -> None:
    assert install_error_reports(make_settings(pg_url).moderation, bot.send_message, "bot") is None
    await feed(_boom(f.user(id=7703)))
    await fake_api.wait_for_call("sendMessage")  # the apology
    await asyncio.sleep(0.3)
    assert [c for c in fake_api.calls_of("sendMessage") if _to_errors_chat(c)] == []


async def test_errors_logged_outside_updates_are_reported(
    reports: Callable[[], Awaitable[None]], fake_api: FakeBotAPI
) -> None:
    """A crashed job or sweep logs with a stack too; a warning or a line without an
    exception is not an error report; stopping posts the pending count."""
    log = get_logger("worker.pipeline")
    try:
        raise ZeroDivisionError("job 42 text")
    except ZeroDivisionError:
        log.exception("job crashed", job_id=42)
        log.exception("job crashed", job_id=43)
    log.error("an error without a stack")
    logging.getLogger("some.library").warning("a warning", exc_info=ValueError("x"))

    post = await fake_api.wait_for_call("sendMessage", _to_errors_chat)
    assert "ZeroDivisionError" in post.params["text"]
    assert "job crashed" in post.params["text"]
    assert "job_id=42" in post.params["text"]
    assert "job 42 text" not in post.params["text"]
    await reports()  # shutdown: the repeat is counted in a last post
    posts = [c for c in fake_api.calls_of("sendMessage") if _to_errors_chat(c)]
    assert len(posts) == 2
    assert "1 more time" in posts[1].params["text"]


async def test_a_storm_is_capped_per_window_and_the_drops_are_counted() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    reporter = ErrorReporter(send, process="test", window_s=60, max_per_window=2)
    for n in range(5):
        reporter.report(ErrorEvent(f"Error{n}", f"bot/x.py:{n} in f", "update failed"))
    await asyncio.sleep(0.05)
    assert [t.split("</b>")[0] for t in sent] == ["⚠️ <b>Error0", "⚠️ <b>Error1"]
    reporter.window_started -= 61  # the next window
    reporter.report(ErrorEvent("Error9", "bot/x.py:9 in f", "update failed"))
    await asyncio.sleep(0.05)
    assert "Error9" in sent[2]
    assert "3 more reports were dropped" in sent[2]
    await reporter.aclose()


async def test_a_failing_delivery_is_a_warning_not_a_loop(caplog: Any) -> None:
    async def send(text: str) -> None:
        raise ConnectionError("Bot API down")

    reporter = ErrorReporter(send, process="test", window_s=60, max_per_window=5)
    reporter.report(ErrorEvent("RuntimeError", "bot/x.py:1 in f", "update failed"))
    await asyncio.sleep(0.05)
    await reporter.aclose()
    assert reporter.posted == 1
    assert not reporter.deliveries
