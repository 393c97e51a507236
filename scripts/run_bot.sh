#!/usr/bin/env bash
# Run the bot with everything it needs, on a fresh machine.
# Embedded default: SQLite under data/, transcription in-process; set DB__URL /
# REDIS__URL in .env for PostgreSQL and separate workers (see README).
source "$(dirname "$0")/_setup.sh"

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "note: ffmpeg is not installed; voice notes will be answered with 'unavailable'." >&2
  echo "      install it (Debian/Ubuntu: apt-get install ffmpeg) to transcribe them." >&2
fi
uv sync --frozen --extra audio --quiet
if [ ! -f .env ]; then
  cp .env.example .env
  echo "created .env from .env.example: put your bot token (from @BotFather) in BOT__TOKEN"
fi
exec uv run --frozen --extra audio python -m bot "$@"
