"""`N_()`: marks an English msgid for the catalogs without translating it (gettext's
convention). Services use it for the texts of the errors they raise; the Telegram
layer translates them for the reader. Also the number formats several features' views
share. No aiogram here, so services can import it."""

from __future__ import annotations


def N_(message: str) -> str:
    return message


def clock(seconds: float | None) -> str:
    """A duration as m:ss, or h:mm:ss from an hour on."""
    seconds = round(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def num(value: float) -> str:
    """One decimal, and no "-0.0"."""
    return f"{round(value, 1) + 0.0:.1f}"
