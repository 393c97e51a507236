"""`python -m bot.admin` and the `community-bot-admin` script as real processes: settings
from the environment as in production, logs on stderr (stdout stays parseable), exit
codes 0 / 1 / 2."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.db.migrate import upgrade_to_head
from tests import processes

pytestmark = pytest.mark.e2e


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


async def admin(
    *args: str, env: dict[str, str], cwd: Path, program: list[str] | None = None
) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        *(program or [sys.executable, "-m", "bot.admin"]),
        *args,
        env=processes.clean_env({"LOG__FORMAT": "json", **env}),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def test_commands_exit_codes_and_streams(tmp_path: Path, pg_url: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"
    await upgrade_to_head(url)
    env = {"DB__URL": url}

    added = await admin("moderators", "add", "5", "--by", "ops", env=env, cwd=tmp_path)
    assert (added.code, added.stdout) == (0, "user 5 is now a moderator\n"), added.stderr
    [audit] = [json.loads(line) for line in added.stderr.splitlines()]
    assert (audit["event"], audit["user"], audit["level"]) == ("moderator added", 5, "warning")

    stats = await admin("stats", "--json", env=env, cwd=tmp_path)
    assert stats.code == 0, stats.stderr
    assert json.loads(stats.stdout)["users"] == 0

    backup = tmp_path / "nightly.jsonl.gz"
    written = await admin("backup", str(backup), env=env, cwd=tmp_path)
    assert written.code == 0, written.stderr
    refused = await admin("restore", str(backup), env=env, cwd=tmp_path)
    assert refused.code == 1
    assert "the target database is not empty" in refused.stderr
    # Into PostgreSQL (migrated and empty), through the installed console script.
    script = [str(Path(sys.executable).parent / "community-bot-admin")]
    restored = await admin(
        "restore", str(backup), env={"DB__URL": pg_url}, cwd=tmp_path, program=script
    )
    assert restored.code == 0, restored.stderr
    listed = await admin(
        "moderators", "list", "--json", env={"DB__URL": pg_url}, cwd=tmp_path, program=script
    )
    assert [m["user_id"] for m in json.loads(listed.stdout)["listed"]] == [5]
    cleaned = await admin("moderators", "remove", "5", env={"DB__URL": pg_url}, cwd=tmp_path)
    assert cleaned.code == 0, cleaned.stderr  # the session's database is shared


async def test_bad_usage_and_configuration_exit_2(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"
    cases = [
        (["frobnicate"], {"DB__URL": url}, "No such command 'frobnicate'"),
        (["jobs", "show", "x"], {"DB__URL": url}, "'x' is not a valid integer"),
        (["stats"], {"DB__URL": url, "KARMA__WEIGHT_FLOOR": "9"}, "invalid settings"),
        (["stats"], {"DB__URL": "nosuchdb://x"}, "DB__URL is not a database URL"),
        (["stats"], {"DB__URL": url}, "run `alembic upgrade head`"),  # never migrated
    ]
    for args, env, message in cases:
        ran = await admin(*args, env=env, cwd=tmp_path)
        assert ran.code == 2, (args, ran.stdout, ran.stderr)
        assert message in ran.stderr, (args, ran.stderr)
    helped = await admin("--help", env={}, cwd=tmp_path)
    assert helped.code == 0
    for command in ("backup", "restore", "import-legacy", "jobs", "stats", "moderators"):
        assert command in helped.stdout
