"""`python -m bot.admin`: the operators' commands. Same settings (DB__URL, REDIS__URL,
...) and start-up as the bot. Each command parses, calls one service, renders."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.admin.output import cell, emit_json, plain, table
from bot.bootstrap import ConfigError, bootstrap, secrets_of
from bot.db.engine import create_engine, create_session_factory
from bot.db.enums import JobStatus
from bot.db.migrate import SchemaOutdatedError, ensure_schema
from bot.jobs import JobQueue, arq_job_queue, create_arq_pool
from bot.log import mask_secrets
from bot.services.backup import BackupError, BackupService, BackupSummary
from bot.services.legacy_import import ImportReport, LegacyImportService
from bot.services.legacy_source import LegacyReadError, read_legacy
from bot.services.ops import (
    Cancelled,
    JobOpsService,
    ModeratorService,
    OpsError,
    Requeued,
    Stats,
    StatsService,
)
from bot.settings import Settings

T = TypeVar("T")


class ConfigProblem(click.ClickException):
    """Bad configuration: exit code 2, like bad usage."""

    exit_code = 2


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    queue: JobQueue | None  # only for commands that asked for it, and only with REDIS__URL
    queue_error: str | None = None  # an optional queue that could not be reached

    @property
    def url(self) -> str:
        return self.settings.db.url.get_secret_value()


class Ops:
    """What every command needs, built on first use (so `--help` needs no settings)."""

    def __init__(self, verbose: bool = False, settings: Settings | None = None) -> None:
        self.verbose = verbose
        if settings is not None:  # given by a test; the real thing bootstraps
            self.__dict__["settings"] = settings

    @cached_property
    def settings(self) -> Settings:
        try:
            settings = bootstrap()
        except ConfigError as exc:
            raise ConfigProblem(str(exc)) from None
        if not self.verbose:
            # The command's own output is the interface; log lines only for what matters
            # (warnings, e.g. the audit line of every change an operator makes).
            root = logging.getLogger()
            root.setLevel(max(root.level, logging.WARNING))
        return settings

    def run(
        self,
        work: Callable[[Resources], Awaitable[T]],
        *,
        schema: bool = True,
        queue: bool | Literal["optional"] = False,
    ) -> T:
        """Run `work` with the database (at the current schema revision, unless `schema`
        is False) and, if asked, the job queue (`optional`: Redis being down is reported,
        not fatal); errors become exit codes 1 and 2."""
        settings = self.settings
        try:
            return asyncio.run(self._run(settings, work, schema, queue))
        except (SchemaOutdatedError, ConfigError) as exc:
            raise ConfigProblem(mask_secrets(str(exc), secrets_of(settings))) from None
        except (OpsError, BackupError, LegacyReadError) as exc:
            raise click.ClickException(str(exc)) from None
        except (OSError, SQLAlchemyError, RedisError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = mask_secrets(first, secrets_of(settings))
            raise click.ClickException(f"{type(exc).__name__}: {message}") from None

    async def _run(
        self,
        settings: Settings,
        work: Callable[[Resources], Awaitable[T]],
        schema: bool,
        queue: bool | Literal["optional"],
    ) -> T:
        try:
            engine = create_engine(settings.db)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConfigError(f"DB__URL is not a database URL this bot can use: {exc}") from None
        try:
            if schema:
                await ensure_schema(engine, settings.db.url.get_secret_value(), migrate=False)
            async with self._queue(settings, queue) as (job_queue, error):
                return await work(
                    Resources(settings, engine, create_session_factory(engine), job_queue, error)
                )
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def _queue(
        self, settings: Settings, wanted: bool | Literal["optional"]
    ) -> AsyncIterator[tuple[JobQueue | None, str | None]]:
        if not wanted or settings.redis.url is None:
            yield None, None
            return
        try:
            redis = await create_arq_pool(settings.redis)
        except (RedisError, OSError) as exc:
            if wanted != "optional":
                raise
            yield None, mask_secrets(str(exc), secrets_of(settings))
            return
        try:
            yield arq_job_queue(redis, settings), None
        finally:
            await redis.aclose()


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show the bot's log lines (LOG__LEVEL).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Operate the community bot: backups, the legacy import, jobs, stats, moderators.

    Reads the bot's settings (environment and .env): DB__URL, REDIS__URL, ...
    Exit codes: 0 done, 1 failed or refused, 2 bad usage or configuration."""
    if ctx.obj is None:
        ctx.obj = Ops(verbose)


