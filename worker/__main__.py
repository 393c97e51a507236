"""`python -m worker`: an arq worker for transcription jobs. Exit code 2 with one line
when the configuration, the engine or the database is not ready."""

from __future__ import annotations

import sys

from arq.worker import create_worker

from bot.bootstrap import ConfigError, bootstrap
from worker.main import worker_options


def main() -> int:
    try:
        settings = bootstrap()
        worker = create_worker(worker_options(settings))
        worker.run()  # handles SIGTERM/SIGINT: running jobs are handed back, then exit
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
