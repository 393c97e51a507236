"""A2T benchmark: the pipeline against the engine it wraps, for short and long notes.

    uv run python -m scripts.bench_a2t [--runs 5] [--long-runs 2] [--jobs 12]
        [--device cpu|cuda] [--audio-dir /work/shared/audio] [--skip 20min]

On one machine, in one run, with the production shape (fake Bot API on loopback ->
real dispatcher -> PostgreSQL -> arq on Redis -> `python -m worker` processes), for an
11 s voice note, ~60 s, ~5 min and ~20 min (built once from real speech with references
into .cache/bench-audio/, encoded as Telegram sends voice notes):

* raw engine: faster-whisper on the decoded samples, same model and options, in a
  process of its own that imports nothing else (`scripts/_raw_whisper.py`),
  interleaved run by run with the pipeline
* pipeline: voice note update fed -> job row done (transcript posted)
* peak RSS (VmHWM from /proc, reset before each run through clear_refs) of the worker
  process and of its decoding child, and of the raw engine's process
* time to the first partial words in the status message, beside the raw engine's time
  for the first 30 s of the note
* accuracy: hit rate (reference words found, in order) of each transcript
* first status reply, a forwarded (cached) note's answer, throughput with 1 and 2
  workers

`--device cuda` runs the workers and the raw engine with A2T__DEVICE=cuda (float16);
without a usable CUDA device it stops at once with the reason. Prints a table and
writes bench-results/a2t.json (or a2t-cuda.json).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
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
from bot.settings import Settings
from bot.telegram.dispatcher import create_bot, create_dispatcher
from scripts._bench import REDIS_URL, median, print_table, scratch_database, write_results
from tests import factories as f
from tests.a2t import DATA, JFK_PHRASE, REPO, hit_rate, normalise
from tests.fakes import FakeBotAPI
from tests.processes import Process, start
from worker.audio import decode_with_pyav

# Own queue per run: a worker left over from another run never steals these jobs.
QUEUE = f"bench:a2t:{uuid.uuid4().hex[:8]}"
CACHE = REPO / ".cache" / "bench-audio"
SHARED_AUDIO = Path("/work/shared/audio")
SAMPLE_RATE = 16_000
FIRST_WINDOW_S = 30
# English clips with reference texts, in the order they are joined into long notes.
LONG_NOTE_CLIPS = [
    "jfk.flac",
    "ls_2412-153948-0000.flac",
    *(f"lj_LJ001-{n:04d}.wav" for n in range(1, 13)),
    "lj_LJ002-0020.wav",
    "ps_librivox_sense_and_sensibility_0870.wav",
    "ps_librivox_sense_and_sensibility_0880.wav",
    "ps_goforward.wav",
]


# ------------------------------------------------------------------ /proc


def proc_kb(pid: int, field_name: str) -> int:
    """A `Vm*` line of /proc/<pid>/status, in kB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def reset_peak(pid: int) -> None:
    """Peak RSS (VmHWM) back to the current RSS: "5" to clear_refs (Linux >= 4.0)."""
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def reset_peaks(pid: int) -> None:
    for p in [pid, *children(pid)]:
        reset_peak(p)


def peaks_mb(pid: int) -> tuple[float, float]:
    """Peak RSS since the last reset: the process's and its children's (summed)."""
    own = proc_kb(pid, "VmHWM") / 1024
    kids = sum(proc_kb(c, "VmHWM") for c in children(pid)) / 1024
    return own, kids


# ------------------------------------------------------------------ audio


@dataclass
class Clip:
    label: str
    path: Path
    reference: str
    duration: float = 0.0

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def samples_path(self) -> Path:
        return CACHE / f"{self.label}.f32"


