"""The runs folder: one directory per run, written atomically, read back by the report.

    <runs>/<task>/<method>/<run-id>/
        config.json     the resolved config (flat dotted keys) and the task's identity
        metrics.jsonl   append-only: one JSON object per log or evaluation step
        result.json     the final record (accuracies, wall time, versions, device)
        done            marker written last; a directory without it is unfinished

The run id is a hash of the resolved config (`RunConfig.run_id`). Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

from dabench.atomic import write_atomic  # noqa: F401  (used here and by importers of store)
from dabench.config import upgrade_keys
from dabench.errors import DabenchError

RUNS_ENV = "DABENCH_RUNS"


def runs_root(path: str | Path | None) -> Path:
    return Path(path or os.environ.get(RUNS_ENV) or "runs").expanduser()


def run_dir(root: Path, task: str, method: str, run_id: str) -> Path:
    """<root>/<task>/<method>/<run-id>, proven to lie inside the runs folder."""
    return inside(root, task, method, run_id)


def inside(root: Path, *names: str) -> Path:
    """`root/name/...` after checking that each name is one plain path component and that the
    resolved path (symbolic links followed) lies inside the resolved `root`: the last line of
    defence against a name such as '../x', 'a/b', '' or '/abs' writing outside the runs folder."""
    for name in names:
        if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise DabenchError(f"the name '{name[:80]}' would write outside the runs folder "
                               f"{root} or where `report` cannot see it; task, method and recipe "
                               "names must be plain names such as 'mnist5k-to-mnistm5k'")
    path = Path(root).joinpath(*names)
    real_root, real = Path(root).resolve(), path.resolve()
    if not real.is_relative_to(real_root):
        raise DabenchError(f"{path} resolves to {real}, outside the runs folder {real_root} (a "
                           "symbolic link?); remove the link or choose another --runs-dir")
    return path


def ensure_writable(root: Path) -> None:
    """Create the runs folder, or fail with one line saying what to do."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
            pass
    except OSError as exc:
        raise DabenchError(f"cannot write to the runs folder {root} ({exc.strerror}); choose "
                           f"another with --runs-dir or {RUNS_ENV}") from None


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def append_jsonl(path: Path, record: dict[str, Any], sync: bool = True) -> None:
    """Append one line and flush it (a crashed process loses at most the line being written);
    `sync`: also fsync it to disk (a power cut too). Without, call `sync_file` when it matters."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        if sync:
            os.fsync(fh.fileno())


def sync_file(path: Path) -> None:
    """fsync a file written without (e.g. metrics lines before the checkpoint that keeps them)."""
    if path.exists():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a metrics file (a torn last line from a crash is dropped)."""
    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


def is_done(directory: Path) -> bool:
    return (directory / "done").is_file() and (directory / "result.json").is_file()


def mark_done(directory: Path) -> None:
    write_atomic(directory / "done", "")


def iter_run_dirs(root: Path) -> Iterator[Path]:
    """Every run directory (finished or not) under <root>/<task>/<method>/."""
    if root.is_dir():
        for directory in sorted(root.glob("*/*/*")):
            if directory.is_dir() and (directory / "config.json").is_file():
                yield directory


class DamagedRun(DabenchError):
    """A run folder marked done whose result.json cannot be used (truncated, wrong shape)."""


def read_result(directory: Path) -> dict[str, Any]:
    """The finished run's result.json, checked for what the report reads; a damaged one raises
    DamagedRun naming the folder and the problem."""
    path = directory / "result.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = "is truncated or not JSON" if isinstance(exc, ValueError) else \
            f"cannot be read ({getattr(exc, 'strerror', exc)})"
        raise DamagedRun(f"run folder {directory} is damaged: result.json {why}") from None
    problem = _result_problem(record)
    if problem:
        raise DamagedRun(f"run folder {directory} is damaged: result.json {problem}")
    return record


_RESULT_TYPES = {"task": str, "method": str, "model": str, "seed": int, "config": dict}


def _result_problem(record: Any) -> Optional[str]:
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not an object"
    for key, kind in _RESULT_TYPES.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            return f"lacks '{key}'" if key not in record else f"has a bad '{key}'"
    for key in ("target_acc_last", "target_acc_best"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not \
                0.0 <= value <= 1.0:
            return f"lacks '{key}'" if key not in record else \
                f"has '{key}': {json.dumps(value)[:40]}, not an accuracy in [0, 1]"
    return None


def rerun_hint(directory: Path) -> str:
    """How to run a damaged or failed folder again (the same command re-runs it)."""
    try:
        cfg = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        return (f"`dabench run {cfg['task']} -m {cfg['method']} --seed {cfg['seed']}` with "
                "the same --set options runs it again")
    except (OSError, ValueError, KeyError, TypeError):
        return f"delete {directory} and run it again"


def load_records(root: Path, damaged: Optional[list[str]] = None
                 ) -> tuple[list[dict[str, Any]], int]:
    """(finished run records, number of unfinished run directories skipped; failed ones count
    as unfinished too and are listed by `load_failed`). A folder marked done whose result.json
    is damaged is skipped and, when `damaged` is a list, described there (one line each)."""
    records, unfinished = [], 0
    for directory in iter_run_dirs(root):
        if not is_done(directory):
            unfinished += 1
            continue
        try:
            record = read_result(directory)
        except DamagedRun as exc:
            if damaged is not None:
                damaged.append(f"{exc}; skipped. {rerun_hint(directory)}")
            continue
        record["run_dir"] = str(directory)
        record["config"] = upgrade_keys(record["config"])  # renamed settings, current names
        records.append(record)
    return records, unfinished


def git_commit() -> str | None:
    """The commit of the dabench source checkout, if it is one (no shell involved)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def mark_failed(directory: Path, record: dict[str, Any]) -> None:
    """Record a run that stopped on an error (e.g. a NaN loss); the report lists it as failed."""
    write_json(directory / "failed.json", record)


def load_failed(root: Path) -> list[dict[str, Any]]:
    out = []
    for directory in iter_run_dirs(root):
        path = directory / "failed.json"
        if path.is_file() and not is_done(directory):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and {"task", "method", "seed", "error"} <= set(record):
                out.append(record)
    return out
