"""`python -m bot`: load settings, run the bot. Exit code 2 with one line on bad config."""

from __future__ import annotations

import asyncio
import sys

from bot.bootstrap import ConfigError, bootstrap
from bot.db.migrate import SchemaOutdatedError


def main() -> int:
    try:
        settings = bootstrap()
        from bot.app import run_bot

        asyncio.run(run_bot(settings))
    except (ConfigError, SchemaOutdatedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
