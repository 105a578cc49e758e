# Sourced by demo.sh and test.sh: create ./.venv (or $DABENCH_VENV) and install dabench into it,
# editable, with the test, video, plots and docs extras. Reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${DABENCH_VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.dabench-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing dabench and its dependencies into $VENV (first time: several minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet -e ".[test,video,plots,docs]" >&2
  echo "$want" > "$stamp"
fi
