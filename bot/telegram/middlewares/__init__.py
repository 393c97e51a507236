from bot.telegram.middlewares.context import UpdateContextMiddleware
from bot.telegram.middlewares.db import DbSessionMiddleware
from bot.telegram.middlewares.i18n import LocaleMiddleware, locale_of

__all__ = ["DbSessionMiddleware", "LocaleMiddleware", "UpdateContextMiddleware", "locale_of"]
