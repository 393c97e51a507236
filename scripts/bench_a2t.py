"""A2T benchmark: where the time goes between a voice note and its transcript.

    uv run python -m scripts.bench_a2t [--runs 5] [--jobs 8]

On one machine, in one run, with the production shape (fake Bot API on loopback ->
real dispatcher -> PostgreSQL -> arq on Redis -> `python -m worker` processes):

* raw engine: faster-whisper `transcribe` on decoded samples, same model and options
* pipeline: voice note update fed -> transcript edited into the status message
* first status reply after the update, and a forwarded (cached) note's answer
* throughput (jobs/minute) with 1 and 2 worker processes

Prints a table and writes bench-results/a2t.json. Targets (issue #3): overhead
(pipeline - raw) <= 150 ms on the 11 s note, pipeline <= 1.05 x raw on ~60 s,
first status <= 300 ms, cached answer <= 300 ms, 2 workers >= 1.7 x 1 worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import JobStatus
from bot.db.models import TranscriptionJob
from bot.jobs import ArqJobQueue, create_arq_pool
from bot.services import AppDeps
from bot.services.transcription import A2TStatus
from bot.settings import A2TSettings, Settings
from bot.telegram.dispatcher import create_bot, create_dispatcher
from scripts._bench import REDIS_URL, median, print_table, scratch_database, write_results
from tests import factories as f
from tests.a2t import DATA, JFK_PHRASE, lj_speech_minute, normalise
from tests.fakes import FakeBotAPI
from tests.processes import Process, start
from worker.audio import decode
from worker.engines import TranscribeOptions, load_engine

# Own queue per run: a worker left over from another run never steals these jobs.
QUEUE = f"bench:a2t:{uuid.uuid4().hex[:8]}"


class RawEngine:
    """faster-whisper itself, same model and options as the workers, in this process."""

    def __init__(self) -> None:
        self.engine = load_engine(A2TSettings(device="cpu"))

    def seconds(self, samples: Any) -> float:
        """Blocks the event loop on purpose: nothing else may run while it measures."""
        started = time.perf_counter()
        self.engine.transcribe(samples, TranscribeOptions())
        return time.perf_counter() - started


class Rig:
    """Fake Bot API + dispatcher in this process; workers as subprocesses."""

    def __init__(
        self,
        api: FakeBotAPI,
        bot: Bot,
        dispatcher: Any,
        sessions: async_sessionmaker[AsyncSession],
        env: dict[str, str],
    ) -> None:
        self.api, self.bot, self.dispatcher, self.env = api, bot, dispatcher, env
        self.sessions = sessions
        self.user = f.user(id=424242, first_name="Bench")
        self.chat = f.private_chat(self.user)
        self.workers: list[Process] = []

    async def start_workers(self, count: int) -> None:
        started = [await start("worker", self.env) for _ in range(count)]
        self.workers.extend(started)
        for proc in started:
            await proc.wait_for_output("engine ready", timeout=120)

    async def stop_workers(self) -> None:
        for proc in self.workers:
            await proc.terminate()
        self.workers.clear()

    async def wait_done(self) -> None:
        async with asyncio.timeout(30):
            while True:
                async with self.sessions() as session:
                    open_jobs = await session.scalar(
                        select(func.count()).where(
                            TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
                        )
                    )
                if not open_jobs:
                    return
                await asyncio.sleep(0.02)

    def note(self, clip: bytes, duration: int, unique: str | None = None) -> dict[str, Any]:
        """A voice note from a new user: Telegram's per-chat pacing (~1 message a second,
        applied by our sender) is not what this measures."""
        self.user = f.user(first_name="Bench")
        self.chat = f.private_chat(self.user)
        file = self.api.add_file(clip, file_unique_id=unique)
        voice = f.voice(
            file_id=file["file_id"],
            file_unique_id=file["file_unique_id"],
            duration=duration,
            file_size=len(clip),
        )
        return f.message_update(f.message(from_user=self.user, chat=self.chat, voice=voice))

    async def feed(self, update: dict[str, Any]) -> None:
        self.api.observe(update)
        await self.dispatcher.feed_raw_update(self.bot, update)

    async def voice_to_transcript(self, clip: bytes, duration: int) -> tuple[float, float]:
        """Seconds from the update to the status reply, and to the posted transcript."""
        update = self.note(clip, duration)
        mark = len(self.api.calls)
        started = time.perf_counter()
        await self.feed(update)
        status = await self.api.wait_for_call("sendMessage", after=mark)
        await self.api.wait_for_call("editMessageText", _is_transcript, after=mark, timeout=300)
        done = time.perf_counter()
        return status.at - started_at_monotonic(started), done - started


def started_at_monotonic(perf_started: float) -> float:
    # ApiCall.at is time.monotonic(); convert the perf_counter start to that clock.
    return time.monotonic() - (time.perf_counter() - perf_started)


def _is_transcript(call: Any) -> bool:
    text = str(call.params.get("text", ""))
    return "Transcribing" not in text and "⏱" in text


@asynccontextmanager
async def rig(db_url: str) -> AsyncIterator[Rig]:
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    async with FakeBotAPI() as api:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot={"token": api.token, "api_base_url": api.base_url},
            db={"url": db_url},
            redis={"url": REDIS_URL, "queue_name": QUEUE},
            # One bench user queues every job: no per-user or per-chat cap applies.
            a2t={
                "user_rate_per_minute": 10_000,
                "user_daily_minutes": 100_000,
                "max_open_per_user": 0,
                "max_open_per_chat": 0,
            },
        )
        arq = await create_arq_pool(settings.redis)
        engine = create_engine(settings.db)
        deps = AppDeps(settings, ArqJobQueue(arq, QUEUE), A2TStatus(True))
        bot = create_bot(settings.bot)
        env = {
            "BOT__TOKEN": api.token,
            "BOT__API_BASE_URL": api.base_url,
            "DB__URL": db_url,
            "REDIS__URL": REDIS_URL,
            "REDIS__QUEUE_NAME": QUEUE,
            "A2T__DEVICE": "cpu",
            "METRICS__ENABLED": "false",
            "LOG__FORMAT": "json",
        }
        sessions = create_session_factory(engine)
        r = Rig(api, bot, create_dispatcher(deps, sessions), sessions, env)
        try:
            yield r
        finally:
            await r.stop_workers()
            await bot.session.close()
            await arq.aclose()
            await engine.dispose()
            await redis.flushdb()
            await redis.aclose()


@dataclass
class Clip:
    name: str
    data: bytes
    samples: Any
    duration: int


async def pipeline_times(
    r: Rig, raw: RawEngine, clip: Clip, runs: int
) -> tuple[list[float], list[float], list[float]]:
    """Raw engine and full pipeline on the same audio, interleaved run by run, so both
    see the same machine state. Returns raw times, first-status times, pipeline times."""
    raw.seconds(clip.samples)
    await r.voice_to_transcript(clip.data, clip.duration)  # warm-up both
    raws, statuses, totals = [], [], []
    for _ in range(runs):
        raws.append(raw.seconds(clip.samples))
        status, total = await r.voice_to_transcript(clip.data, clip.duration)
        statuses.append(status)
        totals.append(total)
    return raws, statuses, totals


def stage_medians(worker: Process, first: int, end: int) -> dict[str, float]:
    """Median of each pipeline stage over the worker's jobs first..end-1 (log order)."""
    done = [json.loads(line) for line in worker.output if '"job done"' in line]
    stages = [d["stages_ms"] for d in done[first:end]]
    return {name: median([s[name] for s in stages]) for name in stages[0]}


