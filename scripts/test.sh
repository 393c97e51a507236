#!/usr/bin/env bash
# The whole check, on a fresh machine: OS packages, services, dependencies, lint, types,
# tests. CI runs exactly this (.ci/run). Extra arguments go to pytest.
#
# PostgreSQL: unless TEST_PG_ADMIN_URL is given, the local cluster (installed and
# started when missing) gets a role of its own for the tests, TEST_PG_ROLE (default
# community_bot_test, LOGIN CREATEDB, not a superuser), with a random password kept in
# $XDG_STATE_HOME/community-bot/ (mode 600); the tests create and drop their databases
# as that role. Redis: TEST_REDIS_URL (default redis://127.0.0.1:6379, started when
# nothing answers there), database TEST_REDIS_DB (default 13), which the tests flush.
# shellcheck source=scripts/_setup.sh
source "$(dirname "$0")/_setup.sh"

PG_ROLE="${TEST_PG_ROLE:-community_bot_test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export TEST_REDIS_DB="${TEST_REDIS_DB:-13}"

# ------------------------------------------------------------------ OS packages
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if [ -z "${TEST_PG_ADMIN_URL:-}" ] && ! command -v pg_lsclusters >/dev/null 2>&1; then
  missing+=(postgresql)
fi
redis_hostport=${TEST_REDIS_URL#*://}
redis_hostport=${redis_hostport##*@}
redis_hostport=${redis_hostport%%/*}
redis_host=${redis_hostport%:*}
redis_port=${redis_hostport##*:}
[ "$redis_port" != "$redis_hostport" ] || redis_port=6379

redis_answers() { # PING over bash's /dev/tcp: no client needed; NOAUTH is an answer too
  local reply=""
  { exec 3<>"/dev/tcp/$redis_host/$redis_port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  read -r -t 5 reply <&3 || true
  exec 3>&-
  [[ $reply == "+PONG"* || $reply == "-NOAUTH"* ]]
}
if ! redis_answers && ! command -v redis-server >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# ------------------------------------------------------------------ PostgreSQL
pg_admin() { # psql as the cluster's superuser over the local socket (peer authentication)
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$pg_port" "$@")
  elif can_be_root; then
    (cd / && sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -p "$pg_port" "$@")
  else # a cluster that trusts local TCP connections (a developer's machine)
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -w "$@"
  fi
}

pg_role_login() { # psql as the test role over TCP, as the tests connect
  PGPASSWORD="$pg_password" psql -X -q -w -h 127.0.0.1 -p "$pg_port" -U "$PG_ROLE" \
    -d "$PG_ROLE" "$@"
}

start_postgresql() {
  local cluster version name port status
  cluster=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print; exit}')
  [ -n "$cluster" ] || cluster=$(pg_lsclusters --no-header 2>/dev/null | head -n 1)
  if [ -z "$cluster" ]; then
    version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V |
      tail -n 1)
    say "creating PostgreSQL $version cluster main"
    as_root pg_createcluster --locale C.UTF-8 "$version" main ||
      die "pg_createcluster $version main failed (output above)"
    cluster=$(pg_lsclusters --no-header | head -n 1)
  fi
  read -r version name port status _ <<<"$cluster"
  pg_port=$port
  if [ "$status" != online ]; then
    say "starting PostgreSQL $version/$name on port $port"
    as_root pg_ctlcluster "$version" "$name" start ||
      die "cannot start PostgreSQL $version/$name (output above)" \
        "as root: pg_ctlcluster $version $name start"
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$pg_port" && return
    sleep 1
  done
  die "PostgreSQL $version/$name does not accept connections on 127.0.0.1:$pg_port"
}

setup_pg_role() {
  local password_file="$STATE_HOME/pg-$PG_ROLE.password"
  mkdir -p "$STATE_HOME"
  chmod 700 "$STATE_HOME"
  exec 4>"$STATE_HOME/pg.lock"
  flock 4 # concurrent runs: one creates the role, the others then log in
  if [ ! -s "$password_file" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24))' \
      >"$password_file")
  fi
  pg_password=$(cat "$password_file")
  if ! pg_role_login -c 'SELECT 1' >/dev/null 2>&1; then
    say "PostgreSQL role $PG_ROLE and its database (for the tests only)"
    # The password is URL-safe base64: nothing in it needs quoting.
    pg_admin -d postgres <<SQL ||
DO \$\$ BEGIN
  CREATE ROLE "$PG_ROLE";
EXCEPTION WHEN duplicate_object THEN NULL;
END \$\$;
ALTER ROLE "$PG_ROLE" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD '$pg_password';
SELECT 'CREATE DATABASE "$PG_ROLE" OWNER "$PG_ROLE"'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_ROLE') \gexec
SQL
      die "cannot create the PostgreSQL role $PG_ROLE (output above)" \
        "run this as root (or with sudo), or set TEST_PG_ADMIN_URL to a role that may" \
        "create databases, e.g. postgresql+asyncpg://user:password@127.0.0.1:5432/postgres"
    pg_role_login -c 'SELECT 1' >/dev/null ||
      die "role $PG_ROLE cannot log in over TCP on 127.0.0.1:$pg_port (psql's error above)" \
        "pg_hba.conf must allow password (scram-sha-256) logins from 127.0.0.1"
  fi
  exec 4>&-
  export TEST_PG_ADMIN_URL="postgresql+asyncpg://$PG_ROLE:$pg_password@127.0.0.1:$pg_port/$PG_ROLE"
}

if [ -z "${TEST_PG_ADMIN_URL:-}" ]; then
  start_postgresql
  setup_pg_role
  say "PostgreSQL: role $PG_ROLE on 127.0.0.1:$pg_port"
else
  say "PostgreSQL: TEST_PG_ADMIN_URL from the caller"
fi

# ------------------------------------------------------------------ Redis
if ! redis_answers; then
  case $redis_host in
  127.0.0.1 | localhost) ;;
  *) die "nothing answers at $TEST_REDIS_URL" ;;
  esac
  redis_dir="$STATE_HOME/redis-$redis_port"
  mkdir -p "$redis_dir"
  say "starting Redis on $redis_host:$redis_port (data in memory only; log: $redis_dir)"
  redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" \
    --appendonly no --dir "$redis_dir" --logfile "$redis_dir/redis.log" ||
    die "cannot start Redis (output above)"
  for _ in $(seq 1 30); do
    redis_answers && break
    sleep 1
  done
  redis_answers || die "Redis does not answer on $redis_host:$redis_port; see $redis_dir/redis.log"
fi
say "Redis: $TEST_REDIS_URL, database $TEST_REDIS_DB (the tests flush it)"

# ------------------------------------------------------------------ checks
say "Python dependencies (uv sync)"
uv sync --frozen --all-extras --quiet
say "$(uv run --frozen --no-sync python -VV)"
uv run --frozen --no-sync python scripts/fetch_test_models.py

say "ruff"
uv run --frozen --no-sync ruff check .
uv run --frozen --no-sync ruff format --check .
say "mypy"
uv run --frozen --no-sync mypy
say "pytest"
uv run --frozen --no-sync pytest "$@"
