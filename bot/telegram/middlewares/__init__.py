from bot.telegram.middlewares.context import UpdateContextMiddleware
from bot.telegram.middlewares.db import DbSessionMiddleware

__all__ = ["DbSessionMiddleware", "UpdateContextMiddleware"]