def references(audio_dir: Path) -> dict[str, str]:
    with (audio_dir / "manifest.tsv").open(newline="") as handle:
        return {r["file"]: r["reference_text"] for r in csv.DictReader(handle, delimiter="\t")}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _voice_note(listing: Path, out: Path) -> None:
    """OGG/Opus, mono, 48 kHz, 32 kbit/s: as Telegram sends voice notes."""
    partial = out.with_suffix(".part.ogg")
    _ffmpeg(
        *("-f", "concat", "-safe", "0", "-i", str(listing)),
        *("-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-ar", "48000", str(partial)),
    )
    partial.rename(out)


def build_clips(audio_dir: Path) -> list[Clip]:
    """The four notes, built once into .cache/bench-audio/ (the long ones are MBs)."""
    refs = references(audio_dir)
    CACHE.mkdir(parents=True, exist_ok=True)
    # Every source clip once as 48 kHz mono WAV, so the concat demuxer can join them.
    normal: dict[str, Path] = {}
    for name in {"jfk.flac", *LONG_NOTE_CLIPS}:
        wav = CACHE / f"{Path(name).stem}.48k.wav"
        if not wav.exists():
            _ffmpeg("-i", str(audio_dir / name), "-ac", "1", "-ar", "48000", str(wav))
        normal[name] = wav
    lengths = {name: _wav_seconds(path) for name, path in normal.items()}

    def joined(label: str, names: list[str]) -> Clip:
        out = CACHE / f"{label}.ogg"
        if not out.exists():
            with tempfile.TemporaryDirectory() as tmp:
                listing = Path(tmp) / "list.txt"
                listing.write_text("".join(f"file '{normal[n]}'\n" for n in names))
                _voice_note(listing, out)
        return Clip(label, out, " ".join(refs[n] for n in names))

    def cycle(seconds: float) -> list[str]:
        names: list[str] = []
        total = 0.0
        while total < seconds:
            name = LONG_NOTE_CLIPS[len(names) % len(LONG_NOTE_CLIPS)]
            names.append(name)
            total += lengths[name]
        return names

    minute = [f"lj_LJ001-{n:04d}.wav" for n in range(1, 10)]
    return [
        Clip("11s", DATA / "jfk.ogg", refs["jfk.ogg"]),
        joined("60s", minute),
        joined("5min", cycle(300)),
        # Under the default A2T__MAX_DURATION_S (1200 s).
        joined("20min", cycle(1170)),
    ]


def _wav_seconds(path: Path) -> float:
    return (path.stat().st_size - 44) / 2 / 48_000  # 16-bit mono PCM after a 44-byte header


# ------------------------------------------------------------------ raw engine


