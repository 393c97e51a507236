"""Domain errors. A `UserFacingError` carries the text the user is shown: an English
msgid marked with `N_()` and its named parameters, translated by the Telegram error
router into the reader's language. Nothing is written when one is raised."""

from __future__ import annotations

import html
from collections.abc import Callable

# A parameter may echo what the user typed (a filter term, a name): cut, so that the
# answer stays within Telegram's limits whatever the input.
PARAM_LIMIT = 200


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


class DomainError(Exception):
    """Base of every error the services raise on purpose."""


class UserFacingError(DomainError):
    def __init__(self, text: str, **params: object) -> None:
        super().__init__(text.format(**params) if params else text)
        self.text = text
        self.params = params

    def render(
        self,
        translate: Callable[[str], str],
        *,
        escape_html: bool,
        param_limit: int = PARAM_LIMIT,
    ) -> str:
        """The message in the reader's language; parameters cut to `param_limit`
        characters (they may echo input of any size) and escaped for HTML replies."""
        params = {key: _cut(str(value), param_limit) for key, value in self.params.items()}
        if escape_html:
            params = {key: html.escape(value, quote=False) for key, value in params.items()}
        return translate(self.text).format(**params)


class NotAllowedError(UserFacingError):
    """The user may not do this (not a moderator, not the voter, ...)."""


class FeatureUnavailableError(UserFacingError):
    """A feature is switched off or its optional dependencies are not installed."""
