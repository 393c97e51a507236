"""Every Prometheus metric, defined once. Names follow `<app>_<what>_<unit>`.

Gauges computed from the database (queue depth and age, applications waiting) hold
the same value in every process that refreshes them: aggregate them with `max`, not
`sum` (deploy/monitoring/ does). Process metrics (`process_resident_memory_bytes`,
CPU, open files) come from prometheus_client's default collectors.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)

UPDATES = Counter("bot_updates_total", "Telegram updates handled", ["event_type", "outcome"])
UPDATE_SECONDS = Histogram(
    "bot_update_duration_seconds",
    "Time to handle one update",
    ["event_type"],
    buckets=LATENCY_BUCKETS,
)
TELEGRAM_REQUESTS = Counter(
    "bot_telegram_requests_total", "Bot API calls made", ["method", "outcome"]
)

# The shared Telegram budget (Redis) could not be reached: a process used its own limits.
TELEGRAM_BUDGET_FALLBACKS = Counter(
    "bot_telegram_budget_fallbacks_total",
    "Send slots taken from process-local limits because the shared budget was unreachable",
)

A2T_JOBS = Counter("a2t_jobs_total", "Transcription jobs by outcome", ["outcome"])
A2T_QUEUE_DEPTH = Gauge("a2t_queue_depth", "Transcription jobs waiting or running")
# Per queue, from the database rows (the truth), refreshed by the sweep and the bot:
# the autoscaling signal (KEDA) and the "stuck queue" alert.
A2T_QUEUE_JOBS = Gauge(
    "a2t_queue_jobs", "Open transcription jobs per queue and status", ["queue", "status"]
)
A2T_QUEUE_OLDEST_AGE = Gauge(
    "a2t_queue_oldest_age_seconds",
    "How long the oldest queued job of a queue has waited (0: none waiting)",
    ["queue"],
)
# Workers alive per queue, from their registry in Redis (bot/routing.py), set by the
# bot: 0 while jobs wait means nothing will take them (A2TNoLiveWorker).
A2T_QUEUE_LIVE_WORKERS = Gauge(
    "a2t_queue_live_workers", "Worker processes alive for the queue", ["queue"]
)
# 1 in every live worker process: `sum by (queue)` counts the workers serving a queue.
A2T_WORKER_UP = Gauge(
    "a2t_worker_up", "This worker process serves the queue", ["queue", "engine", "device"]
)
A2T_AUDIO_SECONDS = Counter("a2t_audio_seconds_total", "Seconds of audio transcribed")
A2T_PROCESSING_SECONDS = Histogram(
    "a2t_processing_seconds", "Engine time per job", buckets=JOB_BUCKETS
)
A2T_REALTIME_FACTOR = Histogram(
    "a2t_realtime_factor",
    "Processing time divided by audio duration",
    buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
A2T_TIME_TO_STATUS = Histogram(
    "a2t_time_to_first_status_seconds",
    "From the voice note's arrival to the bot's first status reply",
    buckets=LATENCY_BUCKETS,
)
A2T_TIME_TO_RESULT = Histogram(
    "a2t_time_to_result_seconds",
    "From the voice note's arrival to the transcript posted",
    buckets=JOB_BUCKETS,
)

APPLICATIONS = Counter(
    "bot_applications_total", "Membership application steps by outcome", ["outcome"]
)
ROSTER_CHANGES = Counter(
    "bot_roster_changes_total", "Membership changes recorded", ["source", "status"]
)
ROSTER_ACTIVITY = Counter(
    "bot_roster_activity_total",
    "Group messages seen by the activity tracker: written to last_seen_at or throttled",
    ["outcome"],
)
BACKGROUND_RUNS = Counter(
    "bot_background_runs_total",
    "Rounds of the periodic background tasks (sweeps, gauge refresh) by outcome",
    ["task", "outcome"],
)
KARMA_VOTES = Counter("bot_karma_votes_total", "Karma votes counted", ["source", "direction"])
APPLICATIONS_PENDING = Gauge(
    "bot_applications_pending", "Applications submitted and waiting for a moderator"
)
APPLICATIONS_OLDEST_PENDING_AGE = Gauge(
    "bot_applications_oldest_pending_age_seconds",
    "How long the oldest pending application has waited (0: none)",
)
ERROR_REPORTS = Counter(
    "bot_error_reports_total",
    "Unexpected errors seen by the maintainers' error reporter, by what became of them",
    ["outcome"],
)
