#!/usr/bin/env bash
# A built package serves pages: build the wheel from a copy of the sources, install it into
# a fresh virtualenv outside the checkout (the project venv's packages reached through a
# .pth, never the checkout), run `examsvc db upgrade` on a new SQLite database from another
# directory and fetch the login page (in Chinese and in English: the wheel carries the
# compiled catalog), a stylesheet and the vendored Socket.IO client.
# Prints "wheel ok: <wheel>" at the end; with EXAMSVC_WHEEL_DIR set, leaves the wheel there.
# Used by .ci/run and tests/test_packaging.py.
set -euo pipefail
unset PYTHONPATH  # the checkout on the path would make pip see examsvc as installed already
cd "$(dirname "$0")/.."
checkout=$(pwd)
python=${EXAMSVC_PYTHON:-$checkout/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The sources the build reads (no build/ left over from an earlier build, no instance/).
mkdir "$work/src"
cp -r setup.py pyproject.toml README.md examsvc proctoring question_banks templates migrations \
  "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
find "$work/src" -name "*.mo" -delete  # the build compiles the catalogs itself (setup.py)
"$python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/dist" "$work/src"
wheel=$(ls "$work/dist"/examsvc-*.whl)
if [[ -n "${EXAMSVC_WHEEL_DIR:-}" ]]; then cp "$wheel" "$EXAMSVC_WHEEL_DIR/"; fi

# A fresh virtualenv; the dependencies are the project venv's (not the checkout's code).
"$python" -m venv --without-pip "$work/venv"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
new_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$site" >"$new_site/project-venv.pth"
"$python" -m pip --python "$work/venv/bin/python" install --quiet --no-deps --no-index "$wheel"

mkdir "$work/run"
cd "$work/run"
unset PYTHONPATH EXAMSVC_DEMO_MODE EXAMSVC_REDIS_URL
export EXAMSVC_SECRET_KEY=wheel-check EXAMSVC_INSTANCE_PATH="$work/run/instance"
export EXAMSVC_DATABASE_URL="sqlite:///$work/run/wheel.db" EXAMSVC_ROSTER_PULL_INTERVAL=0
"$work/venv/bin/examsvc" db upgrade
"$work/venv/bin/python" - "$checkout" <<'EOF'
import sys
from pathlib import Path

import examsvc
from examsvc import create_app

checkout = Path(sys.argv[1]).resolve()
where = Path(examsvc.__file__).resolve()
assert Path(sys.prefix).resolve() in where.parents, f"examsvc is not the wheel's: {where}"
on_path = {Path(p or ".").resolve() for p in sys.path}
assert checkout not in on_path, f"the checkout is on sys.path: {sys.path}"
client = create_app({"SESSION_COOKIE_SECURE": False}).test_client()
for url, expected in [
    ("/login", "登录"),
    ("/static/css/app.css", "{"),
    ("/static/vendor/socket.io.min.js", "io"),
]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert expected in response.get_data(as_text=True), url
client.set_cookie("lang", "en")  # the compiled English catalog is in the wheel
assert "Log in" in client.get("/login").get_data(as_text=True), "no English catalog"
EOF
echo "wheel ok: $(basename "$wheel")"
