"""Decode any audio/video Telegram sends into 16 kHz mono float32 samples, once, for
every engine: ffmpeg under a time limit, with the output capped at the duration limit."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ffmpeg
import numpy as np

from worker.engines.base import SAMPLE_RATE

if TYPE_CHECKING:
    from worker.engines.base import Samples

BYTES_PER_SAMPLE = 4  # float32
READ_CHUNK = 256 * 1024


class AudioError(Exception):
    """The input cannot be transcribed; retrying would not help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


async def decode(data: bytes, *, max_seconds: float, timeout_s: float) -> DecodedAudio:
    if not data:
        raise AudioError("empty", "The file is empty.")
    with tempfile.TemporaryDirectory(prefix="a2t-") as tmp:
        # A file, not a pipe: MP4 video notes may keep their index at the end.
        source = Path(tmp) / "input"
        source.write_bytes(data)
        raw = await _run_ffmpeg(ffmpeg_args(source, max_seconds), timeout_s)
    samples = np.frombuffer(raw[: len(raw) - len(raw) % BYTES_PER_SAMPLE], dtype=np.float32)
    if not len(samples):
        raise AudioError("empty", "The file contains no audio.")
    audio = DecodedAudio(samples)
    if audio.duration > max_seconds:
        raise AudioError(
            "too_long", f"The recording is longer than the limit of {_minutes(max_seconds)}."
        )
    return audio


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
        raise AudioError("decode_timeout", "Decoding this file took too long.") from None
    # Partial output from a damaged file is still usable; none at all is not.
    if proc.returncode != 0 and not stdout:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise AudioError(
            "unreadable",
            "This file is not audio I can read, or it is damaged.",
        ) from RuntimeError(f"ffmpeg exited {proc.returncode}: {detail}")
    return stdout


def _minutes(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes else f"{int(seconds)} s"