async def cached_answer(r: Rig, clip: bytes) -> float:
    update = r.note(clip, 11, unique="bench-cached")
    first = len(r.api.calls)
    await r.feed(update)
    await r.api.wait_for_call("editMessageText", _is_transcript, after=first, timeout=120)
    await r.wait_done()  # the row turns `done` just after the edit; the cache reads the row
    other = f.user(first_name="Forwarder")
    forwarded = f.message_update(
        f.message(from_user=other, chat=f.private_chat(other), voice=update["message"]["voice"])
    )
    mark = len(r.api.calls)
    started = time.perf_counter()
    await r.feed(forwarded)
    answer = await r.api.wait_for_call("sendMessage", after=mark)
    assert JFK_PHRASE in " ".join(normalise(answer.params["text"])), answer.params["text"]
    return answer.at - started_at_monotonic(started)


async def throughput(r: Rig, clip: bytes, jobs: int, workers: int) -> float:
    """Worker throughput, jobs per minute: `jobs` distinct 11 s notes queued while no
    worker runs, then `workers` processes started together; timed from the first
    download to the last transcript, so the bot side is not part of it."""
    await r.stop_workers()
    mark = len(r.api.calls)
    for _ in range(jobs):
        await r.feed(r.note(clip, 11))
    await r.start_workers(workers)
    done = await r.api.wait_for_calls(
        "editMessageText", jobs, timeout=600, predicate=_is_transcript, after=mark
    )
    first = min(c.at for c in r.api.calls[mark:] if c.method == "getFile")
    return jobs / (max(c.at for c in done) - first) * 60


