#!/usr/bin/env bash
# The package as a user installs it: build the sdist, build the wheel from the sdist, install the
# wheel into a fresh virtual environment with no source tree on its path, and run it there:
# `dabench --version`, `dabench list-tasks`, a 20-step embedded run and `dabench report`. Checks
# that the wheel holds the task files, the embedded data and the report's assets; prints its size.
#
# The fresh environment gets the wheel alone (`pip install --no-deps`); its dependencies
# (PyTorch and the rest, gigabytes) are read from the test environment's site-packages through a
# plain path line in a .pth file, which puts that folder on sys.path after the fresh site-packages
# without running that folder's own .pth files, so the editable install of this checkout never
# comes in. `pip check` then confirms the wheel's declared dependencies are satisfied.
#
#   bash scripts/wheel_check.sh          # uses ./.venv (or $DABENCH_VENV) via scripts/venv.sh
#   VENV=/path/to/venv bash scripts/wheel_check.sh   # an environment that has everything already
set -euo pipefail
if [ -n "${VENV:-}" ]; then cd "$(dirname "$0")/.."; else source "$(dirname "$0")/venv.sh"; fi
ROOT="$PWD"
t0=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/dabench-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== building the sdist, then the wheel from it (python -m build)"
"$VENV/bin/python" -m build --no-isolation --outdir "$work/dist" . >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; exit 1; }
sdist=$(ls "$work"/dist/dabench-*.tar.gz)
wheel=$(ls "$work"/dist/dabench-*.whl)
echo "sdist $(basename "$sdist"): $(du -k "$sdist" | cut -f1) KiB"
echo "wheel $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB ($(stat -c %s "$wheel") bytes)"

echo "== what the wheel holds"
"$VENV/bin/python" - "$wheel" "$ROOT" <<'EOF'
import sys, zipfile
from pathlib import Path
wheel, root = sys.argv[1], Path(sys.argv[2])
names = set(zipfile.ZipFile(wheel).namelist())
want = {f"dabench/tasks/builtin/{p.name}" for p in (root / "tasks").glob("*.yaml")}
want |= {f"dabench/data/embedded/{n}" for n in ("mnist5k.u8.gz", "README.md")}
want |= {f"dabench/data/vectors/amazon/{p.name}" for p in (root / "dabench/data/vectors/amazon").iterdir()}
want |= {f"dabench/reporting/assets/{p.name}" for p in (root / "dabench/reporting/assets").iterdir()}
missing = sorted(want - names)
if missing:
    sys.exit(f"the wheel lacks {len(missing)} file(s): {', '.join(missing)}")
stray = sorted(n for n in names if n.startswith(("tests/", "docs/", "benchmarks/", "tasks/")))
if stray:
    sys.exit(f"the wheel carries files of the repository that are not the package: {stray[:5]}")
tasks = sum(n.startswith("dabench/tasks/builtin/") for n in names)
print(f"ok: {tasks} task files, the embedded digits and reviews, "
      f"{sum(n.startswith('dabench/reporting/assets/') for n in names)} report assets; {len(names)} files")
EOF

echo "== a fresh virtual environment with the wheel alone"
python_bin="$(readlink -f "$VENV/bin/python")"
"$python_bin" -m venv --without-pip "$work/venv"
deps="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
fresh="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$deps" > "$fresh/_dabench_test_dependencies.pth"
"$work/venv/bin/python" -m pip install --quiet --no-deps --no-index "$wheel"
cd "$work"  # nothing of the checkout on the path: not the cwd, no PYTHONPATH
unset PYTHONPATH DABENCH_TASK_PATH DABENCH_DATA
export DABENCH_RUNS="$work/runs" XDG_CACHE_HOME="$work/cache"
"$work/venv/bin/python" -m pip check
"$work/venv/bin/python" - "$ROOT" <<'EOF'
import sys
from pathlib import Path
import dabench
from dabench.tasks.catalog import builtin_task_dir
here, root = Path(dabench.__file__).resolve(), Path(sys.argv[1]).resolve()
assert root not in here.parents, f"dabench was imported from the checkout: {here}"
assert builtin_task_dir().name == "builtin", builtin_task_dir()
print(f"ok: dabench {dabench.__version__} imported from {here.parent}")
EOF
bin="$work/venv/bin/dabench"
echo "== dabench --version"; "$bin" --version
echo "== dabench list-tasks"; "$bin" list-tasks --format json > tasks.json
"$work/venv/bin/python" -c "import json; t = json.load(open('tasks.json')); assert len(t) > 40 and any(x['name'] == 'mnist-to-mnistm' for x in t), t; print(f'ok: {len(t)} tasks')"
echo "== a 20-step embedded run"
"$bin" run mnist5k-to-mnistm5k -m revgrad --seed 0 --set steps=20 --set eval_every=10 \
  --set log_every=10 --set threads=2
echo "== dabench report"
"$bin" report --format md | tee report.md
grep -q "MNIST" report.md
"$bin" report --format html --out report.html
grep -q "<style" report.html
echo "wheel check passed in $(( $(date +%s) - t0 )) s"
