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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.texts import N_

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# Shown by /language, in each language's own name.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


# The catalogs in use (set by `Catalogs.context()`) and the reader's language. No aiogram
# here: the worker translates its texts too and never loads aiogram (docs/PERFORMANCE.md).
_CURRENT: ContextVar[Catalogs | None] = ContextVar("i18n_catalogs", default=None)
_LOCALE: ContextVar[str | None] = ContextVar("i18n_locale", default=None)


class Catalogs:
    """The gettext catalogs, read from the `.po` files, and the current language.

    The same interface as aiogram's `I18n` (the dispatcher's middleware and the handlers
    use it): `context()` makes these catalogs the ones `_()` reads, `use_locale()` sets
    the reader's language for a block."""

    def __init__(
        self, *, path: str | Path, default_locale: str = DEFAULT_LOCALE, domain: str = DOMAIN
    ) -> None:
        self.path = Path(path).resolve()
        self.default_locale = default_locale
        self.domain = domain
        self.locales = self.find_locales()

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

    @property
    def available_locales(self) -> tuple[str, ...]:
        return tuple(self.locales)

    @property
    def current_locale(self) -> str:
        return _LOCALE.get() or self.default_locale

    @contextmanager
    def use_locale(self, locale: str) -> Iterator[None]:
        token = _LOCALE.set(locale)
        try:
            yield
        finally:
            _LOCALE.reset(token)

    @contextmanager
    def context(self) -> Iterator[Catalogs]:
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def gettext(
        self, singular: str, plural: str | None = None, n: int = 1, locale: str | None = None
    ) -> str:
        translator = self.locales.get(locale or self.current_locale)
        if translator is None:
            return singular if n == 1 else plural or singular
        if plural is None:
            return translator.gettext(singular)
        return translator.ngettext(singular, plural, n)


def get_i18n() -> Catalogs:
    """The catalogs of the update (or job) being handled."""
    catalogs = _CURRENT.get()
    if catalogs is None:
        raise LookupError("I18n context is not set")
    return catalogs


def _(singular: str, plural: str | None = None, n: int = 1, locale: str | None = None) -> str:
    return get_i18n().gettext(singular, plural, n, locale)


ngettext = _


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
    "get_i18n",
    "ngettext",
    "pick_locale",
]
