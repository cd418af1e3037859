#!/usr/bin/env bash
# One command to set up and run every check: lint, types, and the test suite.
# Extra arguments go to pytest. EXAMSVC_TEST_DATABASE_URL=postgresql://... runs on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy proctoring question_banks examsvc
# Two test processes (pytest-xdist: the suite mostly waits on servers, browsers and
# subprocesses); the browser tests stay together on one (tests/conftest.py).
# EXAMSVC_TEST_PROCESSES=0 runs in this process (for -s or a debugger).
.venv/bin/pytest -n "${EXAMSVC_TEST_PROCESSES:-2}" --dist loadfile "$@"
