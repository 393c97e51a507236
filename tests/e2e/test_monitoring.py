"""The monitoring files against the real processes: every metric that a dashboard
panel, an alert rule or the autoscaler reads is in the /metrics output of a running
`python -m bot` or `python -m worker`; the worker's /readyz checks its dependencies;
the database gauges carry the queue label."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests import processes
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
K8S = ROOT / "deploy" / "k8s"
QUEUE = "e2e:monitoring"
# Series Prometheus makes itself for every target, not the processes.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Grafana's variables, replaced by what Grafana would put there before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$queue": ".*"}


# ---------------------------------------------------------------- expressions
def _alert_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]


def _dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted((MONITORING / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{path.name}: panel {panel['title']!r} shows nothing"
            for target in panel["targets"]:
                yield f"{path.name}: {panel['title']}", target["expr"]


def _autoscaler_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ScaledObject":
                for trigger in doc["spec"]["triggers"]:
                    if trigger["type"] == "prometheus":
                        yield f"{path.relative_to(ROOT)}", trigger["metadata"]["query"]


def metric_names(expression: str) -> set[str]:
    """Every metric a PromQL expression selects (parsed, not pattern-matched)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next(
                (m.value for m in node.matchers.matchers if m.name == "__name__"), None
            )
            assert name, f"a selector without a metric name: {node}"
            names.add(name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, promql_parser.AggregateExpr):
            walk(node.expr)
            if node.param is not None:
                walk(node.param)
        elif isinstance(
            node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
        ):
            walk(node.expr)

    walk(promql_parser.parse(expression))
    return names


def test_the_expression_parser_finds_every_metric() -> None:
    """The walker itself: a test that could pass with an empty set would prove nothing."""
    expression = (
        'histogram_quantile(0.95, sum by (le) (rate(x_bucket{job="a"}[$__rate_interval])))'
        " > on() group_left max(y) unless (-z or absent(w)) or max_over_time(v[5m:1m])"
    )
    assert metric_names(expression) == {"x_bucket", "y", "z", "w", "v"}


EXPRESSIONS = [*_alert_expressions(), *_dashboard_expressions(), *_autoscaler_expressions()]


def test_there_is_something_to_check() -> None:
    places = {where.split(":")[0].split(" ")[0] for where, _ in EXPRESSIONS}
    assert {"alert", "community-bot.json"} <= places
    assert any("ScaledObject" in p.read_text() for p in K8S.rglob("*.yaml"))
    assert len(EXPRESSIONS) > 30


# ---------------------------------------------------------------- real processes
def exposed_series(text: str) -> dict[str, list[Any]]:
    """Metric name as PromQL sees it (with _total, _bucket, ...) -> samples."""
    series: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("_count", "_sum", "_created"),
            "info": ("_info",),
        }.get(family.type, ("",))
        for suffix in suffixes:
            series.setdefault(family.name + suffix, [])
        for sample in family.samples:
            series.setdefault(sample.name, []).append(sample)
    return series


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def _wait_for(url: str, process: processes.Process, timeout: float = 90) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                status, _ = await _get(url)
                if status == 200:
                    return
            except aiohttp.ClientConnectionError:
                pass
            if process.proc.returncode is not None:
                raise AssertionError(f"{process.name} exited:\n{process.text}")
            await asyncio.sleep(0.2)


@pytest.fixture
async def running(
    fake_api: FakeBotAPI, pg_url: str, redis_url: str, redis: Any
) -> AsyncIterator[dict[str, Any]]:
    """`python -m bot` and `python -m worker` on PostgreSQL, Redis and the fake Bot API."""
    bot_port, worker_port = processes.free_port(), processes.free_port()
    env = {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "DB__URL": pg_url,
        "DB__MIGRATE_ON_START": "false",
        "REDIS__URL": redis_url,
        "REDIS__QUEUE_NAME": QUEUE,
        "A2T__DEVICE": "cpu",
        "METRICS__PORT": str(bot_port),
        "METRICS__WORKER_PORT": str(worker_port),
        "METRICS__REFRESH_INTERVAL_S": "1",
        "LOG__FORMAT": "json",
    }
    bot = await processes.start("bot", env)
    worker = await processes.start("worker", env)
    try:
        bot_url, worker_url = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{worker_port}"
        await _wait_for(f"{bot_url}/healthz", bot)
        await _wait_for(f"{worker_url}/healthz", worker)
        yield {"bot": bot_url, "worker": worker_url, "processes": (bot, worker)}
    finally:
        for proc in (bot, worker):
            await proc.terminate(timeout=30)


async def _scrape(url: str, wanted: str, timeout: float = 30) -> dict[str, list[Any]]:
    """/metrics once `wanted` (a series name) has samples: refreshes run in the background."""
    async with asyncio.timeout(timeout):
        while True:
            status, text = await _get(f"{url}/metrics")
            assert status == 200
            series = exposed_series(text)
            if series.get(wanted):
                return series
            await asyncio.sleep(0.3)


async def test_every_monitored_metric_is_exposed_by_the_processes(
    running: dict[str, Any],
) -> None:
    """(One test: starting a worker loads its model, which is the slow part.)"""
    bot = await _scrape(running["bot"], "a2t_queue_jobs")
    worker = await _scrape(running["worker"], "a2t_worker_up")
    exposed = set(bot) | set(worker) | PROMETHEUS_OWN

    missing = {
        f"{where}: {name}"
        for where, expression in EXPRESSIONS
        for name in metric_names(expression) - exposed
    }
    assert not missing, "metrics used but not exposed:\n" + "\n".join(sorted(missing))

    # The gauges the alerts and the autoscaler rely on have real samples, labelled.
    queued = {s.labels["status"]: s.value for s in bot["a2t_queue_jobs"]}
    assert queued == {"queued": 0.0, "running": 0.0}
    assert {s.labels["queue"] for s in bot["a2t_queue_jobs"]} == {QUEUE}
    assert [s.labels["queue"] for s in bot["a2t_queue_oldest_age_seconds"]] == [QUEUE]
    assert [s.value for s in bot["bot_applications_pending"]] == [0.0]
    (up,) = worker["a2t_worker_up"]
    assert (up.labels["queue"], up.labels["device"], up.value) == (QUEUE, "cpu", 1.0)
    for series in (bot, worker):
        (rss,) = series["process_resident_memory_bytes"]
        assert rss.value > 10_000_000

    # The worker is ready only while its database and Redis answer.
    status, body = await _get(f"{running['worker']}/readyz")
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_the_dashboard_uses_the_provisioned_datasource() -> None:
    datasources = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uids = {d["uid"] for d in datasources["datasources"]}
    dashboard = json.loads(
        (MONITORING / "grafana" / "dashboards" / "community-bot.json").read_text()
    )
    used = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert used == uids
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # Panels do not overlap on Grafana's 24-column grid.
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine


def test_prometheus_scrapes_every_replica_through_compose_dns() -> None:
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for service, port in (("bot", 9100), ("worker", 9101), ("worker-gpu", 9101)):
        (sd,) = jobs[service]["dns_sd_configs"]
        assert (sd["names"], sd["type"], sd["port"]) == ([service], "A", port)
        assert service in compose["services"]
    assert re.search(r"alerts\.yml", " ".join(config["rule_files"]))
