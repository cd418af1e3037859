#!/usr/bin/env bash
# One command to set up and run every check: lint, types, and the test suite.
# Extra arguments go to pytest. EXAMSVC_TEST_DATABASE_URL=postgresql://... runs on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy proctoring question_banks examsvc
.venv/bin/pytest "$@"
