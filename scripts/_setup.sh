# shellcheck shell=bash
# Sourced by run_bot.sh, test.sh and .ci/run: uv on PATH and a Python for the project,
# on a fresh Debian/Ubuntu machine too.
#
# - The system Python is never touched: uv is installed with pip into a private virtual
#   environment ($XDG_DATA_HOME/community-bot/tools), unless a recent uv is already there.
# - uv never downloads a Python (UV_PYTHON_DOWNLOADS=never): it uses .python-version's
#   version when it is installed, else the OS's python3 when requires-python allows it
#   (Ubuntu 24.04 has only 3.12, Debian 13 only 3.13). UV_PYTHON set by the caller wins.
# - OS packages that are missing are installed with apt-get as root or through sudo;
#   without either, the exact command to run is printed and the script stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.9 # what the lock was written with; installed when no uv is found
UV_MIN=0.13       # an older uv on PATH is passed over for the private one
PYTHON_MIN=3.11   # requires-python in pyproject.toml: >=3.11,<3.14
PYTHON_MAX=3.13
TOOLS_HOME="${XDG_DATA_HOME:-$HOME/.local/share}/community-bot"
# shellcheck disable=SC2034 # used by test.sh
STATE_HOME="${XDG_STATE_HOME:-$HOME/.local/state}/community-bot"
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
# uv trusts the OS's certificate store, as apt and pip do here: a TLS-inspecting proxy
# whose CA the administrator installed there is then trusted by uv too.
if [ -z "${UV_SYSTEM_CERTS:-}${SSL_CERT_FILE:-}" ] && [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  export UV_SYSTEM_CERTS=true
fi

say() { printf '== %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

# as_root CMD...: run a command as root, directly or through sudo (which may ask for a
# password on a terminal). Returns 127 when neither is possible.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    sudo "$@"
  else
    return 127
  fi
}

can_be_root() {
  [ "$(id -u)" = 0 ] ||
    { command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; }
}

# apt_install PACKAGE...: install OS packages, or say exactly what to run and stop.
apt_install() {
  local how="apt-get install -y $*"
  [ "$(id -u)" = 0 ] || how="sudo $how"
  if ! command -v apt-get >/dev/null 2>&1; then
    die "these OS packages are missing: $*" \
      "this is not a Debian/Ubuntu system: install their equivalents, then run this again."
  fi
  if ! can_be_root; then
    die "these OS packages are missing: $*" \
      "run this as root (or a user with sudo), or install them first:" "    $how"
  fi
  say "installing OS packages: $*"
  # C.UTF-8: a PostgreSQL cluster created by the package's install script gets UTF-8.
  as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    apt-get update -q ||
    die "apt-get update failed (output above)" "fix it, or install them yourself:" "    $how"
  as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    apt-get install -y -q --no-install-recommends "$@" ||
    die "apt-get install failed (output above)" "fix it, or install them yourself:" "    $how"
}

version_at_least() { # version_at_least HAVE WANT: HAVE >= WANT, by version order
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

_uv_recent() { # _uv_recent PATH: a uv binary at least UV_MIN
  local have
  have=$("$1" --version 2>/dev/null | awk '{print $2}') || return 1
  [ -n "$have" ] && version_at_least "$have" "$UV_MIN"
}

_install_private_uv() {
  local venv="$TOOLS_HOME/tools"
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    say "installing uv $UV_VERSION into $venv (a private virtual environment)"
    if ! python3 -m venv "$venv"; then
      # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) as python3-venv.
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv" || die "python3 -m venv failed (output above)"
    fi
  fi
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "uv==$UV_VERSION" ||
    die "pip could not install uv $UV_VERSION (output above)"
  mkdir -p "$TOOLS_HOME/bin"
  # Only uv and uvx on PATH: the venv's own python must not shadow the system's.
  ln -sf "$venv/bin/uv" "$TOOLS_HOME/bin/uv"
  ln -sf "$venv/bin/uvx" "$TOOLS_HOME/bin/uvx"
}

ensure_uv() {
  local dir
  if command -v uv >/dev/null 2>&1 && _uv_recent "$(command -v uv)"; then
    return
  fi
  # Where uv's own installer, cargo and this script put it.
  for dir in "$HOME/.local/bin" "$HOME/.cargo/bin" "$TOOLS_HOME/bin"; do
    if [ -x "$dir/uv" ] && _uv_recent "$dir/uv"; then
      export PATH="$dir:$PATH"
      return
    fi
  done
  _install_private_uv
  export PATH="$TOOLS_HOME/bin:$PATH"
}

# python_version PATH: "3.12" for an interpreter, nothing when it does not run.
python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

python_supported() { # python_supported 3.12
  version_at_least "$1" "$PYTHON_MIN" && version_at_least "$PYTHON_MAX" "$1"
}

# choose_python: the interpreter uv builds .venv from, as UV_PYTHON when uv would not
# find one on its own. Never a download.
choose_python() {
  local wanted candidate version
  if [ -n "${UV_PYTHON:-}" ]; then
    return # the caller's choice (CI's matrix, the 3.13 leg)
  fi
  wanted=$(cat .python-version)
  if uv python find >/dev/null 2>&1; then
    return # .python-version's version is installed; uv takes it
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3
  for candidate in /usr/bin/python3 "$(command -v python3)"; do
    [ -x "$candidate" ] || continue
    version=$(python_version "$candidate") || continue
    if [ -n "$version" ] && python_supported "$version"; then
      say "Python $version ($candidate): Python $wanted (.python-version) is not installed"
      export UV_PYTHON="$candidate"
      return
    fi
  done
  die "no Python $PYTHON_MIN to $PYTHON_MAX found (python3 is ${version:-missing})" \
    "install one from the OS packages (Debian 12: python3, Ubuntu 24.04: python3," \
    "Debian 13: python3), or point UV_PYTHON at one; nothing is downloaded."
}

# find_python 3.13: an installed interpreter of that version, as uv discovers it (PATH,
# uv-managed), else under pyenv, whose shims answer only for the selected version.
find_python() {
  local found candidate
  if found=$(uv python find --no-project "$1" 2>/dev/null); then
    printf '%s\n' "$found"
    return
  fi
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python"$1"; do
    [ -x "$candidate" ] || continue
    if found=$(uv python find --no-project "$candidate" 2>/dev/null); then
      printf '%s\n' "$found"
      return
    fi
  done
  return 1
}

ensure_uv
choose_python
