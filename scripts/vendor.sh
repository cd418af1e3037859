#!/usr/bin/env bash
# Copies the front-end libraries from the npm registry into examsvc/static/vendor/,
# where the app serves them (pages call no outside host).
set -euo pipefail
cd "$(dirname "$0")/.."
out=examsvc/static/vendor
lock_sum=$(sha256sum package-lock.json | cut -c1-16)
if [ -e "$out/.stamp-$lock_sum" ]; then exit 0; fi
npm ci --silent --no-audit --no-fund
mkdir -p "$out"
cp node_modules/socket.io-client/dist/socket.io.min.js "$out/"
cp node_modules/socket.io-client/LICENSE "$out/socket.io-client.LICENSE"
cp node_modules/chart.js/dist/chart.umd.min.js "$out/"  # the statistics page's charts
cp node_modules/chart.js/LICENSE.md "$out/chart.js.LICENSE.md"
rm -f "$out"/.stamp-*
touch "$out/.stamp-$lock_sum"
echo "vendor: socket.io-client $(node -p 'require("./node_modules/socket.io-client/package.json").version')," \
  "chart.js $(node -p 'require("./node_modules/chart.js/package.json").version')"
