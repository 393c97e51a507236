"""`N_()`: marks an English msgid for the catalogs without translating it (gettext's
convention). Services use it for the texts of the errors they raise; the Telegram
layer translates them for the reader. No aiogram here, so services can import it."""

from __future__ import annotations


def N_(message: str) -> str:
    return message
