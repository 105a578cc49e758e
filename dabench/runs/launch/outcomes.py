"""How a worker's run ended: names, exit codes, and the one-line reason for the summary."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# worker exit codes (a negative return code is a signal that killed the worker)
EXIT_CODES = {"done": 0, "failed": 1, "error": 2, "skipped": 10, "busy": 11, "interrupted": 130}
OUTCOMES = {code: name for name, code in EXIT_CODES.items()}


@dataclass
class Outcome:
    ticket: dict[str, Any]
    result: str  # a key of EXIT_CODES, or "crashed"
    reason: str = ""  # one line, for what did not finish
    log: Optional[Path] = None

    @property
    def label(self) -> str:
        t = self.ticket
        if "label" in t:
            return t["label"]
        return f"{t['task']} {t['method']} seed {t['seed']} ({t['run_id']})"


def from_returncode(ticket: dict[str, Any], code: int, log: Optional[Path]) -> Outcome:
    """Classify a finished worker process by its return code and the last error in its log."""
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return Outcome(ticket, "crashed", f"worker killed by {name}{hint}", log)
    result = OUTCOMES.get(code, "crashed")
    reason = "" if result in ("done", "skipped") else last_error(log) or f"exit code {code}"
    return Outcome(ticket, result, reason, log)


def last_error(log: Optional[Path]) -> str:
    """The last `dabench: error:` line of a worker log, else its last line."""
    if log is None or not log.is_file():
        return ""
    lines = [l.strip() for l in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if l.strip()]
    errors = [l for l in lines if l.startswith("dabench: error:")]
    line = (errors or lines or [""])[-1]
    return line.removeprefix("dabench: error:").strip()[:300]


def summary(outcomes: list[Outcome], noun: str = "run") -> str:
    """Counts per outcome, then one line per run (or shard: `noun`) that did not finish, with
    its log."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    order = ["done", "skipped", "busy", "failed", "error", "crashed", "interrupted"]
    words = {"skipped": "finished before", "busy": "running elsewhere"}
    head = ", ".join(f"{counts[k]} {words.get(k, k)}" for k in order if counts.get(k))
    lines = [f"{len(outcomes)} {noun}(s): {head or 'nothing to do'}"]
    for o in outcomes:
        if o.result not in ("done", "skipped"):
            where = f" [log: {o.log}]" if o.log else ""
            lines.append(f"  {o.result.upper()}: {o.label}: {o.reason}{where}")
    return "\n".join(lines)
