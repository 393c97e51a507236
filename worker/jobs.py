"""arq job functions: ids in, pipeline call, arq's retry out."""

from __future__ import annotations

from typing import Any

from arq import Retry

from bot.jobs import TransientJobError
from worker.pipeline import Pipeline


async def transcribe(ctx: dict[str, Any], job_id: int, generation: int) -> None:
    pipeline: Pipeline = ctx["pipeline"]
    try:
        await pipeline.run(job_id, generation)
    except TransientJobError as exc:
        raise Retry(defer=exc.defer_s) from exc
