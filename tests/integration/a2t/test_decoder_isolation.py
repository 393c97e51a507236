"""A decoder that hangs or crashes costs its child process, never the worker: the
caller gets DecoderFailedError (tried again, within the job's tries) and the next
decode runs in a fresh child. Real processes, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.a2t import DATA, audio_bytes, jfk_repeated
from worker.audio import AudioError, DecoderFailedError, DecoderProcess, decode


@pytest.fixture
async def child() -> DecoderProcess:
    decoder = DecoderProcess()
    yield decoder  # type: ignore[misc]
    await decoder.close()


async def _jfk(child: DecoderProcess) -> float:
    return (
        await decode(audio_bytes("jfk.ogg"), max_seconds=60, timeout_s=30, child=child)
    ).duration


async def test_a_hung_decoder_is_killed_and_replaced(child: DecoderProcess) -> None:
    assert await _jfk(child) == pytest.approx(11.0, abs=0.05)
    hung = child.pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)  # it will never answer
    with pytest.raises(DecoderFailedError, match="no answer"):
        await decode(audio_bytes("jfk.ogg"), max_seconds=60, timeout_s=0.5, child=child)
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # killed, and reaped
    assert await _jfk(child) == pytest.approx(11.0, abs=0.05)
    assert child.pid not in (None, hung)


async def test_a_decoder_crash_mid_file_is_a_failed_try_not_a_dead_worker(
    child: DecoderProcess,
) -> None:
    await child.start()
    crashed = child.pid
    assert crashed is not None
    long_note = jfk_repeated(55)  # 10 minutes: decoding takes a while
    decoding = asyncio.create_task(decode(long_note, max_seconds=1200, timeout_s=60, child=child))
    await asyncio.sleep(0.3)
    os.kill(crashed, signal.SIGSEGV)  # as a fault inside libavcodec would
    with pytest.raises(DecoderFailedError, match="SIGSEGV"):
        await decoding
    assert await _jfk(child) == pytest.approx(11.0, abs=0.05)
    assert child.pid != crashed


async def test_the_childs_verdicts_are_audio_errors(child: DecoderProcess) -> None:
    with pytest.raises(AudioError) as excinfo:
        await decode(audio_bytes("not_audio.ogg"), max_seconds=60, timeout_s=30, child=child)
    assert excinfo.value.code == "unreadable"
    first = child.pid
    assert await _jfk(child) == pytest.approx(11.0, abs=0.05)
    assert child.pid == first  # a verdict costs no restart


async def test_the_ffmpeg_program_that_hangs_is_killed(tmp_path: Path) -> None:
    """A live HLS playlist makes the `ffmpeg` program wait for segments forever."""
    segment = tmp_path / "segment.ogg"
    segment.write_bytes((DATA / "jfk.ogg").read_bytes())
    playlist = (
        f"#EXTM3U\n#EXT-X-TARGETDURATION:11\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:11.0,\n{segment}\n"
    ).encode()
    with pytest.raises(DecoderFailedError, match="no answer"):
        await decode(playlist, max_seconds=60, timeout_s=2, in_process=False)
