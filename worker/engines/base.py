"""The engine protocol: 16 kHz mono float32 samples in, a Transcript out.

Engines are synchronous and run in an executor thread; they report each segment
through `on_segment` and stop between segments when `should_stop()` turns true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Samples = npt.NDArray[np.float32]

SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    segments: list[Segment]
    language: str | None
    duration: float
    language_probability: float | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    language: str | None = None  # None: detect (multilingual models only)
    on_segment: Callable[[Segment], None] = field(default=lambda _: None)
    should_stop: Callable[[], bool] = field(default=lambda: False)


class TranscriptionStopped(Exception):
    """`should_stop()` asked the engine to stop (the job was cancelled)."""


class EngineUnavailableError(RuntimeError):
    """The engine's library or model is missing: the worker cannot start."""


class Engine(Protocol):
    name: str
    model_name: str
    device: str
    multilingual: bool

    def transcribe(self, samples: Samples, options: TranscribeOptions) -> Transcript: ...
