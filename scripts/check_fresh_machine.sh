#!/usr/bin/env bash
# The README's two commands as a new user runs them: from a fresh `git clone` of this
# repository's HEAD, with an empty home directory and a PATH that finds only the OS's
# own python3 (no pyenv, no uv). Expects:
#   ./scripts/run_bot.sh  first run: creates .env (mode 600), says to put BOT__TOKEN there,
#                         exits 2; second run: the bot's one-line missing-token error,
#                         exit 2; neither prints a traceback or a pip error.
#   ./scripts/test.sh     the whole suite passes.
#
#   scripts/check_fresh_machine.sh                 on this machine (uses its services)
#   scripts/check_fresh_machine.sh --debootstrap[=SUITE] [--mirror URL]
#       in a new Debian (bookworm: Python 3.11; trixie: Python 3.13) made by debootstrap,
#       run as root in its own network, mount and PID namespaces, so that this machine's
#       PostgreSQL and Redis are out of sight: test.sh must install and start its own.
#       Needs root; downloads about 1 GB; 13 to 19 minutes here (README, Development).
#       The namespace reaches the package registries only through a proxy on a unix
#       socket (scripts/_proxy_bridge.py); https_proxy is the one variable set for it.
#   --keep    leave the temporary directory for a look afterwards
#
# Only TEST_REDIS_DB passes from the caller (the tests flush that Redis database; on a
# shared machine give yours). The PostgreSQL test role is one of its own
# (community_bot_fresh_<pid>), dropped with its databases at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mode=local
suite=bookworm
mirror=https://deb.debian.org/debian
keep=false
while [ $# -gt 0 ]; do
  case $1 in
  --debootstrap) mode=debootstrap ;;
  --debootstrap=*) mode=debootstrap suite=${1#*=} ;;
  --mirror) mirror=$2 && shift ;;
  --keep) keep=true ;;
  *) echo "usage: $0 [--debootstrap[=SUITE]] [--mirror URL] [--keep]" >&2 && exit 2 ;;
  esac
  shift
done

CLEAN_PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
work=$(mktemp -d /var/tmp/community-bot-fresh.XXXXXX)
started=$(date +%s)
pg_role=""   # the local mode's PostgreSQL role, dropped at the end
proxy_pid="" # the debootstrap mode's proxy, stopped at the end

