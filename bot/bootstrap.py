"""Start-up shared by `python -m bot` and `python -m worker`: settings, then logging."""

from __future__ import annotations

from pydantic import ValidationError

from bot.log import configure_logging
from bot.settings import Settings


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line an operator can act on."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    where = "__".join(str(part).upper() for part in loc)
    return f"{where}: {msg}" if where else msg  # no location: a rule across sections


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.db.url.get_secret_value()]
    if settings.bot.token:
        values.append(settings.bot.token.get_secret_value())
    if settings.bot.webhook_secret:
        values.append(settings.bot.webhook_secret.get_secret_value())
    if settings.redis.url:
        values.append(settings.redis.url.get_secret_value())
    return values


def bootstrap() -> Settings:
    """Load settings and configure logging; raises ConfigError with a one-line message."""
    settings = load_settings()
    configure_logging(settings.log, secrets=_password_parts(secrets_of(settings)))
    return settings


def _password_parts(values: list[str]) -> list[str]:
    """Mask tokens whole, but DSNs only by their password (the host is useful in logs)."""
    from sqlalchemy.engine import make_url

    out: list[str] = []
    for value in values:
        if "://" in value:
            try:
                password = make_url(value).password
            except Exception:  # noqa: BLE001 - an unparsable URL is masked whole
                out.append(value)
                continue
            if password:
                out.append(str(password))
        else:
            out.append(value)
    return out
