"""Redis is transport, and not a way in: jobs are JSON, so a pickle someone writes into
the queue is refused instead of run; a Redis password and TLS (rediss://) work for the
bot's pool and the worker alike."""

from __future__ import annotations

import asyncio
import pickle
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from arq.connections import RedisSettings as ArqRedisSettings
from arq.connections import create_pool
from arq.jobs import Job
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.db.enums import JobStatus
from bot.jobs import (
    ArqJobQueue,
    arq_job_id,
    arq_redis_settings,
    create_arq_pool,
    deserialize_job,
    serialize_job,
)
from bot.settings import RedisSettings
from tests import factories as f
from tests import processes
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, voice_note
from tests.fakes import FakeBotAPI
from tests.integration.a2t.conftest import Worker as PipelineWorker
from worker.main import worker_options

ALICE = f.user(id=7601, first_name="Alice")


def _exploit(marker: Path) -> bytes:
    """An arq job record as pickle would carry it, whose unpickling writes `marker`."""

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    record = {
        "t": 1,
        "f": "transcribe",
        "a": [Exploit(), 0],
        "k": {},
        "et": int(time.time() * 1000),
    }
    return pickle.dumps(record)


async def test_a_pickled_job_placed_in_redis_is_refused_not_unpickled(
    feed: Any,
    fake_api: FakeBotAPI,
    worker: PipelineWorker,
    settings: Any,
    arq_redis: Any,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    queue = settings.redis.queue_name
    # Whoever can write to Redis puts a pickle into the queue...
    await arq_redis.set("arq:job:evil", _exploit(marker))
    await arq_redis.zadd(queue, {"evil": int(time.time() * 1000)})
    # ... next to a real job, enqueued by the bot as JSON.
    await feed(voice_note(fake_api, audio_bytes("jfk.ogg"), user=ALICE, chat=f.private_chat(ALICE)))
    job = await worker.job()
    raw = await arq_redis.get(f"arq:job:{arq_job_id(job.id, job.generation)}")
    assert deserialize_job(raw)["a"] == [job.id, job.generation]

    # The worker as `python -m worker` configures it, in burst mode, playing the pipeline.
    options = worker_options(settings)
    options.update(on_startup=None, on_shutdown=None, ctx={"pipeline": worker.pipeline})
    arq_worker = Worker(**options, burst=True, handle_signals=False)
    try:
        await asyncio.wait_for(arq_worker.main(), timeout=120)
    finally:
        await arq_worker.close()

    assert not marker.exists()
    evil = await Job(
        "evil", arq_redis, _queue_name=queue, _deserializer=deserialize_job
    ).result_info()
    assert evil is not None
    assert evil.success is False
    assert "unable to deserialize job" in str(evil.result)
    done = await worker.job(job.id)
    assert done.status == JobStatus.DONE
    assert JFK_PHRASE in " ".join(normalise(done.text or ""))
    # The payload was live: arq's default (pickle) would have run it.
    pickle.loads(_exploit(marker))
    assert marker.read_text() == "ran"


def test_the_serializer_refuses_what_is_not_a_json_object() -> None:
    record = {"t": 1, "f": "transcribe", "a": [1, 0], "k": {}, "et": 1}
    assert deserialize_job(serialize_job(record)) == record
    for raw in (pickle.dumps(record), b"[1, 2]", b"\x80\x04garbage"):
        with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError and Unicode's alike
            deserialize_job(raw)
    result = serialize_job({"r": RuntimeError("boom"), "s": False})
    assert deserialize_job(result)["r"] == "RuntimeError: boom"


# ------------------------------------------------------------------ password and TLS
PASSWORD = "p@ss:w/rd%1 é"  # every character a URL must encode


@dataclass
class PrivateRedis:
    port: int
    tls_port: int
    ca_file: Path


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own, with a password and a TLS port (a certificate
    for `localhost` from a throw-away CA), stopped at the end."""
    for tool in ("redis-server", "openssl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    port, tls_port = processes.free_port(), processes.free_port()
    server = subprocess.Popen(
        [
            *("redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""),
            *("--appendonly", "no", "--dir", str(tmp_path), "--requirepass", PASSWORD),
            *("--tls-port", str(tls_port), "--tls-cert-file", str(cert)),
            *("--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)),
            *("--tls-auth-clients", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield PrivateRedis(port, tls_port, cert)
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _ready(url: str) -> None:
    client = Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                await client.ping()
                return
            except RedisConnectionError:
                await asyncio.sleep(0.1)
        raise AssertionError("the private redis-server did not start")
    finally:
        await client.aclose()


async def _enqueue_through(cfg: RedisSettings) -> dict[str, Any]:
    pool = await create_arq_pool(cfg)
    try:
        await ArqJobQueue(pool, "private:a2t").enqueue_transcription(42, 0)
        return deserialize_job(await pool.get(f"arq:job:{arq_job_id(42, 0)}"))
    finally:
        await pool.aclose()


async def test_redis_password_and_tls_urls(private_redis: PrivateRedis) -> None:
    secret = quote(PASSWORD, safe="")
    plain = f"redis://:{secret}@127.0.0.1:{private_redis.port}/0"
    await _ready(plain)

    # arq alone would send the password still percent-encoded.
    assert ArqRedisSettings.from_dsn(plain).password != PASSWORD
    assert arq_redis_settings(RedisSettings(url=plain)).password == PASSWORD
    assert (await _enqueue_through(RedisSettings(url=plain)))["a"] == [42, 0]

    tls = RedisSettings(
        url=f"rediss://:{secret}@localhost:{private_redis.tls_port}/1",
        tls_ca_file=private_redis.ca_file,
    )
    assert (await _enqueue_through(tls))["f"] == "transcribe"
    options = worker_options_for(tls)
    assert (options.ssl, options.ssl_check_hostname, options.ssl_ca_certs) == (
        True,
        True,
        str(private_redis.ca_file),
    )

    # The certificate is checked: another name for the same server is refused, and so
    # is a server whose CA we were not told to trust.
    for url, ca in (
        (f"rediss://:{secret}@127.0.0.1:{private_redis.tls_port}/1", private_redis.ca_file),
        (f"rediss://:{secret}@localhost:{private_redis.tls_port}/1", None),
    ):
        refused = arq_redis_settings(RedisSettings(url=url, tls_ca_file=ca))
        refused.conn_retries = 0
        with pytest.raises(RedisConnectionError, match="certificate"):
            await create_pool(refused)


def worker_options_for(cfg: RedisSettings) -> ArqRedisSettings:
    from bot.settings import Settings

    settings = Settings(_env_file=None, redis=cfg)  # type: ignore[call-arg]
    redis_settings: ArqRedisSettings = worker_options(settings)["redis_settings"]
    return redis_settings
