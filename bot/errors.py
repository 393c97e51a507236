"""Domain errors. A `UserFacingError` carries the text the user is shown; the
Telegram error router turns it into a reply and nothing is written."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the services raise on purpose."""


class UserFacingError(DomainError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotAllowedError(UserFacingError):
    """The user may not do this (not a moderator, not the voter, ...)."""


class FeatureUnavailableError(UserFacingError):
    """A feature is switched off or its optional dependencies are not installed."""
