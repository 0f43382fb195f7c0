#!/usr/bin/env bash
# The project's test command: lint, type-check, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check src tests scripts
ruff format --check src tests scripts
echo "== mypy"
mypy
echo "== chromium (tests/test_lab_report.py opens the lab report in it)"
# Debian's chromium; installed here only when missing and we are root with apt-get.
# If it cannot be installed the report test fails saying so (it is never skipped).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
        || echo "warning: could not install chromium; tests/test_lab_report.py will fail" >&2
fi
echo "== pytest"
python -m pytest -q "$@"
