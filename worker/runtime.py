"""What a process needs to run transcription jobs: the engine (loaded once), an
inference executor and the pipeline. Shared by the worker and the embedded bot."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.log import get_logger
from bot.services.transcription import A2TStatus
from bot.settings import A2TSettings, Settings
from bot.telegram.botapi import BotAPI
from bot.texts import N_
from worker.audio import DecoderProcess
from worker.engines import Engine, load_engine
from worker.pipeline import JobDoneHook, Pipeline

log = get_logger(__name__)


def local_a2t_status(settings: A2TSettings) -> A2TStatus:
    """Can this process transcribe? (What the embedded default needs installed.)"""
    if not settings.enabled:
        return A2TStatus(False, N_("Voice transcription is switched off here."))
    module = "faster_whisper" if settings.engine == "whisper" else "vosk"
    if importlib.util.find_spec(module) is None:
        log.warning("A2T unavailable: the `audio` extra is not installed", engine=settings.engine)
        return A2TStatus(False, N_("Voice transcription is not installed on this server."))
    if shutil.which("ffmpeg") is None:
        log.warning("A2T unavailable: ffmpeg is not on PATH")
        return A2TStatus(False, N_("Voice transcription is not available: ffmpeg is missing."))
    return A2TStatus(True)


class EngineHolder:
    """Loads the engine once, in a thread (the event loop keeps serving updates)."""

    def __init__(self, settings: A2TSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[Engine] | None = None

    def start_loading(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(asyncio.to_thread(load_engine, self.settings))

    async def get(self) -> Engine:
        self.start_loading()
        assert self._task is not None
        return await self._task


def create_pipeline(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bot: BotAPI,
    engine: EngineHolder,
    on_done: Sequence[JobDoneHook] = (),
) -> tuple[Pipeline, ThreadPoolExecutor]:
    # One inference thread per process: CTranslate2 gets its own cpu_threads, and one
    # process per core scales better than more threads in one process.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="a2t-inference")
    pipeline = Pipeline(
        settings=settings,
        session_factory=sessions,
        bot=bot,
        engine=engine.get,
        executor=executor,
        # PyAV in a child process; without PyAV, the ffmpeg program (a child as well).
        decoder=DecoderProcess() if importlib.util.find_spec("av") is not None else None,
        on_done=on_done,
    )
    return pipeline, executor
