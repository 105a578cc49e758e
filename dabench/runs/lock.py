"""The run lock: one process trains a run directory at a time, on one host or across many.

`<run dir>/lock` is a small JSON record: owner host, pid, a random token, the Slurm job (when there
is one), when it started and its last heartbeat. It is only ever written whole (temporary file +
rename), so no reader sees it empty or half-written, and every decision about it (take it, take
over a stale one, refresh it, release it) happens inside a short critical section held with
`filelock.FileLock` on `<run dir>/lock.guard` (fcntl locks, which NFS carries across hosts and
the kernel drops when a process dies, so the guard can never be orphaned).

A lock is stale, and is taken over, when
- its owner is on this host and that process is gone (at once),
- its owner is this Slurm job's earlier incarnation (a requeued job resuming its own run), or
- its heartbeat is older than `timeout_s` (a dead or unreachable host; the owner refreshes it every
  `heartbeat_s` from a background thread). Ages are measured on the file system's clock (mtimes),
  so hosts with skewed clocks agree.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional

from dabench.errors import DabenchError, clip
from dabench.atomic import write_atomic

log = logging.getLogger("dabench")

HEARTBEAT_S = 30.0
TIMEOUT_S = 300.0  # ten missed heartbeats
GUARD_WAIT_S = 60.0


def slurm_job() -> Optional[str]:
    """This process's Slurm job as 'JOBID' or 'ARRAYJOB_TASK' (stable across requeues)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


class LockHeld(DabenchError):
    """Another live process holds the run's lock."""

    def __init__(self, message: str, owner: dict[str, Any]) -> None:
        super().__init__(message)
        self.owner = owner


class LockLost(DabenchError):
    """Another process took this run's lock over (this one's heartbeat was judged stale)."""


class RunLock:
    """Context manager: take `<directory>/lock` (or raise LockHeld), heartbeat, release."""

    def __init__(self, directory: Path, heartbeat_s: float = HEARTBEAT_S,
                 timeout_s: float = TIMEOUT_S) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "lock"
        self.heartbeat_s, self.timeout_s = heartbeat_s, timeout_s
        self.stale_owner: Optional[dict[str, Any]] = None  # the owner we took over from, if any
        self.lost = False  # set when someone else took the lock over from us (we were judged dead)
        self._token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = time.time()

    # -- acquire / release ------------------------------------------------------------------

    def __enter__(self) -> "RunLock":
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._guard():
            owner = read_owner(self.path)
            if owner is not None:
                why = stale_reason(owner, self.path, self.timeout_s)
                if why is None:
                    raise LockHeld(
                        f"run {self.directory} is being trained by {describe(owner)}; wait for "
                        f"it (see dabench status), or if that process is gone delete {self.path}",
                        owner)
                log.info("taking over the lock of %s (%s)", describe(owner), why)
                self.stale_owner = owner
            self._write()
        self._thread = threading.Thread(target=self._beat, name="dabench-lock-heartbeat",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._guard():
            if self._mine():
                self.path.unlink(missing_ok=True)
            if [p.name for p in self.directory.iterdir()] == ["lock.guard"]:
                # the run wrote nothing (it failed before its first file): leave no trace. The
                # folder goes too, so a process still waiting on this guard's old inode fails
                # to write its lock (an error) instead of racing a newcomer's fresh guard.
                (self.directory / "lock.guard").unlink()
                self.directory.rmdir()

    def ensure_held(self) -> None:
        """Raise LockLost when another process has taken the lock over: the caller must not
        write into the run folder any more (that process trains it now)."""
        if not self.lost and self._mine():
            return
        self.lost = True
        owner = read_owner(self.path)
        raise LockLost(f"run {self.directory} was taken over by "
                       f"{describe(owner) if owner else 'another process'} (this process's "
                       "heartbeat was judged stale); this process stops without writing to it: "
                       "see dabench status", exit_code=1)

    # -- internals --------------------------------------------------------------------------

    def _guard(self):
        from filelock import FileLock, Timeout

        guard = FileLock(str(self.directory / "lock.guard"), timeout=GUARD_WAIT_S)

        class _Held:
            def __enter__(inner):
                try:
                    guard.acquire()
                except Timeout:
                    raise DabenchError(f"waited {GUARD_WAIT_S:.0f} s for {guard.lock_file}; "
                                       "is the runs folder's file system hanging?") from None
                except OSError as exc:  # e.g. ENOLCK: a file system without lock support
                    raise DabenchError(
                        f"cannot lock {guard.lock_file} ({exc.strerror}); put the runs folder "
                        "on a file system with locking (NFS with lockd, Lustre with -o flock)"
                    ) from None

            def __exit__(inner, *exc: object) -> None:
                guard.release()
        return _Held()

    def _write(self) -> None:
        write_atomic(self.path, json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(), "token": self._token,
            "slurm_job": slurm_job(), "started": self._started, "heartbeat": time.time()},
            sort_keys=True) + "\n")

    def _mine(self) -> bool:
        owner = read_owner(self.path)
        return owner is not None and owner.get("token") == self._token

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self._guard():
                    if not self._mine():
                        self.lost = True
                        log.warning("the lock %s was taken over by another process; this one "
                                    "stops refreshing it", self.path)
                        return
                    self._write()
            except (OSError, DabenchError) as exc:  # a hiccup of the file system: try again
                log.warning("could not refresh %s: %s", self.path, exc)


