"""Long audio in windows: the engine transcribes one window at a time, each cut at a
pause near its end, so that memory does not grow with the note's length, and the first
words of a long note are ready after its first 30 s rather than after the whole.

Each window costs about one Whisper pass more than the same audio inside a whole file
(Whisper reads 30 s passes and re-reads the tail after the last complete segment), so
windows are long (`A2T__WINDOW_S`, 300 s by default) and a note up to `SLACK` times
that is transcribed in one call, exactly as faster-whisper alone would. A longer note
gets a first window of `FIRST_WINDOW_S`, for its first words, then windows of
`window_s`. The cut is the quietest stretch (`PAUSE_S`, by mean energy) in the window's
last `SEARCH_S`: a pause between words or sentences. The language a multilingual model
detects in the first window is kept for the rest, as for a whole file.

The samples come from a `Source`: the decoder's spool file, filled while the engine
works (worker/decoder.py), or samples already in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Protocol

import numpy as np

from worker.engines.base import (
    SAMPLE_RATE,
    Engine,
    Segment,
    TranscribeOptions,
    Transcript,
    TranscriptionStopped,
)

if TYPE_CHECKING:
    from worker.engines.base import Samples

SEARCH_S = 5.0
PAUSE_S = 0.2
FIRST_WINDOW_S = 30.0  # one Whisper pass: the first words as early as the engine allows
SLACK = 1.2  # a note this much longer than a window is still one call (no short tail)
_FRAME = SAMPLE_RATE // 100  # 10 ms


class Source(Protocol):
    @property
    def total(self) -> int | None:
        """Samples in all, once known."""

    @property
    def available(self) -> int:
        """Samples decoded so far."""

    async def wait_for(self, samples: int) -> int: ...

    async def wait_finished(self) -> int: ...

    def read(self, start: int, end: int) -> Samples: ...


class MemorySource:
    """Samples decoded before the engine starts (the ffmpeg program, tests)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    @property
    def total(self) -> int | None:
        return len(self.samples)

    @property
    def available(self) -> int:
        return len(self.samples)

    async def wait_for(self, samples: int) -> int:
        return len(self.samples)

    async def wait_finished(self) -> int:
        return len(self.samples)

    def read(self, start: int, end: int) -> Samples:
        return self.samples[start:end]


def find_cut(window: Samples, search_s: float = SEARCH_S, pause_s: float = PAUSE_S) -> int:
    """Where to end the window: the middle of its quietest `pause_s` within the last
    `search_s`."""
    frames = len(window) // _FRAME
    first = max(0, frames - int(search_s * 100))
    if frames - first < 2:
        return len(window)
    tail = window[first * _FRAME : frames * _FRAME].reshape(-1, _FRAME)
    energy = np.einsum("ij,ij->i", tail, tail)
    span = max(1, min(len(energy), int(pause_s * 100)))
    smoothed = np.convolve(energy, np.ones(span, dtype=energy.dtype), mode="valid")
    quietest = int(np.argmin(smoothed))
    return (first + quietest + span // 2) * _FRAME


async def transcribe_windows(
    engine: Engine,
    source: Source,
    options: TranscribeOptions,
    *,
    executor: Executor | None,
    window_s: float,
    first_window_s: float = FIRST_WINDOW_S,
    expected_s: float | None = None,
    on_window: Callable[[], None] = lambda: None,
) -> Transcript:
    """The engine over `source` in `executor`: in one call when the audio is at most
    `window_s` (+ `SLACK`), else a first window of `first_window_s` (early words) and
    windows of `window_s`, each cut at a pause. Segments reach `options.on_segment` in
    order, in the note's time; `on_window` runs (in the event loop) after each window.
    `window_s` <= 0: always one call. `expected_s` (the length Telegram stated): when it
    says the note is long, the first window starts as soon as it is decoded rather than
    once more than a window is (a wrong hint costs one window boundary, nothing else)."""
    loop = asyncio.get_running_loop()
    whole = int(window_s * SLACK * SAMPLE_RATE) if window_s > 0 else 2**62
    size = int(first_window_s * SAMPLE_RATE)
    long_hint = expected_s is not None and expected_s * SAMPLE_RATE > whole
    ahead = size if long_hint else whole
    segments: list[Segment] = []
    language = options.language
    first: Transcript | None = None
    start = 0
    while True:
        if options.should_stop():
            raise TranscriptionStopped
        available = await source.wait_for(start + ahead + 1)
        last = source.total is not None and source.total - start <= whole
        end = available if last else start + size
        window = source.read(start, end)
        if not last:
            end = start + find_cut(window)
            window = window[: end - start]
        offset = start / SAMPLE_RATE

        def shifted(segment: Segment, offset: float = offset) -> None:
            moved = Segment(segment.start + offset, segment.end + offset, segment.text)
            segments.append(moved)
            options.on_segment(moved)

        window_options = dataclasses.replace(options, language=language, on_segment=shifted)
        transcript = await loop.run_in_executor(executor, engine.transcribe, window, window_options)
        if first is None:
            first = transcript
            language = language or transcript.language
        on_window()
        start = end
        size = int(window_s * SAMPLE_RATE)
        ahead = whole
        if last:
            break
    assert first is not None
    assert source.total is not None
    return Transcript(
        segments=segments,
        language=first.language,
        language_probability=first.language_probability,
        duration=source.total / SAMPLE_RATE,
    )
