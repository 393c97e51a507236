"""Engine selection: one engine per worker process, loaded once at start-up."""

from __future__ import annotations

from bot.settings import A2TSettings
from worker.engines.base import (
    Engine,
    EngineUnavailableError,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)


def load_engine(settings: A2TSettings) -> Engine:
    """Load the configured engine; raises EngineUnavailableError with a clear message."""
    if settings.engine == "vosk":
        from worker.engines.vosk_engine import VoskEngine

        if settings.device == "cuda":
            raise EngineUnavailableError("the vosk engine runs on CPU only (A2T__DEVICE=cuda)")
        return VoskEngine(settings.vosk)
    from worker.engines.whisper_engine import load_whisper

    return load_whisper(settings.whisper, settings.device)


__all__ = [
    "Engine",
    "EngineUnavailableError",
    "Segment",
    "TranscribeOptions",
    "Transcript",
    "TranscriptionStopped",
    "load_engine",
]
