"""The built-in task files resolve to the same tasks and run ids as recorded (a refactor of the
task files, e.g. moving shared recipes into an `include:`d file, must change nothing)."""

import json
import os
from pathlib import Path

from dabench.tasks.catalog import load_catalog
from task_snapshot import fingerprint

GOLDEN = Path(__file__).resolve().parent / "golden" / "task_catalog.json"


def test_builtin_tasks_resolve_to_the_recorded_configs_and_run_ids():
    now = fingerprint(load_catalog())
    if os.environ.get("DABENCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    changed = sorted(name for name in {*now["tasks"], *recorded["tasks"]}
                     if now["tasks"].get(name) != recorded["tasks"].get(name))
    assert not changed, (f"tasks resolve differently from {GOLDEN.name}: {changed}; if the change "
                         "is intended: DABENCH_UPDATE_GOLDEN=1 pytest tests/test_task_golden.py")
    assert now == recorded
