from __future__ import annotations

import pytest

from bot.bootstrap import ConfigError, load_settings
from bot.settings import Settings


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings()
    assert settings.bot.token is None
    assert settings.bot.mode == "polling"
    assert settings.db.is_sqlite
    assert settings.redis.url is None
    assert settings.a2t.max_file_bytes(settings.bot) == 20 * 1024 * 1024


def test_nested_env_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT__TOKEN", "123:abc")
    monkeypatch.setenv("A2T__WHISPER__MODEL", "/models/base")
    monkeypatch.setenv("MODERATION__ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("MODERATION__CHAT_ID", "-100123")
    monkeypatch.setenv("LOG__LEVEL", "debug")
    monkeypatch.setenv("LOG__FORMAT", "JSON")
    settings = Settings()
    assert settings.bot.token is not None
    assert settings.bot.token.get_secret_value() == "123:abc"
    assert settings.a2t.whisper.model == "/models/base"
    assert settings.moderation.admin_ids == [1, 2, 3]
    assert settings.moderation.chat_id == -100123
    assert (settings.log.level, settings.log.format) == ("DEBUG", "json")


def test_env_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    Path(".env").write_text("BOT__TOKEN=42:from-file\nKARMA__COOLDOWN_S=5\n")
    settings = Settings()
    assert settings.bot.token is not None
    assert settings.bot.token.get_secret_value() == "42:from-file"
    assert settings.karma.cooldown_s == 5


def test_empty_token_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT__TOKEN", "  ")
    assert Settings().bot.token is None


def test_local_bot_api_raises_the_download_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT__API_BASE_URL", "http://telegram-bot-api:8081/")
    monkeypatch.setenv("BOT__API_IS_LOCAL", "true")
    settings = Settings()
    assert settings.bot.api_base_url == "http://telegram-bot-api:8081"
    assert settings.a2t.max_file_bytes(settings.bot) == 2000 * 1024 * 1024


def test_webhook_mode_without_url_is_a_one_line_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT__MODE", "webhook")
    with pytest.raises(ConfigError, match="BOT__WEBHOOK_URL") as excinfo:
        load_settings()
    assert "\n" not in str(excinfo.value)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2T__ENGINE", "sphinx")
    with pytest.raises(ConfigError, match="A2T__ENGINE"):
        load_settings()


def test_a_stale_threshold_under_three_heartbeats_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("A2T__HEARTBEAT_INTERVAL_S", "5")
    monkeypatch.setenv("A2T__STALE_AFTER_S", "12")
    with pytest.raises(ConfigError, match="A2T__STALE_AFTER_S must be at least 3 x") as excinfo:
        load_settings()
    assert "\n" not in str(excinfo.value)
    monkeypatch.setenv("A2T__STALE_AFTER_S", "15")
    assert load_settings().a2t.stale_after_s == 15


def test_the_default_timings_requeue_a_dead_workers_job_within_20_s() -> None:
    a2t = Settings(_env_file=None).a2t  # type: ignore[call-arg]
    assert a2t.stale_after_s + a2t.sweep_interval_s <= 20
    assert a2t.stale_after_s >= 3 * a2t.heartbeat_interval_s


def test_updates_in_flight_follow_the_pool_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB__POOL_SIZE", "7")
    assert Settings(_env_file=None).concurrent_updates == 7  # type: ignore[call-arg]
    monkeypatch.setenv("BOT__MAX_CONCURRENT_UPDATES", "3")
    assert Settings(_env_file=None).concurrent_updates == 3  # type: ignore[call-arg]