# ---------------------------------------------------------------------- backup / restore
@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@json_option
@click.pass_obj
def backup(ops: Ops, file: Path, as_json: bool) -> None:
    """Write all data to FILE ('-': standard output).

    One consistent snapshot, taken while the bot runs. The file (gzip'd JSON lines,
    created readable by its owner only) restores into SQLite or PostgreSQL."""
    to_stdout = str(file) == "-"

    async def work(r: Resources) -> BackupSummary:
        service = BackupService(r.engine, r.url)
        if to_stdout:
            return await service.backup(sys.stdout.buffer)
        return await _atomically(file, service.backup)

    summary = ops.run(work, schema=False)
    # With the backup itself on stdout, the report goes to stderr.
    _render_backup(summary, "backup written", as_json, sys.stderr if to_stdout else None)


async def _atomically(
    file: Path, write: Callable[[IO[bytes]], Awaitable[BackupSummary]]
) -> BackupSummary:
    """Written beside FILE and renamed when complete: FILE is never a partial backup."""
    partial = file.with_name(f".{file.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            summary = await write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, file)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return summary


@cli.command()
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--force", is_flag=True, help="Replace the data of a database that is not empty.")
@click.option("--check", is_flag=True, help="Only read and verify FILE; no database is touched.")
@json_option
@click.pass_obj
def restore(ops: Ops, file: Path, force: bool, check: bool, as_json: bool) -> None:
    """Restore FILE (a backup; '-': standard input) into the database.

    The database must be empty (or pass --force), and either new (never migrated: it is
    migrated to the backup's schema revision, filled, then upgraded) or at the backup's
    revision. All in one transaction: on any error nothing is written. Stop the bot and
    the workers first."""

    async def work(r: Resources | None) -> BackupSummary:
        with _open_input(file) as source:
            if r is None:
                return await BackupService.inspect(source)
            return await BackupService(r.engine, r.url).restore(source, force=force)

    if check:
        try:
            summary = asyncio.run(work(None))
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        _render_backup(summary, "backup verified", as_json)
        return
    summary = ops.run(work, schema=False)
    _render_backup(summary, "backup restored", as_json)


@contextmanager
def _open_input(file: Path) -> Iterator[IO[bytes]]:
    if str(file) == "-":
        yield sys.stdin.buffer
        return
    with file.open("rb") as handle:
        yield handle


def _render_backup(
    summary: BackupSummary, what: str, as_json: bool, file: IO[str] | None = None
) -> None:
    if as_json:
        emit_json({**plain(summary), "rows": summary.rows}, file=file)
        return
    click.echo(
        f"{what}: {len(summary.tables)} tables, {summary.rows} rows; schema revision "
        f"{summary.schema_revision}, from {summary.source}, made {summary.created_at}",
        file=file,
    )
    if summary.replaced_data:
        click.echo("the database's previous data was replaced (--force)", file=file)
    if summary.upgraded_to:
        click.echo(f"then migrated to schema revision {summary.upgraded_to}", file=file)
    table(
        ["table", "rows", "sha256"],
        [(t.name, t.rows, t.sha256[:16]) for t in summary.tables],
        file=file,
    )


# ---------------------------------------------------------------------- legacy import
@cli.command("import-legacy")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would be imported; write nothing.")
@click.option(
    "--chat-id",
    type=int,
    help="The community chat the roster, karma and applications belong to "
    "(default: COMMUNITY__CHAT_ID).",
)
@json_option
@click.pass_obj
def import_legacy(ops: Ops, path: Path, dry_run: bool, chat_id: int | None, as_json: bool) -> None:
    """Import the SQLite database of the bot this one replaces (see docs/OPERATIONS.md).

    Idempotent: a second run changes nothing. Problems are listed per table."""
    chat = chat_id if chat_id is not None else ops.settings.community.chat_id
    if chat is None:
        raise click.UsageError(
            "the legacy roster, karma and applications belong to the community chat: "
            "set COMMUNITY__CHAT_ID or pass --chat-id"
        )
    try:
        data = read_legacy(path)
    except LegacyReadError as exc:
        raise click.ClickException(str(exc)) from None

    async def work(r: Resources) -> ImportReport:
        async with r.sessions() as session:
            service = LegacyImportService(session, r.settings.applications)
            return await service.run(data, chat, dry_run=dry_run)

    report = ops.run(work)
    if as_json:
        emit_json(report)
        return
    mode = "dry run, nothing written" if report.dry_run else "imported"
    click.echo(f"legacy import into chat {report.chat_id} ({mode})")
    table(
        ["legacy table", "read", "new", "existing", "skipped", "problems"],
        [(t.table, t.read, t.new, t.existing, t.skipped, len(t.problems)) for t in report.tables],
    )
    verb = "would write" if report.dry_run else "wrote"
    click.echo(f"{verb}: " + ", ".join(f"{k} {v}" for k, v in report.writes.items()))
    if report.ignored_tables:
        click.echo(f"tables not imported: {', '.join(report.ignored_tables)}")
    for t in report.tables:
        for problem in t.problems:
            click.echo(f"  {t.table}: {problem}")


# ---------------------------------------------------------------------- jobs
@cli.group()
def jobs() -> None:
    """Transcription jobs: list, show, requeue, cancel."""


def _stale_after(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.a2t.stale_after_s)


@jobs.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this status (repeatable).",
)
@click.option("--chat-id", type=int, help="Only jobs of this chat.")
@click.option("--user-id", type=int, help="Only jobs of this user.")
@click.option("--before", "before_id", type=int, help="Only jobs older than this job id.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@click.pass_obj
def jobs_list(
    ops: Ops,
    statuses: tuple[str, ...],
    chat_id: int | None,
    user_id: int | None,
    before_id: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest jobs first."""

    async def work(r: Resources) -> Any:
        async with r.sessions() as session:
            service = JobOpsService(session, None, _stale_after(r.settings))
            return await service.recent(
                statuses=[JobStatus(s) for s in statuses],
                chat_id=chat_id,
                user_id=user_id,
                before_id=before_id,
                limit=limit,
            )

    lines = ops.run(work)
    if as_json:
        emit_json(lines)
        return
    table(
        ["id", "status", "chat", "user", "media", "seconds", "tries", "gen", "error", "received"],
        [
            (
                j.id,
                j.status,
                j.chat_id,
                j.user_id,
                j.media_kind,
                j.duration_s,
                j.attempts,
                j.generation,
                j.error_code,
                j.received_at,
            )
            for j in lines
        ],
    )


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--full", is_flag=True, help="The whole transcript and segments.")
@json_option
@click.pass_obj
def jobs_show(ops: Ops, job_id: int, full: bool, as_json: bool) -> None:
    """Every field of one job."""

    async def work(r: Resources) -> dict[str, Any]:
        async with r.sessions() as session:
            return await JobOpsService(session, None, _stale_after(r.settings)).show(job_id)

    columns = ops.run(work)
    if as_json:
        emit_json(columns)
        return
    width = max(len(k) for k in columns)
    for key, value in columns.items():
        text = cell(value) if not isinstance(value, float) else repr(value)
        if not full and len(text) > 200:
            text = f"{text[:200]}… ({len(text)} characters; --full shows all)"
        click.echo(f"{key.ljust(width)}  {text}")


@jobs.command("requeue")
@click.argument("job_id", type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Also a cancelled job, or one running on a live worker (it may then run twice).",
)
@json_option
@click.pass_obj
def jobs_requeue(ops: Ops, job_id: int, force: bool, as_json: bool) -> None:
    """Run a job again (queued, stale, failed; see --force).

    Bumps the job's generation, as the sweep does, so an older queue entry does nothing,
    and enqueues the new one (with REDIS__URL; without it, the bot's own sweep runs it)."""

    async def work(r: Resources) -> Requeued:
        async with r.sessions() as session:
            service = JobOpsService(session, r.queue, _stale_after(r.settings))
            return await service.requeue(job_id, force=force)

    done = ops.run(work, queue=True)
    if as_json:
        emit_json(
            {
                "job_id": job_id,
                "previous": done.previous,
                "generation": done.generation,
                "enqueued": done.enqueued,
                "queue": done.queue,
            }
        )
        return
    settings = ops.settings
    where = (
        f"enqueued in {done.queue}"
        if done.enqueued
        else "no REDIS__URL: the bot's sweep runs it within about "
        f"{settings.a2t.stale_after_s + settings.a2t.sweep_interval_s:g} s"
    )
    click.echo(
        f"job {job_id} requeued (was {done.previous}, now generation {done.generation}); {where}"
    )


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.option(
    "--notify/--no-notify",
    default=True,
    show_default=True,
    help="Edit the user's status message of a queued job (needs BOT__TOKEN).",
)
@json_option
@click.pass_obj
def jobs_cancel(ops: Ops, job_id: int, notify: bool, as_json: bool) -> None:
    """Cancel a queued or running job, as its cancel button does."""

    async def work(r: Resources) -> tuple[Cancelled, str | None]:
        async with r.sessions() as session:
            done = await JobOpsService(session, None, _stale_after(r.settings)).cancel(job_id)
        note: str | None = None
        if done.previous == JobStatus.QUEUED:
            if notify:
                from bot.admin.notify import tell_cancelled

                note = await tell_cancelled(r.settings, done.job)
            else:
                note = "--no-notify: the user's status message was not updated"
        return done, note

    done, note = ops.run(work)
    if done.previous == JobStatus.QUEUED:
        told = note is None
        message = f"job {job_id} cancelled (it was queued)"
        message += "; the user's status message says so" if told else f"; {note}"
    else:
        told = True
        message = (
            f"job {job_id}: cancel requested (it is running); its worker stops at the next "
            "heartbeat and tells the user"
        )
    if as_json:
        emit_json({"job_id": job_id, "previous": done.previous, "user_told": told, "note": note})
        return
    click.echo(message)


# ---------------------------------------------------------------------- stats
@cli.command()
@click.option(
    "--chat-id",
    type=int,
    help="Count members, applications and karma of this chat (default: COMMUNITY__CHAT_ID).",
)
@click.option("--all-chats", is_flag=True, help="Count them over every chat.")
@json_option
@click.pass_obj
def stats(ops: Ops, chat_id: int | None, all_chats: bool, as_json: bool) -> None:
    """Users, members by status, applications by state, karma, jobs, queue depth."""
    if all_chats and chat_id is not None:
        raise click.UsageError("--chat-id and --all-chats exclude each other")
    chat = (
        None if all_chats else (chat_id if chat_id is not None else ops.settings.community.chat_id)
    )

    async def work(r: Resources) -> Stats:
        async with r.sessions() as session:
            stats = await StatsService(session, r.queue).collect(chat)
        return replace(stats, queue_error=r.queue_error) if r.queue_error else stats

    result = ops.run(work, queue="optional")
    if as_json:
        emit_json(result)
        return
    scope = f"chat {result.chat_id}" if result.chat_id is not None else "all chats"
    click.echo(f"users: {result.users} ({result.bots} bots)")
    _counts(f"members ({scope})", result.members)
    _counts(f"applications ({scope})", result.applications)
    k = result.karma
    click.echo(
        f"karma events ({scope}): {k.events} ({k.cancelled} cancelled, {k.since} in the last 24 h)"
    )
    _counts("transcription jobs", result.jobs)
    oldest = "-" if result.oldest_queued_s is None else f"{result.oldest_queued_s:.0f} s"
    depth: object = result.queue_depth
    if result.queue_error is not None:
        depth = f"unavailable ({result.queue_error})"
    elif depth is None:
        depth = "- (embedded, no REDIS__URL)"
    click.echo(f"queue: {result.open_jobs} open jobs; oldest queued {oldest}; arq queue {depth}")


def _counts(title: str, counts: dict[str, int]) -> None:
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    click.echo(f"{title}: {total}" + (f" ({detail})" if detail else ""))


# ---------------------------------------------------------------------- moderators
@cli.group()
def moderators() -> None:
    """Moderators named here, besides MODERATION__ADMIN_IDS and the moderation chat's
    administrators. A change counts at once, on every bot replica."""


@moderators.command("add")
@click.argument("user_id", type=click.IntRange(min=1))
@click.option("--note", help="Why, or who they are.")
@click.option("--by", "added_by", help="Who adds them (default: the OS user).")
@json_option
@click.pass_obj
def moderators_add(
    ops: Ops, user_id: int, note: str | None, added_by: str | None, as_json: bool
) -> None:
    """Make USER_ID (a Telegram user id) a moderator."""
    by = added_by or _os_user()

    async def work(r: Resources) -> bool:
        async with r.sessions() as session:
            return await ModeratorService(session).add(user_id, by, note)

    added = ops.run(work)
    if as_json:
        emit_json({"user_id": user_id, "added": added})
        return
    click.echo(f"user {user_id} " + ("is now a moderator" if added else "was a moderator already"))


@moderators.command("remove")
@click.argument("user_id", type=click.IntRange(min=1))
@json_option
@click.pass_obj
def moderators_remove(ops: Ops, user_id: int, as_json: bool) -> None:
    """Take USER_ID off the list."""

    async def work(r: Resources) -> bool:
        async with r.sessions() as session:
            return await ModeratorService(session).remove(user_id)

    removed = ops.run(work)
    in_settings = user_id in ops.settings.moderation.admin_ids
    if as_json:
        emit_json({"user_id": user_id, "removed": removed, "in_admin_ids": in_settings})
    elif removed:
        click.echo(f"user {user_id} is no longer on the moderators list")
    if in_settings:
        click.echo(
            f"note: user {user_id} is in MODERATION__ADMIN_IDS and stays a moderator", err=True
        )
    if not removed:
        raise click.ClickException(f"user {user_id} is not on the moderators list")


@moderators.command("list")
@json_option
@click.pass_obj
def moderators_list(ops: Ops, as_json: bool) -> None:
    """The list, and who else counts as a moderator."""

    async def work(r: Resources) -> Any:
        async with r.sessions() as session:
            return await ModeratorService(session).all()

    listed = ops.run(work)
    settings = ops.settings.moderation
    if as_json:
        emit_json(
            {
                "listed": listed,
                "admin_ids": settings.admin_ids,
                "moderation_chat_id": settings.chat_id,
            }
        )
        return
    table(
        ["user", "name", "username", "added", "by", "note"],
        [(m.user_id, m.first_name, m.username, m.created_at, m.added_by, m.note) for m in listed],
    )
    ids = ", ".join(str(i) for i in settings.admin_ids) or "none"
    chat = settings.chat_id if settings.chat_id is not None else "not set"
    click.echo(
        f"also moderators: MODERATION__ADMIN_IDS ({ids}) and the administrators of "
        f"MODERATION__CHAT_ID ({chat})"
    )


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return None


def main() -> int:
    """Console script `community-bot-admin`; `python -m bot.admin`."""
    try:
        cli.main(prog_name="community-bot-admin", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
