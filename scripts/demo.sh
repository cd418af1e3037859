#!/usr/bin/env bash
# One command for a newcomer: set up, create the demo database and start the service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export EXAMSVC_DEMO_MODE=true
export EXAMSVC_ROSTER_PULL_INTERVAL=${EXAMSVC_ROSTER_PULL_INTERVAL:-0}
.venv/bin/examsvc db upgrade
.venv/bin/examsvc demo load "$@"
exec .venv/bin/examsvc serve --host "${EXAMSVC_HOST:-127.0.0.1}" --port "${EXAMSVC_PORT:-5000}"
