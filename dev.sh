#!/usr/bin/env bash
# One entry point for people and CI:
#   ./dev.sh site    set up .venv and build the example site into public/
#   ./dev.sh test    set up .venv (+ Debian's chromium for browser tests, postgresql for the collector's) and run
#                    the whole test suite
#   ./dev.sh serve   set up .venv and preview the example site with live reload
#   ./dev.sh bench   set up .venv and run the benchmarks
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${SITEGEN_VENV:-.venv}
PY=${PYTHON:-python3}

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed.
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$1"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[$1]"
    touch "$stamp"
  fi
}

setup_chromium() {
  # Browser tests drive Debian's chromium; Playwright must never download a browser of its own.
  if ! command -v chromium >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
}

setup_postgresql() {
  # The collector's PostgreSQL tests start a throwaway server of their own (tests/pgserver.py): only Debian's
  # binaries are needed (initdb, pg_ctl under /usr/lib/postgresql/VERSION/bin); no cluster is used or changed.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
}

setup_web_checkers() {
  # Quality tests run axe-core in the browser and the Nu HTML Checker (vnu.jar, needs Java) from npm.
  if [ ! -f .cache/npm/node_modules/axe-core/axe.min.js ] || [ ! -f .cache/npm/node_modules/vnu-jar/build/dist/vnu.jar ]; then
    command -v npm >/dev/null 2>&1 || { echo "dev.sh: npm is needed for the accessibility tests (apt-get install npm)" >&2; exit 1; }
    npm install --prefix .cache/npm --no-audit --no-fund --silent axe-core@4 vnu-jar@26
  fi
}

cmd=${1:-site}
shift || true
case "$cmd" in
  site)  setup_python test; "$VENV/bin/python" build.py build "$@" ;;
  test)  setup_python test; setup_chromium; setup_postgresql; setup_web_checkers
         export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
         "$VENV/bin/python" -m pytest "$@" ;;
  serve) setup_python test; "$VENV/bin/python" build.py serve "$@" ;;
  bench) setup_python test; "$VENV/bin/python" benchmarks/run.py "$@" ;;
  *) echo "usage: ./dev.sh site|test|serve|bench [args...]" >&2; exit 2 ;;
esac
