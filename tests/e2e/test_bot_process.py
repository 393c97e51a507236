"""`python -m bot` as a real process: the fake Bot API, real PostgreSQL or the embedded
SQLite default; /start answered, /metrics and health served, clean exit on SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import factories as f
from tests import processes
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e


def _env(fake_api: FakeBotAPI, metrics_port: int, **extra: str) -> dict[str, str]:
    return {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "METRICS__PORT": str(metrics_port),
        "LOG__FORMAT": "json",
        **extra,
    }


async def _start_and_check(fake_api: FakeBotAPI, bot: processes.Process, port: int) -> None:
    alice = f.user(id=601, first_name="Alice")
    fake_api.push_update(
        f.message_update(f.message("/start", from_user=alice, chat=f.private_chat(alice)))
    )
    try:
        call = await fake_api.wait_for_call("sendMessage", timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- bot output ---\n{bot.text}") from None
    assert call.params["chat_id"] == 601
    assert "Hello, Alice!" in call.params["text"]

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["checks"]["database"] == "ok"
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            body = await response.text()
    assert 'bot_updates_total{event_type="message",outcome="handled"} 1.0' in body


async def test_bot_process_answers_start_on_postgres(fake_api: FakeBotAPI, pg_url: str) -> None:
    port = processes.free_port()
    bot = await processes.start("bot", _env(fake_api, port, DB__URL=pg_url))
    try:
        await _start_and_check(fake_api, bot, port)
        assert fake_api.calls_of("setMyCommands")
    finally:
        code = await bot.terminate()
    assert code == 0, bot.text
    assert "bot stopped" in bot.text
    assert fake_api.token not in bot.text


async def test_embedded_default_creates_and_migrates_sqlite(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    port = processes.free_port()
    bot = await processes.start("bot", _env(fake_api, port), cwd=tmp_path)
    try:
        await _start_and_check(fake_api, bot, port)
    finally:
        code = await bot.terminate()
    assert code == 0, bot.text
    assert (tmp_path / "data" / "bot.sqlite3").exists()
    # Every line is JSON in json mode, and the token never shows.
    for line in bot.output:
        json.loads(line)
    assert fake_api.token not in bot.text


async def test_missing_token_is_one_clear_line(tmp_path: Path) -> None:
    bot = await processes.start("bot", {}, cwd=tmp_path)
    code = await bot.wait()
    assert code == 2
    assert bot.output == [
        "error: BOT__TOKEN is not set: copy .env.example to .env and put the token "
        "from @BotFather there (or export BOT__TOKEN)"
    ]


async def test_rejected_token_is_one_clear_line(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    env = {
        "BOT__TOKEN": "999:wrong-token-wrong-token-wrong-token",
        "BOT__API_BASE_URL": fake_api.base_url,
    }
    bot = await processes.start("bot", env, cwd=tmp_path)
    assert await bot.wait() == 2
    assert bot.output[-1] == f"error: BOT__TOKEN was rejected by the Bot API at {fake_api.base_url}"
    assert "Traceback" not in bot.text


async def test_embedded_default_transcribes_in_process(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note

    port = processes.free_port()
    bot = await processes.start("bot", _env(fake_api, port, A2T__DEVICE="cpu"), cwd=tmp_path)
    try:
        alice = f.user(id=602, first_name="Alice")
        fake_api.push_update(
            voice_note(fake_api, audio_bytes("jfk.ogg"), user=alice, chat=f.private_chat(alice))
        )

        def is_transcript(call: Any) -> bool:
            return JFK_PHRASE in " ".join(normalise(str(call.params.get("text", ""))))

        try:
            await fake_api.wait_for_call("editMessageText", is_transcript, timeout=90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- bot output ---\n{bot.text}") from None
        status = fake_api.calls_of("sendMessage")[0]
        assert "Queued" in status.params["text"]
    finally:
        code = await bot.terminate()
    assert code == 0, bot.text


async def test_webhook_mode_without_a_secret_refuses_to_start(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = _env(
        fake_api,
        processes.free_port(),
        BOT__MODE="webhook",
        BOT__WEBHOOK_URL="https://bot.example.org/telegram/webhook",
    )
    bot = await processes.start("bot", env, cwd=tmp_path)
    assert await bot.wait() == 2
    assert len(bot.output) == 1, bot.text
    assert bot.output[0].startswith("error: invalid settings: BOT: Value error, BOT__MODE=")
    assert "needs BOT__WEBHOOK_SECRET" in bot.output[0]
    assert fake_api.calls_of("setWebhook") == []


async def test_webhook_mode_checks_the_secret_and_answers(
    fake_api: FakeBotAPI, pg_url: str
) -> None:
    port, hook_port = processes.free_port(), processes.free_port()
    env = _env(
        fake_api,
        port,
        DB__URL=pg_url,
        BOT__MODE="webhook",
        BOT__WEBHOOK_URL="https://bot.example.org/telegram/webhook",
        BOT__WEBHOOK_HOST="127.0.0.1",
        BOT__WEBHOOK_PORT=str(hook_port),
        BOT__WEBHOOK_SECRET="s3cret-token",
    )
    bot = await processes.start("bot", env)
    try:
        registered = await fake_api.wait_for_call("setWebhook", timeout=60)
        assert registered.params["url"] == "https://bot.example.org/telegram/webhook"
        assert registered.params["secret_token"] == "s3cret-token"
        await bot.wait_for_output(f'"port": {hook_port}', timeout=30)

        alice = f.user(id=603, first_name="Alice")
        update = f.message_update(f.message("/start", from_user=alice, chat=f.private_chat(alice)))
        hook = f"http://127.0.0.1:{hook_port}/telegram/webhook"
        async with aiohttp.ClientSession() as http:
            async with http.post(hook, json=update) as response:
                assert response.status == 401  # no secret: refused, nothing handled
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with http.post(hook, json=update, headers=headers) as response:
                assert response.status == 200
        call = await fake_api.wait_for_call("sendMessage", timeout=30)
        assert "Hello, Alice!" in call.params["text"]
        assert len(fake_api.calls_of("sendMessage")) == 1
    finally:
        code = await bot.terminate()
    assert code == 0, bot.text
    assert "s3cret-token" not in bot.text


@pytest.mark.parametrize("round_", range(3))
async def test_embedded_bot_stopped_as_its_result_lands_exits_and_keeps_the_job(
    fake_api: FakeBotAPI, tmp_path: Path, round_: int
) -> None:
    """SIGTERM the moment the transcript is posted: the job's last writes are cut off
    mid-statement unless they are carried to their end. On SQLite a cut-off write kept
    the database's write lock, and the shutdown's release of the job waited on it for
    good. Now the process exits promptly, and the job is either done or handed back,
    never left running (timing varies, hence several rounds)."""
    import sqlite3

    from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note

    port = processes.free_port()
    bot = await processes.start("bot", _env(fake_api, port, A2T__DEVICE="cpu"), cwd=tmp_path)
    try:
        alice = f.user(id=603, first_name="Alice")
        fake_api.push_update(
            voice_note(fake_api, audio_bytes("jfk.ogg"), user=alice, chat=f.private_chat(alice))
        )

        def is_transcript(call: Any) -> bool:
            return JFK_PHRASE in " ".join(normalise(str(call.params.get("text", ""))))

        await fake_api.wait_for_call("editMessageText", is_transcript, timeout=90)
    finally:
        code = await bot.terminate(timeout=20)
    assert code == 0, bot.text
    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        (status,) = db.execute("SELECT status FROM transcription_jobs").fetchone()
    assert status in ("done", "queued"), status
