#!/usr/bin/env bash
# The gettext catalogs (Chinese is the source language; English in
# examsvc/translations/en/LC_MESSAGES/messages.po).
#   scripts/translations.sh update   extract the strings into examsvc/translations/messages.pot
#                                    and merge new ones into each messages.po (translate them)
#   scripts/translations.sh compile  build each messages.mo (bootstrap.sh and the wheel build do)
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=${PYBABEL:-.venv/bin/pybabel}
translations=examsvc/translations
case "${1:-}" in
  update)
    "$pybabel" --quiet extract -F babel.cfg -k N_ --no-location --sort-output \
      --project examsvc --copyright-holder examsvc -o "$translations/messages.pot" .
    "$pybabel" --quiet update --no-fuzzy-matching --ignore-obsolete \
      -i "$translations/messages.pot" -d "$translations"
    ;;
  compile)
    "$pybabel" compile --statistics -d "$translations"
    ;;
  *)
    echo "usage: $0 update|compile" >&2
    exit 2
    ;;
esac
