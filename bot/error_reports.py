"""Unexpected errors, summarised to the maintainers' chat (MODERATION__ERRORS_CHAT_ID).

What counts as unexpected is what the code already logs at ERROR with a stack: the
dispatcher's catch-all ("update failed"), a crashed job, a sweep round that raised.
So the reporter is a logging handler, not a call at each of those places: a new
catch-all anywhere is covered the day it is written, and the error paths stay as
they are.

A post names the error's type, the innermost line of our code it came from, the log
event and the ids bound to the line (update, chat, user, job) — never the exception's
message, the update's text or any secret: a message can quote user input, and the
chat is not the place for it. The details are in the logs, found by those ids.

Storms stay small: the same error (type and place) is posted once per window, and
once more when the window closes if it recurred, with the count; a process posts at
most `max_per_window` times per window and counts what it dropped. Each process
de-duplicates on its own: N replicas hitting the same bug post up to N times a window.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from bot import metrics
from bot.log import get_logger
from bot.settings import ModerationSettings

log = get_logger(__name__)

Send = Callable[[str], Awaitable[Any]]
# Bound log context that may appear in a report: ids and labels, nothing a user wrote.
CONTEXT_KEYS = ("update_id", "event_type", "chat_id", "user_id", "job_id", "attempt")
_ROOT = Path(__file__).resolve().parent.parent
SEND_TIMEOUT_S = 10.0


def _ours(filename: str) -> bool:
    path = Path(filename)
    return path.is_relative_to(_ROOT) and not {".venv", "site-packages"} & set(path.parts)


def error_location(exc: BaseException) -> str:
    """`path:line in function` of the innermost frame in the project's own code (the
    library frames below it say less about which bug this is); else the innermost."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    chosen = next((frame for frame in reversed(frames) if _ours(frame.filename)), frames[-1])
    path = Path(chosen.filename)
    shown = path.relative_to(_ROOT) if _ours(chosen.filename) else Path(path.name)
    return f"{shown}:{chosen.lineno} in {chosen.name}"


@dataclass(frozen=True)
class ErrorEvent:
    error: str  # the exception's qualified type name
    location: str
    event: str  # the log line's event ("job crashed") or the logger's name
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.error, self.location)


@dataclass
class _Seen:
    event: ErrorEvent
    repeats: int = 0
    closer: asyncio.Task[None] | None = None


class ErrorReporter:
    """Posts each distinct error once per window; repeats become one summary."""

    def __init__(
        self,
        send: Send,
        *,
        process: str,
        window_s: float,
        max_per_window: int,
    ) -> None:
        self.send = send
        self.process = process
        self.window_s = window_s
        self.max_per_window = max_per_window
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.window_started = time.monotonic()
        self.posted = 0
        self.dropped = 0
        self.deliveries: set[asyncio.Task[None]] = set()

    def report(self, event: ErrorEvent) -> None:
        """Called on the event loop; never blocks and never raises."""
        seen = self.seen.get(event.key)
        if seen is not None:
            seen.repeats += 1
            metrics.ERROR_REPORTS.labels("deduplicated").inc()
            return
        seen = self.seen[event.key] = _Seen(event)
        seen.closer = asyncio.ensure_future(self._close_after_window(seen))
        self._post(_first_text(event, self.process, self.window_s))

    def _post(self, text: str) -> None:
        now = time.monotonic()
        if now - self.window_started >= self.window_s:
            self.window_started, self.posted = now, 0
        if self.posted >= self.max_per_window:
            self.dropped += 1
            metrics.ERROR_REPORTS.labels("dropped").inc()
            return
        self.posted += 1
        if self.dropped:
            text += f"\n({self.dropped} more reports were dropped: too many errors at once)"
            self.dropped = 0
        task = asyncio.ensure_future(self._deliver(text))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)

    async def _close_after_window(self, seen: _Seen) -> None:
        await asyncio.sleep(self.window_s)
        self._close(seen)

    def _close(self, seen: _Seen) -> None:
        """End the error's window: the next occurrence is posted afresh."""
        self.seen.pop(seen.event.key, None)
        if seen.repeats:
            self._post(_repeat_text(seen.event, seen.repeats, self.process, self.window_s))

    async def _deliver(self, text: str) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await self.send(text)
        except Exception as exc:  # noqa: BLE001 - reported as a warning, never re-reported
            metrics.ERROR_REPORTS.labels("failed").inc()
            log.warning("error report not delivered", error=type(exc).__name__)
        else:
            metrics.ERROR_REPORTS.labels("sent").inc()

    async def aclose(self) -> None:
        """At shutdown: post the pending repeat counts (waiting a bounded time), then stop."""
        closers = []
        for seen in list(self.seen.values()):
            if seen.closer is not None:
                seen.closer.cancel()
                closers.append(seen.closer)
            self._close(seen)
        deliveries = list(self.deliveries)
        if deliveries:
            await asyncio.wait(deliveries, timeout=SEND_TIMEOUT_S + 1)
        pending = [*closers, *deliveries]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _first_text(event: ErrorEvent, process: str, window_s: float) -> str:
    lines = [
        f"⚠️ <b>{html.escape(event.error)}</b> in {html.escape(process)}",
        f"at <code>{html.escape(event.location)}</code>",
        f"event: {html.escape(event.event)}",
    ]
    if event.context:
        ids = " ".join(f"{k}={html.escape(str(v))}" for k, v in event.context.items())
        lines.append(f"ids: {ids}")
    lines.append(f"Repeats within {_minutes(window_s)} are counted, not posted.")
    return "\n".join(lines)


