"""A compact fingerprint of every built-in task, to prove a task-file refactor changes nothing.

For each task: the SHA-256 of everything the catalogue says about it (domains, classes, config,
recipes, methods, published values, notes, ...) and the run id of every (method, recipe) pair,
which hashes the whole resolved configuration. Also the suites, aliases and leaderboard rows.
Uses only the public API, so the same function fingerprints the catalogue before and after a
change. Regenerate the golden file after an intended change to a task file:

    DABENCH_UPDATE_GOLDEN=1 python -m pytest -q tests/test_task_golden.py
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dabench.config import resolve


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return _plain(obj.model_dump())
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _plain(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _sha(obj: Any) -> str:
    text = json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(catalog) -> dict[str, Any]:
    tasks = {}
    for name, spec in sorted(catalog.tasks.items()):
        body = _plain(spec)
        body.pop("file", None)  # where the file lives is not what it says
        methods = sorted({*spec.methods, *(p.method for p in spec.published), "revgrad"})
        runs = {}
        for method in methods:
            for recipe in [None, *sorted(spec.recipes)]:
                over = {} if recipe is None else {"recipe": recipe}
                runs[f"{method}/{recipe or '-'}"] = resolve(spec, method, 0, over).run_id()
        tasks[name] = {"spec": _sha(body), "runs": runs}
    return {
        "tasks": tasks,
        "suites": {k: list(v) for k, v in sorted(catalog.suites.items())},
        "aliases": dict(sorted(catalog.aliases.items())),
        "board": _sha(catalog.board),
    }
