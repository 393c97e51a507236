"""Domain errors. A `UserFacingError` carries the text the user is shown: an English
msgid marked with `N_()` and its named parameters, translated by the Telegram error
router into the reader's language. Nothing is written when one is raised."""

from __future__ import annotations

import html
from collections.abc import Callable


class DomainError(Exception):
    """Base of every error the services raise on purpose."""


class UserFacingError(DomainError):
    def __init__(self, text: str, **params: object) -> None:
        super().__init__(text.format(**params) if params else text)
        self.text = text
        self.params = params

    def render(self, translate: Callable[[str], str], *, escape_html: bool) -> str:
        """The message in the reader's language; parameters escaped for HTML replies."""
        params = {
            key: html.escape(str(value), quote=False) if escape_html else value
            for key, value in self.params.items()
        }
        return translate(self.text).format(**params)


class NotAllowedError(UserFacingError):
    """The user may not do this (not a moderator, not the voter, ...)."""


class FeatureUnavailableError(UserFacingError):
    """A feature is switched off or its optional dependencies are not installed."""
