"""Vosk (Kaldi) engine: a model directory, CPU only, one language per model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.log import get_logger
from bot.settings import VoskSettings
from worker.engines.base import (
    SAMPLE_RATE,
    EngineUnavailableError,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)

if TYPE_CHECKING:
    from worker.engines.base import Samples

log = get_logger(__name__)
CHUNK_SECONDS = 0.5


class VoskEngine:
    name = "vosk"
    device = "cpu"
    multilingual = False

    def __init__(self, settings: VoskSettings) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise EngineUnavailableError(
                "vosk is not installed (install the `audio` extra)"
            ) from exc
        if settings.model_path is None or not Path(settings.model_path).is_dir():
            raise EngineUnavailableError(
                "A2T__VOSK__MODEL_PATH must name a Vosk model directory "
                f"(got {settings.model_path})"
            )
        vosk.SetLogLevel(-1)
        self.model_name = str(settings.model_path)
        try:
            self.model = vosk.Model(self.model_name)
        except Exception as exc:
            raise EngineUnavailableError(
                f"cannot load vosk model {self.model_name}: {exc}"
            ) from exc
        self._recognizer_cls = vosk.KaldiRecognizer
        self.language = settings.language
        log.info("vosk model loaded", model=self.model_name)

    def transcribe(self, samples: Samples, options: TranscribeOptions) -> Transcript:
        import numpy as np

        recognizer = self._recognizer_cls(self.model, SAMPLE_RATE)
        recognizer.SetWords(True)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = int(SAMPLE_RATE * CHUNK_SECONDS) * 2  # bytes of 16-bit samples
        segments: list[Segment] = []
        for offset in range(0, len(pcm), step):
            if recognizer.AcceptWaveform(pcm[offset : offset + step]):
                self._collect(recognizer.Result(), segments, options)
                if options.should_stop():
                    raise TranscriptionStopped
        self._collect(recognizer.FinalResult(), segments, options)
        return Transcript(
            segments=segments, language=self.language, duration=len(samples) / SAMPLE_RATE
        )

    @staticmethod
    def _collect(raw: str, segments: list[Segment], options: TranscribeOptions) -> None:
        result: dict[str, Any] = json.loads(raw)
        text = str(result.get("text", "")).strip()
        words = result.get("result") or []
        if not text or not words:
            return
        segment = Segment(start=float(words[0]["start"]), end=float(words[-1]["end"]), text=text)
        segments.append(segment)
        options.on_segment(segment)
