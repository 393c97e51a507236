from bot.telegram.middlewares.context import UpdateContextMiddleware
from bot.telegram.middlewares.db import DbSessionMiddleware
from bot.telegram.middlewares.i18n import LocaleMiddleware, locale_of
from bot.telegram.middlewares.retry import TelegramWrites, TransientRetryMiddleware
from bot.telegram.roster.middleware import RosterMiddleware

__all__ = [
    "DbSessionMiddleware",
    "LocaleMiddleware",
    "RosterMiddleware",
    "TelegramWrites",
    "TransientRetryMiddleware",
    "UpdateContextMiddleware",
    "locale_of",
]
