#!/usr/bin/env bash
# Installs everything examsvc needs on a machine of its kind (Debian, Python >= 3.11, Node).
# Usage: scripts/bootstrap.sh [--dev]   (--dev adds the test tools and Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=false; [ "${1:-}" = "--dev" ] && dev=true

# System packages: a CJK font for the PDF result notice; Chromium for the browser tests.
need=()
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if $dev; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bootstrap: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python: a virtualenv, reinstalled only when the dependency list changed.
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.examsvc-$(cat pyproject.toml | sha256sum | cut -c1-16)-$dev"
if [ ! -e "$stamp" ]; then
  echo "bootstrap: installing Python packages (log: .venv/pip.log)"
  extras=""; $dev && extras="[dev]"
  # face_recognition 1.3 declares the `dlib` sdist (a 6-minute compile); the prebuilt
  # dlib-bin wheel in pyproject.toml provides the same `dlib` module.
  if ! { .venv/bin/pip install --upgrade pip \
         && .venv/bin/pip install -e ".${extras}" \
         && .venv/bin/pip install --no-deps "face_recognition==1.3.0"; } >.venv/pip.log 2>&1; then
    tail -40 .venv/pip.log
    echo "bootstrap: pip failed (see .venv/pip.log)" >&2
    exit 1
  fi
  rm -f .venv/.examsvc-*
  touch "$stamp"
fi

# The English catalog, compiled from examsvc/translations/en/LC_MESSAGES/messages.po.
scripts/translations.sh compile >/dev/null

# Front-end libraries from the npm registry, served by the app (no CDN).
if [ -x scripts/vendor.sh ]; then scripts/vendor.sh; fi
