"""Long audio in windows cut at pauses (worker/windows.py), through the real decoding
child, the real Whisper tiny.en and real speech: the words match the whole file's, and
the status message shows them in order as the windows finish."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import JobStatus
from bot.settings import Settings
from bot.telegram.botapi import BotAPI
from tests import factories as f
from tests.a2t import hit_rate, lj_minute_reference, lj_speech_minute, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import A2T_TEST_SETTINGS, make_worker
from worker.audio import DecoderProcess, decode_with_pyav
from worker.engines import Engine, Segment, TranscribeOptions
from worker.windows import MemorySource, find_cut, transcribe_windows

BOB = f.user(id=7301, first_name="Bob")
CHAT = f.private_chat(BOB)
WINDOW_S = 15  # several windows in the ~58 s note


@pytest.fixture(scope="module")
def minute_note() -> bytes:
    return lj_speech_minute()


async def test_windows_read_as_the_whole_file(tiny_engine: Engine, minute_note: bytes) -> None:
    samples = decode_with_pyav(minute_note, 120, 60)
    whole = tiny_engine.transcribe(samples, TranscribeOptions())
    seen: list[Segment] = []
    windowed = await transcribe_windows(
        tiny_engine,
        MemorySource(samples),
        TranscribeOptions(on_segment=seen.append),
        executor=None,  # the loop's default executor
        window_s=WINDOW_S,
    )
    reference = lj_minute_reference()
    # Windows this short (several in a minute) are the hard case: production's are 300 s.
    assert hit_rate(reference, windowed.text) >= hit_rate(reference, whole.text) - 3
    assert hit_rate(reference, windowed.text) > 85
    # In the note's time, in order, each reported as it came.
    assert seen == windowed.segments
    assert len(windowed.segments) >= 4
    starts = [s.start for s in windowed.segments]
    assert starts == sorted(starts)
    assert windowed.segments[-1].end <= windowed.duration + 0.5
    assert windowed.duration == pytest.approx(whole.duration, abs=0.01)


async def test_a_note_up_to_the_window_is_one_call_as_faster_whisper_alone(
    tiny_engine: Engine, minute_note: bytes
) -> None:
    samples = decode_with_pyav(minute_note, 120, 60)
    whole = tiny_engine.transcribe(samples, TranscribeOptions())
    windows = 0

    def count() -> None:
        nonlocal windows
        windows += 1

    one = await transcribe_windows(
        tiny_engine,
        MemorySource(samples),
        TranscribeOptions(),
        executor=None,
        window_s=50,  # 58 s is within 1.2 x 50 s
        on_window=count,
    )
    assert windows == 1
    assert one.segments == whole.segments


async def test_the_cut_falls_in_a_pause(minute_note: bytes) -> None:
    samples = decode_with_pyav(minute_note, 120, 60)
    window = samples[: 30 * 16_000]
    cut = find_cut(window)
    assert 25 * 16_000 <= cut <= 30 * 16_000
    around = window[cut - 800 : cut + 800]  # 0.1 s either side
    loudness = float((around**2).mean())
    speech = float((window**2).mean())
    assert loudness < speech / 20


async def test_partials_are_posted_in_order_as_windows_finish(
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    db: async_sessionmaker[AsyncSession],
    botapi: BotAPI,
    tiny_engine: Engine,
    decoder: DecoderProcess,
    feed: Any,
    fake_api: FakeBotAPI,
    minute_note: bytes,
) -> None:
    settings: Settings = make_settings(
        pg_url,
        # Edits far apart: only the first words are sent at once, the rest on the clock.
        a2t={**A2T_TEST_SETTINGS, "window_s": WINDOW_S, "progress_interval_s": 1.0},
        redis={"url": redis_url, "queue_name": "test:a2t"},
    )
    worker = make_worker(settings, db, botapi, tiny_engine, decoder)
    await feed(voice_note(fake_api, minute_note, user=BOB, chat=CHAT, duration=58))
    await worker.run_all()

    job = await worker.job()
    assert job.status == JobStatus.DONE
    final = normalise(job.text or "")
    assert hit_rate(lj_minute_reference(), job.text or "") > 85
    partials = [
        str(c.params["text"]).split("\n\n", 1)[1]
        for c in fake_api.calls_of("editMessageText")
        if str(c.params["text"]).startswith("⏳") and "\n\n" in str(c.params["text"])
    ]
    assert partials, "no words were shown before the result"
    # Each shows the transcript so far (its end when long: "…" and the last words),
    # growing from one edit to the next.
    ends = [_end_in(final, partial) for partial in partials]
    assert ends == sorted(ends)
    assert ends[0] < len(final)


def _end_in(final: list[str], partial: str) -> int:
    """Where the partial's words end in the final words (they must appear there)."""
    words = normalise(partial)
    if partial.startswith("…"):
        words = words[1:]  # the preview may begin inside a word
    for end in range(len(words), len(final) + 1):
        if final[end - len(words) : end] == words:
            if not partial.startswith("…"):
                assert end == len(words), "an untruncated partial is the beginning"
            return end
    raise AssertionError(f"partial not in the final transcript: {partial!r}")
