"""The catalogs: complete, current with the code, and loaded as the bot loads them."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import UserFacingError
from bot.i18n import N_, ChosenLanguages, create_i18n, pick_locale
from scripts import i18n as catalogs


def test_catalogs_are_current_and_complete() -> None:
    """Fails when a string in the code is missing from a catalog or lacks a translation:
    run `uv run python -m scripts.i18n` and translate what it reports."""
    report = catalogs.check_or_update(write=False)
    assert report.stale == [], "catalogs are stale: run `uv run python -m scripts.i18n`"
    assert report.problems == []


def test_every_catalog_language_is_loaded() -> None:
    i18n = create_i18n()
    assert set(i18n.available_locales) == set(catalogs.LOCALES)
    msgid = "Choose the language I speak:"
    assert i18n.gettext(msgid, locale="en") == msgid
    assert i18n.gettext(msgid, locale="ru") == "Выберите язык, на котором мне говорить:"


@pytest.mark.parametrize(
    ("chosen", "telegram", "expected"),
    [
        ("ru", "en", "ru"),  # the user's choice wins
        (None, "ru", "ru"),
        (None, "ru-RU", "ru"),  # IETF tags: the primary subtag picks the catalog
        (None, "de", "en"),  # no catalog: English
        (None, None, "en"),
        ("xx", "ru", "ru"),  # a choice without a catalog (removed since) falls through
    ],
)
def test_pick_locale(chosen: str | None, telegram: str | None, expected: str) -> None:
    assert pick_locale(chosen, telegram, ("en", "ru")) == expected


def test_user_facing_error_renders_in_the_readers_language_with_escaped_params() -> None:
    i18n = create_i18n()
    error = UserFacingError(
        N_("I don't know the command /{command}. /help lists what I can do."), command="<b>"
    )
    assert str(error) == "I don't know the command /<b>. /help lists what I can do."
    with i18n.context(), i18n.use_locale("ru"):
        from bot.i18n import _

        assert error.render(_, escape_html=True) == (
            "Я не знаю команды /&lt;b&gt;. /help покажет, что я умею."
        )
        assert "/<b>." in error.render(_, escape_html=False)


async def test_chosen_languages_reload_keeps_choices_made_meanwhile() -> None:
    chosen = ChosenLanguages(ttl_s=60)
    assert chosen.stale()
    loads = 0

    async def load() -> dict[int, str]:
        nonlocal loads
        loads += 1
        chosen.remember(3, "ru")  # chosen on this replica while the query ran
        chosen.remember(1, None)  # 1 went back to Telegram's language meanwhile
        await asyncio.sleep(0)
        return {1: "ru", 2: "en"}

    await asyncio.gather(chosen.reload(load), chosen.reload(load))
    assert loads == 1  # concurrent updates share one reload
    assert not chosen.stale()
    assert (chosen.get(1), chosen.get(2), chosen.get(3), chosen.get(4)) == (None, "en", "ru", None)
    chosen.remember(4, "ru")
    assert chosen.get(4) == "ru"
