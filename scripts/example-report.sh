#!/usr/bin/env bash
# Regenerate docs/example-report.html, the HTML report of the sample records in tests/golden/runs,
# and its screenshot docs/example-report.png (needs Chromium: apt-get install chromium).
source "$(dirname "$0")/venv.sh"
"$VENV/bin/python" -m dabench report --runs-dir tests/golden/runs --format html \
  --out docs/example-report.html
"${DABENCH_CHROMIUM:-chromium}" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --hide-scrollbars --window-size=1400,2700 --screenshot=docs/example-report.png \
  "file://$PWD/docs/example-report.html" 2>/dev/null
echo "wrote docs/example-report.png" >&2
