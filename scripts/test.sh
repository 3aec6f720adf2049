#!/usr/bin/env bash
# Lint (ruff) and run the test suite (sets up ./.venv first if needed). Extra arguments go to pytest.
# Slow checks on real data and benchmarks are excluded here; run them with: bash scripts/test.sh -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-run
echo "[test] ruff check"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
