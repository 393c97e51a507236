"""`python -m tests.send_burst`: a process that posts like a worker does, for the
shared-budget tests. It builds its Bot API client as `worker.main.startup` does
(`create_client` with the arq Redis pool when REDIS__URL is set, else process-local
limits), prints
"ready", waits for a line on stdin (so every process starts at once), then sends
SEND_COUNT messages to SEND_CHAT_ID and prints "sent N"."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.bootstrap import load_settings
from bot.jobs import create_arq_pool
from bot.telegram.botapi import create_client


async def main() -> int:
    settings = load_settings()
    redis = await create_arq_pool(settings.redis) if settings.redis.url is not None else None
    bot = create_client(settings.bot, redis)
    chat_id, count = int(os.environ["SEND_CHAT_ID"]), int(os.environ["SEND_COUNT"])
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    try:
        for i in range(count):
            await bot.send_message(chat_id, f"{os.getpid()} #{i}")
    finally:
        await bot.close()
        if redis is not None:
            await redis.aclose()
    print(f"sent {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
