#!/usr/bin/env bash
# Install what the tests need into .venv and run every check: lint, types, the suite.
# Tests marked `postgres` use the PostgreSQL server at 127.0.0.1:5432 (STEPPE_TEST_PG).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
