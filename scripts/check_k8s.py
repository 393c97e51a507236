"""Validate deploy/k8s without a cluster or network: render the base and every overlay
with kustomize, check each object against the Kubernetes schemas bundled in the PyPI
package kubernetes-validate (strict: unknown fields fail), KEDA's ScaledObject against
deploy/k8s/schemas/, and the rules this project holds its manifests to (probes,
resources, non-root, references that resolve).

    uv run python -m scripts.check_k8s

kustomize comes from `kustomize build` or `kubectl kustomize` (kubectl has it built
in); without either, only the base's plain files and the Secret example are checked,
and the script says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes release still commonly run, and the newest the package knows.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): K8S / "schemas/scaledobject-keda-v1alpha1.json"
}
WORKLOADS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}


def renderer() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(command: list[str], directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [*command, str(directory)], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def plain(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def schema_errors(doc: dict[str, Any]) -> Iterator[str]:
    crd = CRD_SCHEMAS.get((doc.get("apiVersion", ""), doc.get("kind", "")))
    if crd is not None:
        validator = jsonschema.Draft202012Validator(json.loads(crd.read_text()))
        for error in validator.iter_errors(doc):
            yield f"{'.'.join(map(str, error.path))}: {error.message}"
        return
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            yield f"k8s {version}: {'.'.join(map(str, error.path))}: {error.message}"
        except kubernetes_validate.SchemaNotFoundError as error:
            yield f"no schema: {error.message} (add one under deploy/k8s/schemas/)"


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def policy_errors(doc: dict[str, Any]) -> Iterator[str]:
    """What the schemas allow but a production deployment must not lack."""
    if doc["kind"] not in WORKLOADS:
        return
    pod = doc["spec"]["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        yield "pod securityContext.runAsNonRoot is not true"
    if pod.get("automountServiceAccountToken") is None and not pod.get("serviceAccountName"):
        yield "no serviceAccountName (the default one mounts an API token)"
    for container in _containers(doc):
        where = f"container {container['name']}"
        resources = container.get("resources", {})
        if "memory" not in resources.get("limits", {}):
            yield f"{where}: no memory limit"
        if not {"cpu", "memory"} <= set(resources.get("requests", {})):
            yield f"{where}: cpu and memory requests missing"
        security = container.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation is not false"
        if doc["kind"] == "Deployment":
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    yield f"{where}: no {probe}"
            ports = {port["name"] for port in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    yield f"{where}: {probe} names port {port!r}, which it does not declare"


def reference_errors(docs: list[dict[str, Any]]) -> Iterator[str]:
    """Names that must resolve within one rendered deployment."""
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    secret_example = plain(K8S / "secret.example.yaml")[0]["metadata"]["name"]
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            for container in _containers(doc):
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        ref = source["configMapRef"]["name"]
                        if ("ConfigMap", ref) not in names:
                            yield f"{name_of(doc)}: ConfigMap {ref} is not in the render"
                    if "secretRef" in source and source["secretRef"]["name"] != secret_example:
                        secret = source["secretRef"]["name"]
                        yield f"{name_of(doc)}: Secret {secret} is not the documented one"
        if doc["kind"] == "ScaledObject":
            target = doc["spec"]["scaleTargetRef"]
            if (target.get("kind", "Deployment"), target["name"]) not in names:
                yield f"{name_of(doc)}: scales {target['name']}, which is not in the render"
        if doc["kind"] in {"Service", "PodDisruptionBudget"}:
            selector = doc["spec"].get("selector", {})
            labels = selector.get("matchLabels", selector)
            if not any(
                d["kind"] in WORKLOADS
                and labels.items() <= d["spec"]["template"]["metadata"]["labels"].items()
                for d in docs
            ):
                yield f"{name_of(doc)}: its selector matches no pod template"


def check(label: str, docs: list[dict[str, Any]], *, rendered: bool) -> int:
    failures = 0
    for doc in docs:
        for error in [*schema_errors(doc), *policy_errors(doc)]:
            print(f"FAIL {label}: {name_of(doc)}: {error}")
            failures += 1
    if rendered:
        for error in reference_errors(docs):
            print(f"FAIL {label}: {error}")
            failures += 1
    if not failures:
        print(f"ok   {label}: {len(docs)} objects")
    return failures


def main() -> int:
    failures = check("secret.example.yaml", plain(K8S / "secret.example.yaml"), rendered=False)
    command = renderer()
    if command is None:
        print("note: neither kustomize nor kubectl found: overlays not rendered; checking the")
        print("      base's plain files only (install kubectl to check everything)")
        kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            failures += check(f"base/{resource}", plain(K8S / "base" / resource), rendered=False)
        return 1 if failures else 0
    targets = [K8S / "base", *sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())]
    for target in targets:
        label = str(target.relative_to(K8S))
        try:
            docs = render(command, target)
        except subprocess.CalledProcessError as exc:
            print(f"FAIL {label}: kustomize: {exc.stderr.strip()}")
            failures += 1
            continue
        failures += check(label, docs, rendered=True)
        if target.parent.name == "overlays":
            for doc in docs:
                for container in _containers(doc) if doc["kind"] in WORKLOADS else []:
                    if container["image"].endswith(":latest") or ":" not in container["image"]:
                        image = container["image"]
                        print(f"FAIL {label}: {name_of(doc)}: image {image} has no fixed tag")
                        failures += 1
    print(
        f"kubernetes manifests: {failures} problem(s); schemas for Kubernetes {', '.join(VERSIONS)}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
