"""The reader's language for every update: their /language choice, else Telegram's
language_code, else English (see bot.i18n)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.i18n import Catalogs, ChosenLanguages, pick_locale
from bot.services import Services


class LocaleMiddleware(BaseMiddleware):
    """Runs inside DbSessionMiddleware: a stale set of choices is reloaded in the update's
    session (one query a minute per process, not one per user). Handlers get the
    catalogs as `i18n`."""

    def __init__(self, i18n: Catalogs, chosen: ChosenLanguages) -> None:
        self.i18n = i18n
        self.chosen = chosen

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        locale = await self.get_locale(event, data)
        data["i18n"] = self.i18n
        with self.i18n.context(), self.i18n.use_locale(locale):
            return await handler(event, data)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        if self.chosen.stale():
            services: Services = data["services"]
            await self.chosen.reload(services.roster.chosen_languages)
        return pick_locale(
            self.chosen.get(user.id), user.language_code, self.i18n.available_locales
        )


@contextmanager
def locale_of(i18n: Catalogs, chosen: ChosenLanguages, user: User | None) -> Iterator[None]:
    """The reader's language without a database session (error handlers run outside the
    update's middlewares)."""
    language = chosen.get(user.id) if user is not None else None
    telegram = user.language_code if user is not None else None
    with i18n.context(), i18n.use_locale(pick_locale(language, telegram, i18n.available_locales)):
        yield
