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

import gettext
import io
import time
from pathlib import Path

from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
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
    """Per-process cache of the languages users chose with /language.

    Read on every update, so a hit costs nothing; a miss is one primary-key lookup.
    Entries live `ttl_s`: another replica's /language is seen within that time, this
    replica's at once (`remember`).
    """

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[int, tuple[str | None, float]] = {}

    def get(self, user_id: int) -> tuple[bool, str | None]:
        """(known, language): known is False when the cache has nothing fresh."""
        entry = self._entries.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return False, None
        return True, entry[0]

    def remember(self, user_id: int, language: str | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, but bounded; a refill is one query per user
        self._entries[user_id] = (language, time.monotonic() + self.ttl_s)


__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGE_NAMES",
    "N_",
    "Catalogs",
    "ChosenLanguages",
    "_",
    "__",
    "create_i18n",
    "current_locale",
    "pick_locale",
]
