"""Decoding in a child process: a hang or a crash inside FFmpeg's libraries costs the
child, never the worker (or the bot, in the embedded default).

One long-lived child per process (`python -m worker.decoder`) decodes one file at a
time with PyAV, so a decode costs what it costs in a thread (docs/PERFORMANCE.md: the
`ffmpeg` program costs a process start per file, a fresh Python child per file more).
The parent writes the file's bytes to the child's stdin; the child writes the samples,
as they are decoded, to a spool file the parent named, and says on its stdout how many
are there, so that the engine can start on the first window while the rest decodes
(and neither process holds a long note's samples in memory); at the end it says the
total, or the code of the AudioError that rejects the file. A decode that outlives its
time limit gets the child killed; a child that dies (a crash, the out-of-memory killer)
shows as a closed pipe. Either way the caller gets `DecoderFailedError` and the next
decode starts a fresh child.

Wire format, little-endian. Request: u64 size, f64 max_seconds, f64 timeout_s, u16 path
size, the spool file's path, then the file. Answers: b"P", u64 samples written so far
(any number of them); then b"S", u64 samples in all; or b"E", u16 size, the error code.
The spool file holds float32 samples, 16 kHz mono.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from bot.log import get_logger

if TYPE_CHECKING:
    from worker.engines.base import Samples

log = get_logger(__name__)

_REQUEST = struct.Struct("<QddH")
_SIZE = struct.Struct("<Q")
_CODE = struct.Struct("<H")
# The child's own deadline answers first (a clean "too long"); the kill is for a child
# that no longer answers at all.
_KILL_GRACE_S = 5.0
BYTES_PER_SAMPLE = 4  # float32


class DecoderFailedError(Exception):
    """The decoder hung or died. Not a verdict on the file (it may be the machine):
    the job is tried again, within its tries."""


class ChildAudioError(Exception):
    """The child rejected the file; `code` names the AudioError."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Spool:
    """Samples as the child decodes them, read back from the spool file by range. The
    decode runs in a task of its own; `wait_for` follows it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.available = 0
        self.total: int | None = None  # known once the child has finished
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self.total is not None or self.error is not None

    async def wait_for(self, samples: int) -> int:
        """Samples available once there are `samples`, or the decode has ended; the
        decode's failure is raised here."""
        while self.available < samples and not self.finished:
            self._changed.clear()
            await self._changed.wait()
        if self.error is not None:
            raise self.error
        return self.available

    async def wait_finished(self) -> int:
        """Samples in all."""
        await self.wait_for(2**62)
        assert self.total is not None
        return self.total

    def read(self, start: int, end: int) -> Samples:
        end = min(end, self.available)
        with self.path.open("rb") as handle:
            handle.seek(start * BYTES_PER_SAMPLE)
            raw = handle.read(max(0, end - start) * BYTES_PER_SAMPLE)
        return np.frombuffer(raw, dtype=np.float32)

    def _progress(self, available: int, total: int | None = None) -> None:
        self.available = available
        if total is not None:
            self.total = total
        self._changed.set()

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self._changed.set()


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
        """All the samples, or ChildAudioError (the file's fault) or DecoderFailedError."""
        with tempfile.TemporaryDirectory(prefix="a2t-decode-") as tmp:
            async with self.spool(data, max_seconds, timeout_s, Path(tmp)) as spool:
                total = await spool.wait_finished()
                return spool.read(0, total).copy()

    @contextlib.asynccontextmanager
    async def spool(
        self, data: bytes, max_seconds: float, timeout_s: float, directory: Path
    ) -> AsyncIterator[Spool]:
        """Decode into a spool file in `directory`, in a task, while the caller reads
        what is there. Leaving early kills a child still at work (its pipe would be out
        of step); the file is removed either way."""
        handle, name = tempfile.mkstemp(prefix="samples-", suffix=".f32", dir=directory)
        os.close(handle)
        spool = Spool(Path(name))
        spool.task = asyncio.create_task(self._run(spool, data, max_seconds, timeout_s))
        try:
            yield spool
        finally:
            if not spool.task.done():
                spool.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await spool.task
            spool.path.unlink(missing_ok=True)

    async def _run(self, spool: Spool, data: bytes, max_seconds: float, timeout_s: float) -> None:
        try:
            async with self._lock:
                proc = await self._ensure()
                try:
                    async with asyncio.timeout(timeout_s + _KILL_GRACE_S):
                        await _exchange(proc, spool, data, max_seconds, timeout_s)
                except TimeoutError:
                    await self._kill()
                    raise DecoderFailedError(
                        f"no answer from the decoder in {timeout_s:g} s"
                    ) from None
                except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError):
                    code = await self._reap()
                    raise DecoderFailedError(f"the decoder died ({_describe(code)})") from None
                except ChildAudioError:
                    raise  # a clean answer: the child is ready for the next file
                except BaseException:
                    # Cancelled mid-answer: the pipe is out of step with the protocol.
                    await asyncio.shield(self._kill())
                    raise
        except (ChildAudioError, DecoderFailedError) as exc:
            spool._fail(exc)
        except BaseException as exc:
            spool._fail(DecoderFailedError(f"decoding stopped: {exc!r}"))
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
    proc: asyncio.subprocess.Process,
    spool: Spool,
    data: bytes,
    max_seconds: float,
    timeout_s: float,
) -> None:
    assert proc.stdin is not None
    assert proc.stdout is not None
    path = os.fsencode(spool.path)
    proc.stdin.write(_REQUEST.pack(len(data), max_seconds, timeout_s, len(path)) + path)
    proc.stdin.write(data)
    await proc.stdin.drain()
    while True:
        kind = await proc.stdout.readexactly(1)
        if kind == b"E":
            (size,) = _CODE.unpack(await proc.stdout.readexactly(_CODE.size))
            raise ChildAudioError((await proc.stdout.readexactly(size)).decode("ascii"))
        (count,) = _SIZE.unpack(await proc.stdout.readexactly(_SIZE.size))
        if kind == b"S":
            spool._progress(count, total=count)
            return
        spool._progress(count)


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
    from worker.audio import AudioError, iter_pyav

    while True:
        header = requests.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return  # the parent is gone
        size, max_seconds, timeout_s, path_size = _REQUEST.unpack(header)
        path = requests.read(path_size)
        data = requests.read(size)
        if len(data) < size or len(path) < path_size:
            return
        written = 0
        try:
            with open(path, "wb") as spool:
                for chunk in iter_pyav(data, max_seconds, timeout_s):
                    spool.write(np.ascontiguousarray(chunk, dtype=np.float32).tobytes())
                    spool.flush()  # the parent reads what it is told is there
                    written += len(chunk)
                    answers.write(b"P" + _SIZE.pack(written))
                    answers.flush()
        except AudioError as exc:
            code = exc.code.encode("ascii")
            answers.write(b"E" + _CODE.pack(len(code)) + code)
        else:
            answers.write(b"S" + _SIZE.pack(written))
        answers.flush()


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(sys.stdin.buffer, sys.stdout.buffer)
