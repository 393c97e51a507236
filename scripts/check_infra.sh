#!/usr/bin/env bash
# Lints for what the test suite does not cover: the CI workflow and the shell scripts
# (more to come: Dockerfile, compose, ...). .ci/run calls it after scripts/test.sh.
#
# One function per check, named check_*, listed in CHECKS; each runs with `set -e` in a
# subshell, so any failing command fails that check. All checks run; the script fails
# when any did. Tools come from the dev extra (pyproject.toml), pinned by uv.lock.
# shellcheck source=scripts/_setup.sh
source "$(dirname "$0")/_setup.sh"

check_actionlint() {
  # ShellCheck, on PATH through uv run, checks the workflow's run: scripts too.
  uv run --frozen --no-sync actionlint -no-color
}

check_shellcheck() {
  uv run --frozen --no-sync shellcheck -x scripts/*.sh .ci/run
}

CHECKS=(
  check_actionlint
  check_shellcheck
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
