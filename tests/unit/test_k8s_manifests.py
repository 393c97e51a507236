"""deploy/k8s: rendered with kustomize and validated against the Kubernetes schemas
(scripts/check_k8s.py, also run by scripts/check_infra.sh); and the checker catches
what it is for."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scripts import check_k8s


def _worker() -> dict[str, Any]:
    (doc,) = check_k8s.plain(check_k8s.K8S / "base" / "worker.yaml")
    return doc


def _scaled_object() -> dict[str, Any]:
    cpu, _gpu = check_k8s.plain(
        check_k8s.K8S / "overlays" / "production" / "keda-scaledobject.yaml"
    )
    return cpu


@pytest.mark.skipif(check_k8s.renderer() is None, reason="neither kustomize nor kubectl here")
def test_base_and_overlays_render_and_validate(capsys: Any) -> None:
    assert check_k8s.main() == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "ok   overlays/production" in out
    assert "ok   overlays/staging" in out


@pytest.mark.skipif(check_k8s.renderer() is None, reason="neither kustomize nor kubectl here")
def test_production_has_what_the_issue_asks_for() -> None:
    docs = check_k8s.render(check_k8s.renderer() or [], check_k8s.K8S / "overlays" / "production")
    by_name = {check_k8s.name_of(d): d for d in docs}
    bot = by_name["Deployment/community-bot"]
    assert bot["spec"]["replicas"] == 2
    gpu = by_name["Deployment/community-bot-worker-gpu"]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["tolerations"]
    assert gpu["nodeSelector"]
    assert "Job/community-bot-migrate" in by_name
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert settings["BOT__MODE"] == "webhook"
    # Routing by capability: each worker Deployment reads its class's queue and KEDA
    # scales it on that queue's metrics.
    assert settings["A2T__ROUTING__ENABLED"] == "true"
    base = settings["REDIS__QUEUE_NAME"]
    for deployment, worker_class in (
        ("community-bot-worker", "light"),
        ("community-bot-worker-gpu", "heavy"),
    ):
        spec = by_name[f"Deployment/{deployment}"]["spec"]
        assert "replicas" not in spec  # KEDA's
        env = {e["name"]: e["value"] for e in spec["template"]["spec"]["containers"][0]["env"]}
        assert env["A2T__WORKER_CLASS"] == worker_class
        scaled = by_name[f"ScaledObject/{deployment}"]["spec"]
        assert scaled["scaleTargetRef"]["name"] == deployment
        for trigger in scaled["triggers"]:
            assert f'queue="{base}:{worker_class}"' in trigger["metadata"]["query"]


def test_strict_schemas_refuse_an_unknown_field() -> None:
    doc = _worker()
    doc["spec"]["template"]["spec"]["containers"][0]["resorces"] = {}
    assert any("resorces" in e for e in check_k8s.schema_errors(doc))
    assert list(check_k8s.schema_errors(_worker())) == []


def test_the_scaled_object_schema_catches_typos() -> None:
    assert list(check_k8s.schema_errors(_scaled_object())) == []
    typo = _scaled_object()
    typo["spec"]["maxReplicas"] = 3
    assert list(check_k8s.schema_errors(typo))
    numeric = _scaled_object()
    numeric["spec"]["triggers"][0]["metadata"]["threshold"] = 2  # KEDA wants strings
    assert list(check_k8s.schema_errors(numeric))


def test_the_policy_wants_probes_limits_and_non_root() -> None:
    assert list(check_k8s.policy_errors(_worker())) == []
    doc = _worker()
    container = doc["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    del container["resources"]["limits"]["memory"]
    container["livenessProbe"]["httpGet"]["port"] = "http"
    doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    errors = " | ".join(check_k8s.policy_errors(copy.deepcopy(doc)))
    for expected in ("readinessProbe", "memory limit", "port 'http'", "runAsNonRoot"):
        assert expected in errors
