"""UI languages: gettext catalogs under `bot/locales/<lang>/LC_MESSAGES/messages.po`.

Every user-facing string is an English msgid wrapped in `_()` (translated now) or
`N_()` (only marked: translated later, where the reader's language is known, e.g. a
`UserFacingError` raised in a service). Placeholders are named, `{name}`, filled with
`str.format` after translation. `uv run python -m scripts.i18n` re-extracts the msgids
into the catalogs; a test fails while any catalog lacks a translation.

The catalogs are read from the `.po` sources at start-up (Babel compiles them in
memory), so there is no compiled `.mo` file that could drift from its source.

A reader's language: the UI language they chose with /language, else their Telegram
`language_code`, else English.
"""

from __future__ import annotations

import asyncio
import gettext
import io
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.texts import N_

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# Shown by /language, in each language's own name.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


class Catalogs(I18n):
    """aiogram's I18n, loading `.po` catalogs directly."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for po_path in sorted(self.path.glob(f"*/LC_MESSAGES/{self.domain}.po")):
            locale = po_path.parent.parent.name
            with po_path.open("rb") as source:
                catalog = read_po(source, locale=locale, domain=self.domain)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            translations[locale] = gettext.GNUTranslations(compiled)
        return translations


# aiogram's gettext finds the current instance through I18n's own context variable;
# a subclass gets a variable of its own (ContextInstanceMixin), so share I18n's.
Catalogs._ContextInstanceMixin__context_instance = (  # type: ignore[attr-defined]
    I18n._ContextInstanceMixin__context_instance  # type: ignore[attr-defined]
)


def create_i18n() -> Catalogs:
    return Catalogs(path=LOCALES_DIR, default_locale=DEFAULT_LOCALE, domain=DOMAIN)


def current_locale() -> str:
    """The language of the update (or job) being handled."""
    return get_i18n().current_locale


def pick_locale(chosen: str | None, telegram: str | None, available: tuple[str, ...]) -> str:
    """The first of (chosen, Telegram's language_code) that has a catalog, else English.

    Telegram sends IETF tags ("en-US", "pt-br"); the primary subtag picks the catalog.
    """
    for code in (chosen, telegram):
        if code:
            primary = code.split("-")[0].split("_")[0].lower()
            if primary in available:
                return primary
    return DEFAULT_LOCALE


class ChosenLanguages:
    """Every UI language chosen with /language, in memory: the reader's language costs no
    query on any update. Few users ever choose one (most follow their Telegram app), so
    the whole set is small. It is reloaded when older than `ttl_s` (another replica's
    /language shows within that time); this replica's choices apply at once (`remember`).
    """

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._chosen: dict[int, str] = {}
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()
        self._remembered: dict[int, str | None] = {}  # during a reload: applied after it

    def get(self, user_id: int) -> str | None:
        return self._chosen.get(user_id)

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= self.ttl_s

    async def reload(self, load: Callable[[], Awaitable[dict[int, str]]]) -> None:
        """Replace the set with `load()`'s, once however many updates ask at a time."""
        async with self._lock:
            if not self.stale():
                return
            self._remembered = {}
            chosen = await load()
            for user_id, language in self._remembered.items():  # chosen while loading
                _set(chosen, user_id, language)
            self._chosen, self._loaded_at = chosen, time.monotonic()

    def remember(self, user_id: int, language: str | None) -> None:
        _set(self._chosen, user_id, language)
        self._remembered[user_id] = language


def _set(chosen: dict[int, str], user_id: int, language: str | None) -> None:
    if language is None:
        chosen.pop(user_id, None)
    else:
        chosen[user_id] = language


__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGE_NAMES",
    "N_",
    "Catalogs",
    "ChosenLanguages",
    "_",
    "create_i18n",
    "current_locale",
    "pick_locale",
]
