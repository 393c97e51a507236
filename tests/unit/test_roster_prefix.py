"""The prefix search's range (bot/repositories/roster.py): prefix <= s < successor holds
exactly for the strings that start with the prefix, in code point order."""

from __future__ import annotations

import pytest

from bot.repositories.roster import _successor

WORDS = ["a", "an", "ann", "anna", "ao", "b", "п", "пе", "петр", "р", "\ud7ff", "\ue000", "z{"]


@pytest.mark.parametrize("prefix", ["a", "an", "п", "пе", "z", "\ud7ff", "=c", "0%"])
def test_the_range_holds_the_strings_with_the_prefix(prefix: str) -> None:
    upper = _successor(prefix)
    assert upper is not None
    for word in [*WORDS, prefix, prefix + "\U0010ffff", prefix + "a"]:
        in_range = prefix <= word < upper  # Python compares code points, as UTF-8 bytes do
        assert in_range == word.startswith(prefix), (prefix, word)


def test_surrogates_are_skipped_and_the_last_code_point_has_no_successor() -> None:
    assert _successor("\ud7ff") == "\ue000"
    assert _successor("a\U0010ffff") is None
