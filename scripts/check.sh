#!/usr/bin/env bash
# The project's test command: lint, type-check, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check src tests scripts
ruff format --check src tests scripts
echo "== mypy"
mypy
echo "== pytest"
python -m pytest -q "$@"
