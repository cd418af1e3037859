#!/usr/bin/env bash
# Before the first release the schema is one migration, regenerated from the models.
# (After a release: use `examsvc db migrate -m "..."` for each change instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f migrations/versions/0001_initial.py
export EXAMSVC_DEMO_MODE=true EXAMSVC_INSTANCE_PATH="$tmp" EXAMSVC_DATABASE_URL="sqlite:///$tmp/regen.db"
.venv/bin/examsvc db migrate -m initial --rev-id 0001 >/dev/null 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
for f in migrations/versions/0001_*.py; do [ "$f" = migrations/versions/0001_initial.py ] || mv "$f" migrations/versions/0001_initial.py; done
.venv/bin/ruff format -q migrations/versions/0001_initial.py || true
echo "migrations/versions/0001_initial.py regenerated"
