"""`dabench status`: what the runs folder says about every run it knows of, read-only.

A run is known from its folder: `config.json` (written when training starts) or `ticket.json`
(written by a launcher when it plans the run). Its state is
- done: `done` and `result.json` exist;
- running: a live lock (see dabench.runs.lock) names its host, pid and last heartbeat;
- failed: `failed.json` names why (a NaN loss, a worker killed by the kernel, ...);
- pending: anything else: planned but not started, or stopped (it resumes from its checkpoint).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from dabench.runs import store
from dabench.runs.lock import TIMEOUT_S, describe, heartbeat_age, read_owner, stale_reason

STATES = ("done", "running", "failed", "pending")


@dataclass
class RunStatus:
    task: str
    method: str
    seed: Optional[int]
    run_id: str
    state: str  # one of STATES
    steps: Optional[int] = None  # planned steps
    step: Optional[int] = None  # last logged step
    host: Optional[str] = None  # running: the lock's owner
    pid: Optional[int] = None
    heartbeat_s: Optional[float] = None  # seconds since the owner's last heartbeat
    reason: Optional[str] = None  # failed: the one-line error; pending: a note


def record_tickets(root: Path, tickets: list[dict[str, Any]]) -> list[Path]:
    """Write `ticket.json` into each planned run's folder, so `status` counts it as pending
    before any worker has started it; the tickets written now."""
    written = []
    for t in tickets:
        path = store.run_dir(root, t["task"], t["method"], t["run_id"]) / "ticket.json"
        if not path.is_file():
            store.write_json(path, t)
            written.append(path)
    return written


def forget_tickets(paths: list[Path]) -> None:
    """Undo `record_tickets` (the submission failed): each ticket, and its run folder when
    the ticket was all it held."""
    for path in paths:
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # only when empty
        except OSError:
            pass


def _read(path: Path) -> dict[str, Any]:
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
        return out if isinstance(out, dict) else {}
    except (OSError, ValueError):  # unreadable, not JSON, not UTF-8: as if absent
        return {}


def _damaged(directory: Path) -> Optional[str]:
    """Why a run folder that holds a run's files has no readable config.json or ticket.json
    (None when it holds neither: not a run's folder)."""
    fix = "so its seed and settings are unknown: `dabench run` with the same settings and --force " \
          "rewrites it"
    for name in ("config.json", "ticket.json"):
        if (directory / name).is_file():
            return f"{name} is unreadable (not a JSON object), {fix}"
    if any((directory / name).exists() for name in ("result.json", "metrics.jsonl",
                                                     "checkpoint.pt")):
        return f"config.json is missing, {fix}"
    return None


def run_status(directory: Path, timeout_s: float = TIMEOUT_S) -> Optional[RunStatus]:
    info = _read(directory / "config.json") or _read(directory / "ticket.json")
    damaged = None if info else _damaged(directory)
    if not info and damaged is None:
        return None
    steps = (info.get("config") or {}).get("steps") or (info.get("overrides") or {}).get("steps")
    lines = store.read_jsonl(directory / "metrics.jsonl")
    out = RunStatus(directory.parent.parent.name, directory.parent.name, info.get("seed"),
                    directory.name, "pending", steps, lines[-1].get("step") if lines else None)
    if store.is_done(directory):
        out.state, out.reason = "done", damaged
        return out
    owner = read_owner(directory / "lock")
    if owner is not None:
        why = stale_reason(owner, directory / "lock", timeout_s)
        if why is None and "unreadable" in owner:  # no host or pid to show: not "running"
            age = heartbeat_age(directory / "lock")
            out.reason = (f"{describe(owner)}, {age:.0f} s old: a run takes it over once it is "
                          f"{timeout_s:.0f} s old, or delete {directory / 'lock'}")
            return out
        if why is None:
            out.state, out.host, out.pid = "running", owner.get("host"), owner.get("pid")
            out.heartbeat_s = round(heartbeat_age(directory / "lock"), 1)
            return out
        out.reason = f"stale lock of {describe(owner)} ({why}); it resumes when run again"
    failed = _read(directory / "failed.json")
    if failed:
        out.state, out.reason = "failed", str(failed.get("error", "failed")).splitlines()[0]
    elif out.reason is None and (directory / "checkpoint.pt").is_file():
        out.reason = f"stopped at step {out.step}; it resumes when run again"
    if damaged:
        out.reason = damaged if out.reason is None else f"{out.reason}; {damaged}"
    return out


def collect(root: Path) -> list[RunStatus]:
    """Every known run under `root`, ordered by task, method, seed."""
    out = []
    if root.is_dir():
        for directory in sorted(root.glob("*/*/*")):
            if directory.is_dir():
                status = run_status(directory)
                if status is not None:
                    out.append(status)
    return sorted(out, key=lambda s: (s.task, s.method, s.seed if s.seed is not None else -1,
                                      s.run_id))


def summarize(runs: list[RunStatus]) -> list[dict[str, Any]]:
    """One row per (task, method): counts per state and the runs that are not done."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in runs:
        row = rows.setdefault((r.task, r.method), {"task": r.task, "method": r.method,
                                                   **dict.fromkeys(STATES, 0), "runs": []})
        row[r.state] += 1
        if r.state != "done" or r.reason:  # a done run with a damaged folder is listed too
            row["runs"].append({k: v for k, v in asdict(r).items()
                                if v is not None and k not in ("task", "method")})
    return list(rows.values())


def render_text(rows: list[dict[str, Any]], root: Path) -> str:
    if not rows:
        return f"no runs in {root}\n"
    width = max(len(f"{r['task']} {r['method']}") for r in rows)
    lines = [f"{'task method':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES)]
    for row in rows:
        name = f"{row['task']} {row['method']}"
        lines.append(f"{name:<{width}}  " + "  ".join(f"{row[s]:>7}" for s in STATES))
        for r in row["runs"]:
            what = f"  {r['state']}: seed {r.get('seed', '?')} ({r['run_id']})"
            if r["state"] == "running":
                what += (f" on {r.get('host')} pid {r.get('pid')}, step {r.get('step', 0)}"
                         f"/{r.get('steps', '?')}, heartbeat {r.get('heartbeat_s')} s ago")
            if r.get("reason"):
                what += f": {r['reason']}"
            lines.append(what)
    totals = {s: sum(r[s] for r in rows) for s in STATES}
    lines.append("total: " + ", ".join(f"{totals[s]} {s}" for s in STATES)
                 + f" (at {time.strftime('%Y-%m-%d %H:%M:%S')}, {root})")
    return "\n".join(lines) + "\n"
