"""Decoding in a child process: a hang or a crash inside FFmpeg's libraries costs the
child, never the worker (or the bot, in the embedded default).

One long-lived child per process (`python -m worker.decoder`) decodes one file at a
time with PyAV, so a decode costs what it costs in a thread (docs/PERFORMANCE.md: the
`ffmpeg` program costs a process start per file, a fresh Python child per file more).
The parent writes the file's bytes to the child's stdin; the child answers on its
stdout with the samples, or with the code of the AudioError that rejects the file. A
decode that outlives its time limit gets the child killed; a child that dies (a crash,
the out-of-memory killer) shows as a closed pipe. Either way the caller gets
`DecoderFailedError` and the next decode starts a fresh child.

Wire format, little-endian. Request: u64 size, f64 max_seconds, f64 timeout_s, then the
file. Answer: b"S", u64 size, float32 samples; or b"E", u16 size, the error code.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import struct
import sys
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from bot.log import get_logger

if TYPE_CHECKING:
    from worker.engines.base import Samples

log = get_logger(__name__)

_REQUEST = struct.Struct("<Qdd")
_SIZE = struct.Struct("<Q")
_CODE = struct.Struct("<H")
# The child's own deadline answers first (a clean "too long"); the kill is for a child
# that no longer answers at all.
_KILL_GRACE_S = 5.0


class DecoderFailedError(Exception):
    """The decoder hung or died. Not a verdict on the file (it may be the machine):
    the job is tried again, within its tries."""


class ChildAudioError(Exception):
    """The child rejected the file; `code` names the AudioError."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class DecoderProcess:
    """The parent's handle on its decoding child, started on first use."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        async with self._lock:
            await self._ensure()

    async def decode(self, data: bytes, max_seconds: float, timeout_s: float) -> Samples:
        """Samples, or ChildAudioError (the file's fault) or DecoderFailedError."""
        async with self._lock:
            proc = await self._ensure()
            try:
                async with asyncio.timeout(timeout_s + _KILL_GRACE_S):
                    return await _exchange(proc, data, max_seconds, timeout_s)
            except TimeoutError:
                await self._kill()
                raise DecoderFailedError(f"no answer from the decoder in {timeout_s:g} s") from None
            except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError):
                code = await self._reap()
                raise DecoderFailedError(f"the decoder died ({_describe(code)})") from None
            except ChildAudioError:
                raise  # a clean answer: the child is ready for the next file
            except BaseException:
                # Cancelled mid-answer: the pipe is out of step with the protocol.
                await asyncio.shield(self._kill())
                raise

    async def close(self) -> None:
        async with self._lock:
            await self._kill()

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker.decoder",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        log.info("decoder child started", pid=self._proc.pid)
        return self._proc

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    async def _reap(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            return await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:  # its stdout closed but it lives on: make sure
            proc.kill()
            return await proc.wait()


async def _exchange(
    proc: asyncio.subprocess.Process, data: bytes, max_seconds: float, timeout_s: float
) -> Samples:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(_REQUEST.pack(len(data), max_seconds, timeout_s))
    proc.stdin.write(data)
    await proc.stdin.drain()
    kind = await proc.stdout.readexactly(1)
    if kind == b"E":
        (size,) = _CODE.unpack(await proc.stdout.readexactly(_CODE.size))
        raise ChildAudioError((await proc.stdout.readexactly(size)).decode("ascii"))
    (size,) = _SIZE.unpack(await proc.stdout.readexactly(_SIZE.size))
    raw = await proc.stdout.readexactly(size)
    return np.frombuffer(raw, dtype=np.float32)


def _describe(returncode: int | None) -> str:
    if returncode is None:
        return "unknown exit"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The child: one request at a time until the parent closes the pipe."""
    from worker.audio import AudioError, decode_with_pyav

    while True:
        header = requests.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return  # the parent is gone
        size, max_seconds, timeout_s = _REQUEST.unpack(header)
        data = requests.read(size)
        if len(data) < size:
            return
        try:
            samples = decode_with_pyav(data, max_seconds, timeout_s)
        except AudioError as exc:
            code = exc.code.encode("ascii")
            answers.write(b"E" + _CODE.pack(len(code)) + code)
        else:
            raw = np.ascontiguousarray(samples, dtype=np.float32).tobytes()
            answers.write(b"S" + _SIZE.pack(len(raw)))
            answers.write(raw)
        answers.flush()


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(sys.stdin.buffer, sys.stdout.buffer)
