"""Decode any audio/video Telegram sends into 16 kHz mono float32 samples, once, for
every engine, under a time limit and capped at the duration limit.

Both decoders are FFmpeg, and both run outside the caller's process, so a file that
hangs or crashes the decoder costs a child process, not the worker: PyAV (FFmpeg's
libraries, installed with faster-whisper) in a long-lived child (`worker.decoder`),
because a process start per file costs more than the decode of a short note
(docs/PERFORMANCE.md); without PyAV, the `ffmpeg` program through ffmpeg-python.

A verdict on the file (not audio, empty, too long) is an AudioError: the job fails.
A decoder that hangs past the time limit or dies is a DecoderFailedError: it may be
the machine rather than the file, so the job is tried again, within its tries."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ffmpeg
import numpy as np

from bot.errors import UserFacingError
from bot.texts import N_
from worker.decoder import ChildAudioError, DecoderFailedError, DecoderProcess, Spool
from worker.engines.base import SAMPLE_RATE
from worker.windows import MemorySource, Source

if TYPE_CHECKING:
    from worker.engines.base import Samples

__all__ = [
    "AudioError",
    "DecodedAudio",
    "DecoderFailedError",
    "DecoderProcess",
    "check_length",
    "decode",
    "open_audio",
]

BYTES_PER_SAMPLE = 4  # float32
READ_CHUNK = 256 * 1024


class AudioError(UserFacingError):
    """The input cannot be transcribed; retrying would not help. `code` labels the
    failure (metrics, the job row); the text is a msgid shown in the reader's language."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message, **params)
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: Samples

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def ffmpeg_args(source: Path, max_seconds: float) -> list[str]:
    stream = ffmpeg.input(str(source), t=max_seconds + 1).output(
        "pipe:1", format="f32le", acodec="pcm_f32le", ac=1, ar=SAMPLE_RATE, vn=None
    )
    args: list[str] = stream.global_args("-nostdin", "-hide_banner", "-v", "error").compile()
    return args


UNREADABLE = N_("This file is not audio I can read, or it is damaged.")


async def decode(
    data: bytes,
    *,
    max_seconds: float,
    timeout_s: float,
    child: DecoderProcess | None = None,
    in_process: bool | None = None,
) -> DecodedAudio:
    """With `child`: PyAV in that child process (the pipeline's way). Without: PyAV in
    a thread (`in_process`, the default when PyAV is installed; tests and benchmarks)
    or the ffmpeg program."""
    if not data:
        raise AudioError("empty", N_("The file is empty."))
    if child is not None:
        try:
            samples = await child.decode(data, max_seconds, timeout_s)
        except ChildAudioError as exc:
            raise _child_error(exc.code) from None
    else:
        if in_process is None:
            in_process = importlib.util.find_spec("av") is not None
        if in_process:
            try:
                samples = await asyncio.to_thread(decode_with_pyav, data, max_seconds, timeout_s)
            except AudioError as exc:
                raise _child_error(exc.code) from None
        else:
            samples = await _decode_with_program(data, max_seconds, timeout_s)
    check_length(len(samples), max_seconds)
    return DecodedAudio(samples)