MAX_LOCK_BYTES = 64 * 1024  # a lock record is about 200 bytes; more is not a lock we wrote
MAX_PID = 2**22  # Linux's largest pid_max


def read_owner(path: Path) -> Optional[dict[str, Any]]:
    """The lock's record, None without a lock; a file in another format (an older dabench wrote
    "host pid") is parsed as far as it goes. A record that names no host and a plausible pid
    (binary garbage, text, a JSON list, pid -1 or 10^23) is {"unreadable": its start}: a
    damaged lock, which `stale_reason` judges by its age only (as a dead host's)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LOCK_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"unreadable": f"cannot read it: {exc.strerror}"}
    text = raw.decode("utf-8", "replace")
    owner: Any = None
    try:
        owner = json.loads(text)
    except ValueError:
        parts = text.split()
        if len(parts) == 2 and parts[1].isdigit():
            owner = {"host": parts[0], "pid": int(parts[1])}
    if isinstance(owner, dict) and _plausible(owner):
        return owner
    return {"unreadable": text[:80]}


def _plausible(owner: dict[str, Any]) -> bool:
    pid = owner.get("pid")
    return (isinstance(owner.get("host"), str) and isinstance(pid, int)
            and not isinstance(pid, bool) and 0 < pid <= MAX_PID)


def heartbeat_age(path: Path) -> float:
    """Seconds since the lock was last written, on the file system's clock (a probe file's
    mtime), so a host with a skewed clock still judges another host's heartbeat right."""
    probe = path.parent / f".now-{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
    try:
        probe.touch()
        now = probe.stat().st_mtime
    except OSError:
        now = time.time()
    finally:
        probe.unlink(missing_ok=True)
    try:
        return max(0.0, now - path.stat().st_mtime)
    except FileNotFoundError:
        return float("inf")


def stale_reason(owner: dict[str, Any], path: Path, timeout_s: float) -> Optional[str]:
    """Why the lock `owner` can be taken over, or None while it is alive."""
    if "unreadable" in owner:  # judged by its age only (never by a pid it does not hold)
        age = heartbeat_age(path)
        return f"damaged and {age:.0f} s old" if age > timeout_s else None
    job = slurm_job()
    if job and owner.get("slurm_job") == job:
        return f"an earlier run of Slurm job {job}"
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        if not _pid_alive(owner["pid"]):
            return "its process is gone"
    age = heartbeat_age(path)
    if age > timeout_s:
        return f"no heartbeat for {age:.0f} s"
    return None


def describe(owner: dict[str, Any]) -> str:
    if "unreadable" in owner:
        return f"an unreadable (damaged) lock file ('{clip(owner['unreadable'], 40)}')"
    out = f"host {owner.get('host')} pid {owner.get('pid')}"
    return out + (f" (Slurm job {owner['slurm_job']})" if owner.get("slurm_job") else "")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
