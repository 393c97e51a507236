#!/usr/bin/env bash
# Run the bot with everything it needs, on a fresh machine.
# Embedded default: SQLite under data/, transcription in-process; set DB__URL /
# REDIS__URL in .env for PostgreSQL and separate workers (see README).
# First run: installs uv and the dependencies, creates .env and stops there, asking
# for the bot token.
# shellcheck source=scripts/_setup.sh
source "$(dirname "$0")/_setup.sh"

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "note: ffmpeg is not installed; voice notes will be answered with 'unavailable'." >&2
  echo "      install it (Debian/Ubuntu: apt-get install ffmpeg) to transcribe them." >&2
fi
say "Python dependencies (uv sync)"
# --inexact: the test extras test.sh installed stay; nothing is removed back and forth.
uv sync --frozen --extra audio --inexact --quiet

if [ ! -f .env ] && [ -z "${BOT__TOKEN:-}" ]; then
  (umask 077 && cp .env.example .env)
  chmod 600 .env # readable by you only: it will hold the token
  echo "created .env: put your bot token from @BotFather in it (BOT__TOKEN=...)," \
    "then run ./scripts/run_bot.sh again" >&2
  exit 2
fi
exec uv run --frozen --no-sync python -m bot "$@"
