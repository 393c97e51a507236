"""Structured logging for the bot and the worker (structlog over stdlib logging).

Context (update id, user id, chat id, job id) is bound with
`structlog.contextvars.bind_contextvars` and lands on every line, including
lines from libraries that log through stdlib `logging`. Secrets (the bot token,
database and Redis passwords) are masked in every line before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from bot.settings import LogSettings

# A Bot API token anywhere in a line (URLs of aiohttp errors carry it).
_TOKEN_RE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
# The password part of a DSN: scheme://user:password@host
_DSN_PASSWORD_RE = re.compile(r"(?P<head>[a-z0-9+]+://[^:/@\s]*:)[^@\s]+@")
MASK = "***"


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _TOKEN_RE.sub(MASK, text)
    return _DSN_PASSWORD_RE.sub(rf"\g<head>{MASK}@", text)


class _SecretMasker:
    """structlog processor: masks secrets in every string value of the event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = mask_secrets(value, self.secrets)
            elif isinstance(value, BaseException):
                event_dict[key] = mask_secrets(repr(value), self.secrets)
        return event_dict


def configure_logging(settings: LogSettings, *, secrets: Iterable[str] = ()) -> None:
    masker = _SecretMasker(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if settings.format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text *before* the masker, in both formats: exceptions
            # carry URLs with the token (aiohttp's do), and a renderer that formats
            # the traceback itself would print them after masking.
            structlog.processors.format_exc_info,
            masker,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # Python warnings (library deprecations, SQLAlchemy's) become log lines like any
    # other: structured, masked, on the same stream, instead of bare text on stderr.
    logging.captureWarnings(True)
    # aiogram logs every handled update at INFO; keep that for DEBUG runs only.
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[
            # A line below the logger's level is dropped before the other processors
            # (time stamp, context) run: a disabled debug line costs a level check only.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
