"""The bot's and the worker's small HTTP side: /metrics, /healthz (alive), /readyz
(database and Redis reachable). The webhook route is added here too in webhook mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.log import get_logger

ReadinessCheck = Callable[[], Awaitable[None]]
log = get_logger(__name__)


def create_app(checks: dict[str, ReadinessCheck]) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                log.warning("readiness check failed", check=name, error=repr(exc))
                results[name] = f"error: {type(exc).__name__}"
            else:
                results[name] = "ok"
        ok = all(value == "ok" for value in results.values())
        return web.json_response(
            {"status": "ok" if ok else "unavailable", "checks": results},
            status=200 if ok else 503,
        )

    app = web.Application()
    # prometheus-client's own handler: the text format, or OpenMetrics when the scraper
    # asks for it (exemplars, `# EOF`), `?name[]=` filtering, and gzip when accepted.
    app.router.add_get("/metrics", make_aiohttp_handler())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("http server listening", host=host, port=port)
    return runner
