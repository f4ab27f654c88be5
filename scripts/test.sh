#!/usr/bin/env bash
# Install what the tests need into .venv and run every check: lint, types, the suite.
# Tests marked `postgres` use the PostgreSQL server at 127.0.0.1:5432 (STEPPE_TEST_PG).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests (tests/web) drive Debian's chromium through Playwright, which
# downloads no browser of its own.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $sudo_ apt-get update -q >/dev/null && $sudo_ apt-get install -y -q chromium >/dev/null; }
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
# The IOC screen of JSON events and the EVE decoder are compiled (setup.py); Steppe runs
# without them, but the tests must check them, so a build that failed (no gcc, no Python
# headers) stops here.
.venv/bin/python -c "import steppe.detection.ioc._jsonscreen, steppe.ingest.telemetry._evecolumns" \
    || { echo "test.sh: the compiled IOC screen or EVE decoder did not build (gcc and python3-dev needed)" >&2; exit 1; }
# The export tests check their files with Debian's real tools (nft -c, named-checkzone);
# they skip, saying why, where the tools cannot be installed.
if ! command -v named-checkzone >/dev/null || ! PATH="$PATH:/usr/sbin:/sbin" command -v nft >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q nftables bind9-utils >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q nftables bind9-utils >/dev/null; } \
            || echo "nft / named-checkzone could not be installed: their export checks will skip" >&2
    else
        echo "nft / named-checkzone missing and not root: their export checks will skip" >&2
    fi
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