class RawEngine:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, device: str) -> RawEngine:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "scripts._raw_whisper", "--device", device),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        raw = cls(proc)
        await raw._answer()
        return raw

    async def run(self, clip: Clip, **flags: bool) -> dict[str, Any]:
        """`first_window`: also time the first 30 s alone."""
        assert self.proc.stdin is not None
        request = {"samples": str(clip.samples_path), **flags}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._answer()

    async def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = (await self.proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the raw engine process ended")
            if line.startswith("RESULT "):
                answer: dict[str, Any] = json.loads(line[len("RESULT ") :])
                return answer

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()


# ------------------------------------------------------------------ pipeline


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
        self.workers: list[Process] = []

    async def start_workers(self, count: int) -> None:
        started = [await start("worker", self.env) for _ in range(count)]
        self.workers.extend(started)
        for proc in started:
            await proc.wait_for_output("engine ready", timeout=300)

    async def stop_workers(self) -> None:
        for proc in self.workers:
            await proc.terminate()
        self.workers.clear()

    async def wait_done(self) -> None:
        async with asyncio.timeout(60):
            while await self._open_jobs():  # noqa: ASYNC110 - the database has no event
                await asyncio.sleep(0.02)

    async def _open_jobs(self) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(
                    TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
                )
            )
        return count or 0

    async def last_job(self) -> TranscriptionJob:
        async with self.sessions() as session:
            job = await session.scalar(
                select(TranscriptionJob).order_by(TranscriptionJob.id.desc()).limit(1)
            )
        assert job is not None
        return job

    def note(self, clip: bytes, duration: int, unique: str | None = None) -> dict[str, Any]:
        """A voice note from a new user: Telegram's per-chat pacing (~1 message a second,
        applied by our sender) is not what this measures."""
        user = f.user(first_name="Bench")
        file = self.api.add_file(clip, file_unique_id=unique)
        voice = f.voice(
            file_id=file["file_id"],
            file_unique_id=file["file_unique_id"],
            duration=duration,
            file_size=len(clip),
        )
        chat = f.private_chat(user)
        return f.message_update(f.message(from_user=user, chat=chat, voice=voice))

    async def feed(self, update: dict[str, Any]) -> None:
        self.api.observe(update)
        await self.dispatcher.feed_raw_update(self.bot, update)

    async def transcribe(self, clip: Clip) -> dict[str, Any]:
        """One note through the pipeline: seconds from the update to the status reply,
        to the first partial words, to the job done; peak RSS; the transcript."""
        worker = self.workers[0].proc.pid
        reset_peaks(worker)
        update = self.note(clip.data, round(clip.duration))
        mark = len(self.api.calls)
        started = time.monotonic()
        await self.feed(update)
        status = await self.api.wait_for_call("sendMessage", after=mark)
        # The last part of the result carries the footer. Polled in memory: a database
        # poll every few ms would take CPU from the worker being measured.
        async with asyncio.timeout(1800):
            while not any(_is_transcript(c) for c in self.api.calls[mark:]):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        done = time.monotonic()
        await self.wait_done()
        job = await self.last_job()
        if job.status != JobStatus.DONE:
            raise RuntimeError(f"job ended {job.status}: {job.error_message}")
        partials = [c.at for c in self.api.calls[mark:] if _is_partial(c)]
        own, kids = peaks_mb(worker)
        return {
            "status_s": status.at - started,
            "total_s": done - started,
            "first_partial_s": partials[0] - started if partials else None,
            "partials": len(partials),
            "worker_peak_mb": own,
            "decoder_peak_mb": kids,
            "text": job.text or "",
        }


def _is_partial(call: Any) -> bool:
    """A progress edit that shows words (not only the percentage)."""
    text = str(call.params.get("text", ""))
    return call.method == "editMessageText" and text.startswith("⏳") and "\n\n" in text


def _is_transcript(call: Any) -> bool:
    text = str(call.params.get("text", ""))
    return "Transcribing" not in text and "⏱" in text


