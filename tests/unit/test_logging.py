"""Logs are structured, carry the update context and never show secrets."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bot.log import configure_logging, get_logger, mask_secrets
from bot.settings import LogSettings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_mask_secrets_hides_tokens_and_dsn_passwords() -> None:
    line = f"GET https://api.telegram.org/bot{TOKEN}/getMe postgresql://bot:s3cret@db:5432/bot"
    masked = mask_secrets(line)
    assert TOKEN not in masked
    assert "s3cret" not in masked
    assert "postgresql://bot:***@db:5432/bot" in masked


def test_json_lines_carry_context_and_mask_stdlib_and_structlog(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(level="INFO", format="json"), secrets=["hunter2"])
    with structlog.contextvars.bound_contextvars(update_id=77, user_id=5):
        get_logger("test").info("calling api", url=f"/bot{TOKEN}/getMe")
        logging.getLogger("aiohttp.client").warning("failed %s password=hunter2", TOKEN)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["update_id"] for line in lines] == [77, 77]
    assert lines[0]["event"] == "calling api"
    text = json.dumps(lines)
    assert TOKEN not in text
    assert "hunter2" not in text


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_are_masked_in_both_formats(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """aiohttp puts the file URL (with the token) into its errors; a traceback of one,
    logged by us or by a library through stdlib logging, must not show it."""
    configure_logging(LogSettings(level="INFO", format=fmt), secrets=[TOKEN])
    try:
        try:
            raise OSError(f"404, url='https://api.telegram.org/file/bot{TOKEN}/voice/1.oga'")
        except OSError as inner:
            raise RuntimeError("download failed") from inner
    except RuntimeError:
        get_logger("test").exception("job crashed")
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "download failed" in err
    assert TOKEN not in err
    assert "/file/bot***/voice/1.oga" in err