def _repeat_text(event: ErrorEvent, repeats: int, process: str, window_s: float) -> str:
    times = "time" if repeats == 1 else "times"
    return (
        f"↻ <b>{html.escape(event.error)}</b> in {html.escape(process)} "
        f"at <code>{html.escape(event.location)}</code>: {repeats} more {times} "
        f"in the last {_minutes(window_s)}."
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _exception(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


class ErrorReportHandler(logging.Handler):
    """Root logging handler: every ERROR line that carries an exception is reported."""

    def __init__(self, reporter: ErrorReporter, loop: asyncio.AbstractEventLoop) -> None:
        """Made on the event loop's thread: reports from other threads are handed to it."""
        super().__init__(logging.ERROR)
        self.reporter = reporter
        self.loop = loop
        self.loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = self._event(record)
            if event is None:
                return
            if threading.get_ident() == self.loop_thread:
                self.reporter.report(event)
            else:  # an executor thread (inference, decoding)
                self.loop.call_soon_threadsafe(self.reporter.report, event)
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            self.handleError(record)

    @staticmethod
    def _event(record: logging.LogRecord) -> ErrorEvent | None:
        if record.name == __name__:
            return None
        if isinstance(record.msg, dict):  # a structlog line: its event dict
            fields: dict[str, Any] = record.msg
            exc = _exception(fields.get("exc_info"))
            what = str(fields.get("event", record.name))
        else:  # a library's stdlib line: its text may quote user input, so only its logger
            fields = structlog.contextvars.get_contextvars()
            exc = _exception(record.exc_info)
            what = record.name
        if exc is None:
            return None
        context = {key: fields[key] for key in CONTEXT_KEYS if fields.get(key) is not None}
        return ErrorEvent(type(exc).__qualname__, error_location(exc), what, context)


def install_error_reports(
    settings: ModerationSettings, send_to_chat: Callable[[int, str], Awaitable[Any]], role: str
) -> Callable[[], Awaitable[None]] | None:
    """Start reporting to MODERATION__ERRORS_CHAT_ID; returns the async stop function
    (None when the chat is not set: the feature is off)."""
    chat_id = settings.errors_chat_id
    if chat_id is None:
        return None

    async def send(text: str) -> None:
        await send_to_chat(chat_id, text)

    reporter = ErrorReporter(
        send,
        process=f"{role} on {socket.gethostname()} (pid {os.getpid()})",
        window_s=settings.errors_window_s,
        max_per_window=settings.errors_max_per_window,
    )
    handler = ErrorReportHandler(reporter, asyncio.get_running_loop())
    logging.getLogger().addHandler(handler)
    log.info("error reports on", chat_id=chat_id, window_s=settings.errors_window_s)

    async def stop() -> None:
        logging.getLogger().removeHandler(handler)
        await reporter.aclose()

    return stop
