"""The reader's language for every update: their /language choice, else Telegram's
language_code, else English (see bot.i18n)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.i18n import ChosenLanguages, pick_locale
from bot.services import Services


class LocaleMiddleware(I18nMiddleware):
    """Runs inside DbSessionMiddleware: a stale set of choices is reloaded in the update's
    session (one query a minute per process, not one per user)."""

    def __init__(self, i18n: I18n, chosen: ChosenLanguages) -> None:
        super().__init__(i18n)
        self.chosen = chosen

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
def locale_of(i18n: I18n, chosen: ChosenLanguages, user: User | None) -> Iterator[None]:
    """The reader's language without a database session (error handlers run outside the
    update's middlewares)."""
    language = chosen.get(user.id) if user is not None else None
    telegram = user.language_code if user is not None else None
    with i18n.context(), i18n.use_locale(pick_locale(language, telegram, i18n.available_locales)):
        yield