@asynccontextmanager
async def rig(db_url: str, device: str) -> AsyncIterator[Rig]:
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    async with FakeBotAPI() as api:
        settings = Settings(
            _env_file=None,
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
            "A2T__DEVICE": device,
            "A2T__USER_DAILY_MINUTES": "100000",
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


def stage_medians(worker: Process, first: int, end: int) -> dict[str, float]:
    """Median of each pipeline stage over the worker's jobs first..end-1 (log order)."""
    done = [json.loads(line) for line in worker.output if '"job done"' in line]
    stages = [d["stages_ms"] for d in done[first:end]]
    names = [n for n in stages[0] if all(n in s for s in stages)] if stages else []
    return {name: median([s[name] for s in stages]) for name in names}


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
    started = time.monotonic()
    await r.feed(forwarded)
    answer = await r.api.wait_for_call("sendMessage", after=mark)
    assert JFK_PHRASE in " ".join(normalise(answer.params["text"])), answer.params["text"]
    return answer.at - started


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


# ------------------------------------------------------------------ the run


@dataclass
class Row:
    clip: Clip
    raw: list[dict[str, Any]] = field(default_factory=list)
    pipeline: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        raw_s = median([r["seconds"] for r in self.raw])
        pipe_s = median([p["total_s"] for p in self.pipeline])
        firsts = [p["first_partial_s"] for p in self.pipeline if p["first_partial_s"]]
        windows = [r["first_window_s"] for r in self.raw if "first_window_s" in r]
        return {
            "duration_s": self.clip.duration,
            "raw_s": raw_s,
            "pipeline_s": pipe_s,
            "ratio": pipe_s / raw_s,
            "raw_peak_mb": max(r["peak_mb"] for r in self.raw),
            "worker_peak_mb": max(p["worker_peak_mb"] for p in self.pipeline),
            "decoder_peak_mb": max(p["decoder_peak_mb"] for p in self.pipeline),
            "first_partial_s": median(firsts) if firsts else None,
            "raw_first_window_s": median(windows) if windows else None,
            "hit_rate_raw": hit_rate(self.clip.reference, self.raw[-1]["text"]),
            "hit_rate_pipeline": hit_rate(self.clip.reference, self.pipeline[-1]["text"]),
            "first_status_s": median([p["status_s"] for p in self.pipeline]),
            "runs": len(self.pipeline),
        }


async def measure(args: argparse.Namespace, clips: list[Clip]) -> dict[str, Any]:
    results: dict[str, Any] = {"loadavg_before": os.getloadavg()}
    raw = await RawEngine.start(args.device)
    try:
        # The lengths here, not in the raw engine's process: memory a process has once
        # held stays with it (so the notes also go shortest first).
        for clip in clips:
            samples = decode_with_pyav(clip.data, 3600, 600)
            clip.duration = len(samples) / SAMPLE_RATE
            samples.tofile(clip.samples_path)  # the raw engine's input, decoded once
        del samples
        await raw.run(clips[0])  # warm-up
        async with scratch_database("bench_a2t") as db_url, rig(db_url, args.device) as r:
            await r.start_workers(1)
            await asyncio.sleep(1)
            results["idle_worker_rss_mb"] = proc_kb(r.workers[0].proc.pid, "VmRSS") / 1024
            results["idle_decoder_rss_mb"] = (
                sum(proc_kb(c, "VmRSS") for c in children(r.workers[0].proc.pid)) / 1024
            )
            await r.transcribe(clips[0])  # the pipeline's warm-up
            jobs_done = 1
            for clip in clips:
                runs = args.runs if clip.duration < 120 else args.long_runs
                row = Row(clip)
                for _ in range(runs):
                    long = clip.duration > 2 * FIRST_WINDOW_S
                    row.raw.append(await raw.run(clip, first_window=long))
                    row.pipeline.append(await r.transcribe(clip))
                summary = row.summary()
                summary["stages_ms"] = stage_medians(r.workers[0], jobs_done, jobs_done + runs)
                jobs_done += runs
                results[clip.label] = summary
                print(f"{clip.label}: {json.dumps(summary)}", flush=True)
            if args.jobs:
                results["cached_answer_s"] = await cached_answer(r, clips[0].data)
                one = await throughput(r, clips[0].data, args.jobs, 1)
                two = await throughput(r, clips[0].data, args.jobs, 2)
                results["jobs_per_min_1_worker"] = one
                results["jobs_per_min_2_workers"] = two
                results["scaling_2_workers"] = two / one
    finally:
        await raw.close()
    results["loadavg_after"] = os.getloadavg()
    return results


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def report(args: argparse.Namespace, m: dict[str, Any], clips: list[Clip]) -> None:
    rows: list[tuple[str, str, str, str]] = [
        ("idle worker RSS", f"{m['idle_worker_rss_mb']:.0f} MB", "", ""),
        ("idle decoding child RSS", f"{m['idle_decoder_rss_mb']:.0f} MB", "", ""),
    ]
    base = m.get("60s", {}).get("worker_peak_mb")
    for clip in clips:
        s = m[clip.label]
        name = f"{clip.label} ({s['duration_s']:.0f} s)"
        target = 1.10 if clip.label == "11s" else 1.03
        rows += [
            (f"{name}: raw engine", _ms(s["raw_s"]), "", ""),
            (f"{name}: pipeline", _ms(s["pipeline_s"]), "", ""),
            (
                f"{name}: pipeline / raw",
                f"{s['ratio']:.3f}x",
                f"<= {target:.2f}x" if clip.label != "20min" else "",
                _ok(s["ratio"] <= target) if clip.label != "20min" else "",
            ),
            (f"{name}: raw engine peak RSS", f"{s['raw_peak_mb']:.0f} MB", "", ""),
        ]
        if clip.duration <= 61:
            rows.append(
                (
                    f"{name}: worker peak RSS",
                    f"{s['worker_peak_mb']:.0f} MB",
                    "<= 300 MB",
                    _ok(s["worker_peak_mb"] <= 300),
                )
            )
        else:
            flat = base is not None and s["worker_peak_mb"] <= base + 100
            rows.append(
                (
                    f"{name}: worker peak RSS",
                    f"{s['worker_peak_mb']:.0f} MB",
                    "<= 60 s + 100 MB",
                    _ok(flat),
                )
            )
        rows.append((f"{name}: decoding child peak RSS", f"{s['decoder_peak_mb']:.0f} MB", "", ""))
        if s["raw_first_window_s"] is not None:
            limit = s["raw_first_window_s"] + 1
            first = s["first_partial_s"]
            rows.append(
                (
                    f"{name}: first partial words",
                    _ms(first),
                    f"<= {limit * 1000:.0f} ms",
                    _ok(first is not None and first <= limit),
                )
            )
        rows.append(
            (
                f"{name}: hit rate raw / pipeline",
                f"{s['hit_rate_raw']:.1f} / {s['hit_rate_pipeline']:.1f} %",
                "within 1 point",
                _ok(s["hit_rate_pipeline"] >= s["hit_rate_raw"] - 1),
            )
        )
        stages = ", ".join(f"{k} {v:.0f}" for k, v in s["stages_ms"].items())
        rows.append((f"{name}: worker stages (ms)", stages, "", ""))
    if "11s" in m:
        rows.append(("first status reply (11 s)", _ms(m["11s"]["first_status_s"]), "<= 300 ms", ""))
    if "scaling_2_workers" in m:
        rows += [
            ("cached (forwarded) answer", _ms(m["cached_answer_s"]), "<= 300 ms", ""),
            ("jobs/min, 1 worker", f"{m['jobs_per_min_1_worker']:.1f}", "", ""),
            ("jobs/min, 2 workers", f"{m['jobs_per_min_2_workers']:.1f}", "", ""),
            (
                "2 workers / 1 worker",
                f"{m['scaling_2_workers']:.2f}x",
                ">= 1.9x",
                _ok(m["scaling_2_workers"] >= 1.9),
            ),
        ]
    load = ", ".join(f"{x:.2f}" for x in m["loadavg_before"])
    print_table(
        f"A2T benchmark ({args.device}; medians of {args.runs} runs, {args.long_runs} for "
        f"long notes; loadavg before {load})",
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--long-runs", type=int, default=2, help="runs for 5 and 20 min")
    parser.add_argument("--jobs", type=int, default=12, help="0: no throughput phase")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--audio-dir", type=Path, default=SHARED_AUDIO)
    parser.add_argument("--skip", action="append", default=[], help="a note to leave out")
    args = parser.parse_args()
    if args.device == "cuda":
        from worker.engines.whisper_engine import cuda_usable

        usable, why = cuda_usable()
        if not usable:
            print(f"error: --device cuda needs a CUDA device CTranslate2 can use: {why}")
            return 2
    if not (args.audio_dir / "manifest.tsv").exists():
        print(f"error: no manifest.tsv in {args.audio_dir} (--audio-dir)")
        return 2
    clips = [c for c in build_clips(args.audio_dir) if c.label not in args.skip]
    m = asyncio.run(measure(args, clips))
    report(args, m, clips)
    name = "a2t" if args.device == "cpu" else f"a2t-{args.device}"
    path = write_results(name, {"device": args.device, **m})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
