"""A worker's hold on a claimed job: the heartbeat, as its own task from the claim to
the end of the job, whatever the job is doing (waiting for the engine, downloading,
decoding, transcribing, posting behind Telegram's rate limits). A job whose heartbeat
goes stale is presumed dead and re-queued under a new generation by the sweep.

What a beat learns is kept here: the job is still ours, the user asked to cancel it,
or it is ours no more. In the last case the worker stops and touches nothing: the job
belongs to the new generation. After a stall (the process stopped, the machine paused)
the last confirmation is old, so before writing to Telegram the worker confirms it
still owns the job (`ensure_held`): a stalled worker never edits over the new owner's
result.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.log import get_logger
from bot.repositories.jobs import JobRepository, JobView, Lease

log = get_logger(__name__)

T = TypeVar("T")


async def write_through(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """One write transaction (`work`, then commit) carried to its end even when the job
    is cancelled meanwhile (a shutdown); the caller sees the cancellation once it is
    done. A statement cut off mid-flight leaves its connection inside the transaction:
    on SQLite (the embedded default) that connection keeps the database's write lock,
    and the job's release at shutdown, like every later write, waits on it for ever."""

    async def run() -> T:
        async with sessions() as session:
            result = await work(session)
            await session.commit()
            return result

    task = asyncio.ensure_future(run())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait([task])
        raise


class OwnershipLostError(Exception):
    """The job was re-queued under a new generation (this worker stalled, or its beats
    did not land): another worker owns it now."""


class JobLease:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        job: JobView,
        interval_s: float,
    ) -> None:
        self.sessions = sessions
        self.job_id = job.id
        self.generation = job.generation
        self.interval_s = interval_s
        self.progress: float | None = None  # sent with the next beat
        self.state = Lease.CANCEL_REQUESTED if job.cancel_requested_by else Lease.HELD
        # Set when the job should stop (ownership lost, cancel requested): the
        # inference thread checks it between segments.
        self.stop = threading.Event()
        if self.state is Lease.CANCEL_REQUESTED:
            self.stop.set()
        self._confirmed_at = time.monotonic()  # the claim itself
        self._task: asyncio.Task[None] | None = None

    @property
    def lost(self) -> bool:
        return self.state is Lease.LOST

    @property
    def cancel_requested(self) -> bool:
        return self.state is Lease.CANCEL_REQUESTED

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat_forever(), name=f"heartbeat:{self.job_id}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _beat_forever(self) -> None:
        while not self.lost:
            await asyncio.sleep(self.interval_s)
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("heartbeat failed", error=repr(exc))

    async def beat(self) -> Lease:
        progress = self.progress
        state = await write_through(
            self.sessions,
            lambda session: JobRepository(session).beat(self.job_id, self.generation, progress),
        )
        if state is not Lease.LOST:
            self._confirmed_at = time.monotonic()
        if state is not Lease.HELD:
            self.stop.set()
        self.state = state
        return state

    def check(self) -> None:
        """Between stages: raise if the job is no longer ours to continue."""
        if self.lost:
            raise OwnershipLostError

    async def ensure_held(self) -> None:
        """Before a write to Telegram: ownership confirmed within one heartbeat interval
        (else a beat now). Raises OwnershipLostError, or the beat's database error."""
        if not self.lost and time.monotonic() - self._confirmed_at > self.interval_s:
            await self.beat()
        self.check()