# What this run created goes, whatever happened (errexit off: one failing step must not
# leave the rest behind). The namespace's mounts are gone with it; --one-file-system
# keeps rm inside the directory's own filesystem all the same.
cleanup() {
  set +e
  [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null
  [ -z "$pg_role" ] || cleanup_local "$pg_role"
  if $keep; then
    echo "kept $work"
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
say() { printf '\n###### %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}

# The checks, as one script run inside the fresh machine (or the fresh environment):
# $1 the clone, $2 the empty home directory. Prints PASS lines; exits non-zero on a failure.
inner_checks() {
  cat <<'EOF'
set -uo pipefail
cd "$1"
export HOME="$2"
echo "python3: $(command -v python3) ($(python3 --version 2>&1)); uv: $(command -v uv || echo none)"
check_run_output() { # the output of run_bot.sh: no traceback, no pip error
  if grep -q "Traceback" "$1"; then echo "FAIL: a traceback"; return 1; fi
  if grep -Eiq "externally-managed|No module named pip|pip.*error" "$1"; then
    echo "FAIL: a pip error"
    return 1
  fi
}
echo "------ ./scripts/run_bot.sh (first run)"
./scripts/run_bot.sh >run1.log 2>&1
status=$?
cat run1.log
check_run_output run1.log || exit 1
[ "$status" = 2 ] || { echo "FAIL: exit status $status, expected 2"; exit 1; }
tail -n 1 run1.log | grep -q "BOT__TOKEN" || { echo "FAIL: no BOT__TOKEN guidance"; exit 1; }
[ "$(stat -c %a .env)" = 600 ] || { echo "FAIL: .env is not mode 600"; exit 1; }
echo "PASS: first run created .env (600) and asked for BOT__TOKEN (exit 2)"
echo "------ ./scripts/run_bot.sh (second run, token still empty)"
./scripts/run_bot.sh >run2.log 2>&1
status=$?
cat run2.log
check_run_output run2.log || exit 1
[ "$status" = 2 ] || { echo "FAIL: exit status $status, expected 2"; exit 1; }
tail -n 1 run2.log | grep -q "^error: BOT__TOKEN is not set" || { echo "FAIL: no one-line error"; exit 1; }
echo "PASS: second run: one-line missing-token error (exit 2)"
echo "------ ./scripts/test.sh"
./scripts/test.sh 2>&1 | tee test.log
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || { echo "FAIL: test.sh exit status $status"; exit 1; }
echo "PASS: test.sh: $(grep -E '[0-9]+ passed' test.log | tail -n 1)"
EOF
}

cleanup_local() {
  local role=$1
  # Only what this run created: its own role and the databases it owns.
  psql_admin() {
    if [ "$(id -u)" = 0 ]; then
      (cd / && runuser -u postgres -- psql -X -q -At "$@")
    else
      (cd / && sudo -n -u postgres psql -X -q -At "$@")
    fi
  }
  if psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'" | grep -q 1; then
    psql_admin -c "SELECT datname FROM pg_database WHERE datdba =
      (SELECT oid FROM pg_roles WHERE rolname = '$role')" |
      while read -r db; do psql_admin -c "DROP DATABASE \"$db\" WITH (FORCE)"; done
    psql_admin -c "DROP ROLE \"$role\""
    echo "dropped PostgreSQL role $role and its databases"
  fi
}

run_local() {
  local role="community_bot_fresh_$$"
  pg_role=$role
  say "fresh clone of $(git -C "$repo" rev-parse --short HEAD) into $work/repo"
  git clone -q "$repo" "$work/repo"
  mkdir "$work/home"
  inner_checks >"$work/checks.sh"
  say "env -i HOME=$work/home PATH=$CLEAN_PATH (+ TEST_REDIS_DB, TEST_PG_ROLE=$role)"
  env -i HOME="$work/home" PATH="$CLEAN_PATH" TEST_PG_ROLE="$role" \
    ${TEST_REDIS_DB:+TEST_REDIS_DB="$TEST_REDIS_DB"} \
    bash "$work/checks.sh" "$work/repo" "$work/home" ||
    fail "the fresh-machine checks (output above)"
}

run_debootstrap() {
  [ "$(id -u)" = 0 ] || fail "--debootstrap needs root (debootstrap, chroot, namespaces)"
  command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap
  }
  local rootfs="$work/rootfs" sock="$work/proxy.sock"
  say "debootstrap $suite (Debian's default package set + python3) into $rootfs"
  debootstrap --include=python3,ca-certificates "$suite" "$rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log"
    fail "debootstrap (log above)"
  }
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' >"$rootfs/etc/hosts"
  echo "python3 in it: $(chroot "$rootfs" python3 --version)"
  say "fresh clone of $(git -C "$repo" rev-parse --short HEAD) into /root/repo"
  git clone -q "$repo" "$rootfs/root/repo"
  mkdir -p "$rootfs/root/home"
  inner_checks >"$rootfs/root/checks.sh"
  unprivileged_check >"$rootfs/root/unprivileged.sh"
  # This machine's own CAs (a TLS-inspecting proxy's, say) belong to its network, not to
  # the project: the fresh system trusts them too, as its administrator would set up.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi

  python3 "$repo/scripts/_proxy_bridge.py" serve --unix "$sock" &
  proxy_pid=$!
  for _ in $(seq 1 100); do
    if [ -S "$sock" ]; then break; fi
    sleep 0.2
  done
  say "in new network/mount/PID namespaces: chroot $rootfs, env -i, only https_proxy"
  # PID 1 of the namespace is this bash: when it ends, everything started inside (the
  # proxy bridge, PostgreSQL, Redis) ends, and the mounts go with the namespace.
  # shellcheck disable=SC2016 # expanded by the inner bash
  unshare --net --mount --pid --fork --propagation private bash -euo pipefail -c '
    rootfs=$1 sock=$2 repo=$3 path=$4
    [ -n "$rootfs" ] && [ "$rootfs" != / ] && [ -x "$rootfs/usr/bin/python3" ] || exit 1
    ip link set lo up
    python3 "$repo/scripts/_proxy_bridge.py" bridge --listen 127.0.0.1:3128 --unix "$sock" &
    for _ in $(seq 1 100); do
      if (exec 3<>/dev/tcp/127.0.0.1/3128) 2>/dev/null; then break; fi
      sleep 0.2
    done
    mount -t proc proc "$rootfs/proc"
    mount -t sysfs sys "$rootfs/sys"
    mount --rbind /dev "$rootfs/dev"
    mount -t tmpfs -o mode=1777 shm "$rootfs/dev/shm"
    mount -t tmpfs -o mode=755 run "$rootfs/run"
    proxy=http://127.0.0.1:3128
    in_chroot() {
      chroot "$rootfs" env -i HOME=/root/home PATH="$path" \
        https_proxy=$proxy HTTPS_PROXY=$proxy no_proxy=127.0.0.1,localhost \
        NO_PROXY=127.0.0.1,localhost "$@"
    }
    in_chroot bash /root/unprivileged.sh
    in_chroot bash /root/checks.sh /root/repo /root/home
  ' _ "$rootfs" "$sock" "$repo" "$CLEAN_PATH" || fail "the fresh-machine checks (output above)"
}

# Before anything is installed: test.sh run by a user without root or sudo stops and
# says what to install.
unprivileged_check() {
  cat <<'EOF'
set -uo pipefail
echo "------ ./scripts/test.sh as a user without root or sudo"
rm -rf /tmp/u && mkdir -p /tmp/u/home && cp -a /root/repo /tmp/u/repo
chown -R nobody:nogroup /tmp/u
cd /tmp/u/repo
runuser -u nobody -- env -i HOME=/tmp/u/home PATH="$PATH" https_proxy="$https_proxy" \
  ./scripts/test.sh >/tmp/u.log 2>&1
status=$?
cat /tmp/u.log
rm -rf /tmp/u
[ "$status" != 0 ] || { echo "FAIL: it did not stop"; exit 1; }
grep -q "apt-get install -y python3-venv" /tmp/u.log || { echo "FAIL: no install line"; exit 1; }
echo "PASS: stopped with the exact apt-get line (exit $status)"
EOF
}

if [ "$mode" = local ]; then
  run_local
else
  run_debootstrap
fi
say "fresh machine: all checks passed"
