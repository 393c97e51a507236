"""/metrics as a scraper sees it: a real aiohttp server on loopback, prometheus-client's
own handler behind it (format negotiation, gzip, name filtering)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot import metrics
from bot.http import create_app


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    metrics.UPDATES.labels("message", "handled").inc()  # one sample with labels to find
    server = TestServer(create_app({}), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def _get(url: str, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
    # No automatic Accept-Encoding and no transparent decompression: the test sees the
    # bytes on the wire and asks for compression only where it says so.
    async with (
        aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as http,
        http.get(url, headers=headers) as response,
    ):
        return response, await response.read()


async def test_plain_scrape_gets_the_text_format_uncompressed(base_url: str) -> None:
    response, body = await _get(f"{base_url}/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in response.headers
    text = body.decode()
    assert "# TYPE bot_updates_total counter" in text
    assert 'bot_updates_total{event_type="message",outcome="handled"}' in text
    assert "# EOF" not in text


async def test_openmetrics_when_the_scraper_asks_for_it(base_url: str) -> None:
    response, body = await _get(
        f"{base_url}/metrics",
        Accept="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    text = body.decode()
    assert text.endswith("# EOF\n")
    # OpenMetrics names the counter family without `_total`.
    assert "# TYPE bot_updates counter" in text


async def test_gzip_when_accepted(base_url: str) -> None:
    response, body = await _get(f"{base_url}/metrics", **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "# TYPE bot_updates_total counter" in gzip.decompress(body).decode()


async def test_name_filter_returns_only_the_asked_family(base_url: str) -> None:
    _, body = await _get(f"{base_url}/metrics?name[]=a2t_queue_depth")
    text = body.decode()
    assert "# TYPE a2t_queue_depth gauge" in text
    assert "bot_updates_total" not in text
