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


def test_webhook_mode_without_a_secret_is_a_one_line_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT__MODE", "webhook")
    monkeypatch.setenv("BOT__WEBHOOK_URL", "https://bot.example.org/telegram/webhook")
    with pytest.raises(ConfigError, match="needs BOT__WEBHOOK_SECRET") as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "\n" not in message
    assert "secrets.token_urlsafe(32)" in message  # how to make one
    monkeypatch.setenv("BOT__WEBHOOK_SECRET", "a" * 256)
    assert load_settings().bot.webhook_secret is not None


@pytest.mark.parametrize(
    "secret", ["has space", "semi;colon", "ünïcode", "a" * 257, "pl+us/slash="]
)
def test_a_webhook_secret_telegram_would_refuse_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("BOT__WEBHOOK_SECRET", secret)
    with pytest.raises(ConfigError, match=r"BOT__WEBHOOK_SECRET: .*A-Z, a-z, 0-9, _ and -") as exc:
        load_settings()
    assert secret not in str(exc.value)  # a secret is never echoed


def test_redis_url_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("redis://:pw@redis:6379/0", "rediss://user:pw@redis.example.org:6380/1"):
        monkeypatch.setenv("REDIS__URL", url)
        assert load_settings().redis.url is not None
    monkeypatch.setenv("REDIS__URL", "http://redis:6379")
    with pytest.raises(ConfigError, match=r"REDIS__URL: .*rediss://"):
        load_settings()


def test_a2t_allowed_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().a2t.serves_chat(-100123)  # empty: every group
    monkeypatch.setenv("A2T__ALLOWED_GROUPS", "-1001234567890, -1009876543210")
    a2t = Settings().a2t
    assert a2t.allowed_groups == [-1001234567890, -1009876543210]
    assert a2t.serves_chat(-1009876543210)
    assert not a2t.serves_chat(-100123)
    assert a2t.serves_chat(42)  # private chats always


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2T__ENGINE", "sphinx")
    with pytest.raises(ConfigError, match="A2T__ENGINE"):
        load_settings()


def test_fsm_ttl_shorter_than_an_open_application_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLICATIONS__EXPIRE_AFTER_H", "72")
    monkeypatch.setenv("REDIS__FSM_TTL_S", str(72 * 3600 - 1))
    with pytest.raises(ConfigError, match="REDIS__FSM_TTL_S must be at least"):
        load_settings()
    monkeypatch.setenv("REDIS__FSM_TTL_S", str(72 * 3600))
    assert load_settings().redis.fsm_ttl_s == 72 * 3600


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