async def measure(runs: int, jobs: int, short: Clip, long: Clip) -> dict[str, Any]:
    results: dict[str, Any] = {}
    raw = RawEngine()
    async with scratch_database("bench_a2t") as db_url, rig(db_url) as r:
        await r.start_workers(1)
        raw_short, statuses, short_totals = await pipeline_times(r, raw, short, runs)
        long_runs = max(2, runs // 2)
        raw_long, _, long_totals = await pipeline_times(r, raw, long, long_runs)
        # Each phase's first job is its warm-up.
        results["stages_ms_short"] = stage_medians(r.workers[0], 1, runs + 1)
        results["stages_ms_long"] = stage_medians(r.workers[0], runs + 2, runs + 2 + long_runs)
        results["raw_11s_s"] = median(raw_short)
        results["raw_long_s"] = median(raw_long)
        results["first_status_s"] = median(statuses)
        results["pipeline_11s_s"] = median(short_totals)
        results["pipeline_long_s"] = median(long_totals)
        results["cached_answer_s"] = await cached_answer(r, short.data)
        results["jobs_per_min_1_worker"] = await throughput(r, short.data, jobs, 1)
        results["jobs_per_min_2_workers"] = await throughput(r, short.data, jobs, 2)
    return results


def load_clip(name: str, data: bytes) -> Clip:
    audio = asyncio.run(decode(data, max_seconds=3600, timeout_s=120))
    return Clip(name, data, audio.samples, round(audio.duration))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=12)
    args = parser.parse_args()

    short = load_clip("jfk.ogg (11 s)", (DATA / "jfk.ogg").read_bytes())
    long = load_clip("LJ Speech 0001-0009", lj_speech_minute())
    m = asyncio.run(measure(args.runs, args.jobs, short, long))
    raw_short, raw_long = m["raw_11s_s"], m["raw_long_s"]

    overhead = m["pipeline_11s_s"] - raw_short
    ratio_long = m["pipeline_long_s"] / raw_long
    scaling = m["jobs_per_min_2_workers"] / m["jobs_per_min_1_worker"]
    ms: Callable[[float], str] = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    rows = [
        ("raw engine, 11 s note", ms(raw_short), "", ""),
        ("pipeline, 11 s note", ms(m["pipeline_11s_s"]), "", ""),
        ("overhead, 11 s note", ms(overhead), "<= 150 ms", _ok(overhead <= 0.150)),
        (f"raw engine, {long.duration} s note", ms(raw_long), "", ""),
        (f"pipeline, {long.duration} s note", ms(m["pipeline_long_s"]), "", ""),
        (
            f"pipeline / raw, {long.duration} s",
            f"{ratio_long:.3f}x",
            "<= 1.05x",
            _ok(ratio_long <= 1.05),
        ),
        (
            "first status reply",
            ms(m["first_status_s"]),
            "<= 300 ms",
            _ok(m["first_status_s"] <= 0.3),
        ),
        (
            "cached (forwarded) answer",
            ms(m["cached_answer_s"]),
            "<= 300 ms",
            _ok(m["cached_answer_s"] <= 0.3),
        ),
        ("jobs/min, 1 worker", f"{m['jobs_per_min_1_worker']:.1f}", "", ""),
        ("jobs/min, 2 workers", f"{m['jobs_per_min_2_workers']:.1f}", "", ""),
        ("2 workers / 1 worker", f"{scaling:.2f}x", ">= 1.7x", _ok(scaling >= 1.7)),
    ]
    for label, key in (("11 s", "stages_ms_short"), (f"{long.duration} s", "stages_ms_long")):
        stages = ", ".join(f"{name} {value:.0f}" for name, value in m[key].items())
        rows.append((f"worker stages, {label} (ms)", stages, "", ""))
    print_table(
        f"A2T benchmark (Whisper tiny.en int8, cpu_threads=1, medians of {args.runs})", rows
    )
    path = write_results(
        "a2t",
        {
            **m,
            "overhead_11s_s": overhead,
            "ratio_long": ratio_long,
            "scaling_2_workers": scaling,
        },
    )
    print(f"\nwritten: {path}")
    return 0


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    sys.exit(main())