def check_length(samples: int, max_seconds: float) -> float:
    """The decoded length in seconds; AudioError when there is none or too much."""
    if not samples:
        raise AudioError("empty", N_("The file contains no audio."))
    seconds = samples / SAMPLE_RATE
    if seconds > max_seconds:
        raise AudioError(
            "too_long",
            N_("The recording is longer than the limit of {minutes} min."),
            minutes=max(1, int(max_seconds // 60)),
        )
    return seconds


class _SpoolSource:
    """The decoding child's spool as a windows.Source, its verdicts as AudioError."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    @property
    def total(self) -> int | None:
        return self.spool.total

    @property
    def available(self) -> int:
        return self.spool.available

    async def wait_for(self, samples: int) -> int:
        try:
            return await self.spool.wait_for(samples)
        except ChildAudioError as exc:
            raise _child_error(exc.code) from None

    async def wait_finished(self) -> int:
        try:
            return await self.spool.wait_finished()
        except ChildAudioError as exc:
            raise _child_error(exc.code) from None

    def read(self, start: int, end: int) -> Samples:
        return self.spool.read(start, end)


@contextlib.asynccontextmanager
async def open_audio(
    data: bytes, *, max_seconds: float, timeout_s: float, child: DecoderProcess | None
) -> AsyncIterator[Source]:
    """The samples as a Source the engine reads window by window: with `child`, while
    the child is still decoding (spooled to a temporary file, see worker/decoder.py);
    without, once the ffmpeg program has decoded them all. The length is checked by
    the caller (`check_length`) once `wait_finished` gives it."""
    if not data:
        raise AudioError("empty", N_("The file is empty."))
    if child is None:
        audio = await decode(data, max_seconds=max_seconds, timeout_s=timeout_s)
        yield MemorySource(audio.samples)
        return
    async with child.spool(data, max_seconds, timeout_s, Path(tempfile.gettempdir())) as spool:
        yield _SpoolSource(spool)


def _child_error(code: str) -> Exception:
    if code == "decode_timeout":
        return DecoderFailedError("decoding took longer than the limit")
    return AudioError("unreadable", UNREADABLE)


def decode_with_pyav(data: bytes, max_seconds: float, timeout_s: float) -> Samples:
    """All the samples at once (tests, benchmarks, the thread fallback)."""
    chunks = list(iter_pyav(data, max_seconds, timeout_s))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def iter_pyav(
    data: bytes, max_seconds: float, timeout_s: float, block_s: float = 1.0
) -> Iterator[Samples]:
    """PyAV on the bytes in memory (no file, no nested opens), in blocks of about
    `block_s` as they are decoded, so that a consumer can start before the end. Runs
    in the decoding child; the deadline gives a clean answer to a slow file before the
    parent's kill."""
    import av

    deadline = time.monotonic() + timeout_s
    limit = int((max_seconds + 1) * SAMPLE_RATE)  # enough to tell "too long"
    block = max(1, int(block_s * SAMPLE_RATE))
    pending: list[Samples] = []
    pending_len = total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("unreadable", UNREADABLE)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunk = _mono_float(out)
                    pending.append(chunk)
                    pending_len += len(chunk)
                    total += len(chunk)
                if pending_len >= block:
                    yield _joined(pending)
                    pending, pending_len = [], 0
                if total > limit:
                    break
                if time.monotonic() > deadline:
                    raise AudioError("decode_timeout", "decoding took longer than the limit")
            pending.extend(_mono_float(out) for out in resampler.resample(None))
    except (av.error.FFmpegError, EOFError) as exc:
        # A damaged file may still have given usable audio before the damage.
        if not total:
            raise AudioError("unreadable", UNREADABLE) from exc
    if pending:
        yield _joined(pending)


def _joined(chunks: list[Samples]) -> Samples:
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def _mono_float(frame: Any) -> Samples:
    samples: Samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    return samples


async def _decode_with_program(data: bytes, max_seconds: float, timeout_s: float) -> Samples:
    with tempfile.TemporaryDirectory(prefix="a2t-") as tmp:
        # A file, not a pipe: MP4 video notes may keep their index at the end.
        source = Path(tmp) / "input"
        source.write_bytes(data)
        raw = await _run_ffmpeg(ffmpeg_args(source, max_seconds), timeout_s)
    return np.frombuffer(raw[: len(raw) - len(raw) % BYTES_PER_SAMPLE], dtype=np.float32)


async def _run_ffmpeg(args: list[str], timeout_s: float) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise DecoderFailedError(f"ffmpeg gave no answer in {timeout_s:g} s") from None
    if proc.returncode is not None and proc.returncode < 0:  # a crash, not a verdict
        raise DecoderFailedError(f"ffmpeg was killed by signal {-proc.returncode}")
    # Partial output from a damaged file is still usable; none at all is not.
    if proc.returncode != 0 and not stdout:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise AudioError("unreadable", UNREADABLE) from RuntimeError(
            f"ffmpeg exited {proc.returncode}: {detail}"
        )
    return stdout
