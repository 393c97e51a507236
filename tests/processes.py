"""Run `python -m bot` / `python -m worker` as real subprocesses in tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

# Settings sections: a test process gets only what the test gives it.
_SECTIONS = (
    "BOT__",
    "DB__",
    "REDIS__",
    "A2T__",
    "KARMA__",
    "APPLICATIONS__",
    "MODERATION__",
    "METRICS__",
    "LOG__",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SECTIONS)}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Process:
    """A child process whose output is collected (and shown when a test fails)."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.output: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace").rstrip())

    @property
    def text(self) -> str:
        return "\n".join(self.output)

    async def wait_for_output(self, fragment: str, timeout: float = 30.0) -> None:
        async def poll() -> None:
            while fragment not in self.text:
                if self.proc.returncode is not None:
                    raise AssertionError(f"{self.name} exited early:\n{self.text}")
                await asyncio.sleep(0.05)

        try:
            await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} never printed {fragment!r}:\n{self.text}") from None

    async def terminate(self, timeout: float = 60.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    async def wait(self, timeout: float = 60.0) -> int:
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"{self.name} did not exit in {timeout}s:\n{self.text}") from None
        await self._reader
        return code


async def start(
    module: str, env: Mapping[str, str], cwd: Path | None = None, *, stdin: bool = False
) -> Process:
    """`stdin`: a pipe the test can write to (`proc.stdin`), else the test's own."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env=clean_env(env),
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Process(proc, f"python -m {module}")
