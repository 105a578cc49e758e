"""A real single-node Slurm cluster on this machine for the tests (Debian's slurm-wlm + munge).

`start(folder)` writes a slurm.conf for this host, starts munged (when it is not running),
slurmctld and slurmd, waits until the node is idle, and returns the environment the Slurm
commands need; `stop()` ends what it started. Anything missing or failing raises `Unavailable`
with the reason, which the test turns into a skip (never a silent pass).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


class Unavailable(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(folder: Path, host: str) -> str:
    cpus = os.cpu_count() or 1
    mem_mb = int(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 * 0.8)
    return "\n".join([
        "ClusterName=dabenchtest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"StateSaveLocation={folder}/state",
        f"SlurmdSpoolDir={folder}/spool", f"SlurmctldPidFile={folder}/slurmctld.pid",
        f"SlurmdPidFile={folder}/slurmd.pid", f"SlurmctldLogFile={folder}/slurmctld.log",
        f"SlurmdLogFile={folder}/slurmd.log", f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "MpiDefault=none", "SwitchType=switch/none", "SchedulerType=sched/backfill",
        "SchedulerParameters=sched_interval=1", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
        "ReturnToService=2", "KillWait=15", "MinJobAge=600", "JobRequeue=1",
        f"NodeName={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[int] = []  # pids of the daemons this object started
        self.steps_before = _pids("slurmstepd")  # job-step daemons that are not ours
        self.env: dict[str, str] = {}

    def start(self) -> dict[str, str]:
        missing = [d for d in ("munged", "munge", "slurmctld", "slurmd", "sbatch", "scontrol")
                   if not shutil.which(d) and not Path(f"/usr/sbin/{d}").exists()]
        if missing:
            raise Unavailable(f"Slurm/munge not installed (missing {', '.join(missing)}); "
                              "install Debian's slurm-wlm and munge (.ci/run does as root)")
        if os.geteuid() != 0:
            raise Unavailable("starting slurmctld/slurmd for the test needs root")
        host = socket.gethostname().split(".")[0]
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        conf = self.folder / "slurm.conf"
        conf.write_text(_conf(self.folder, host))
        self.env = {**os.environ, "SLURM_CONF": str(conf)}
        self._munge()
        for daemon in ("slurmctld", "slurmd"):
            out = subprocess.run([_which(daemon), "-f", str(conf)], env=self.env,
                                 capture_output=True, text=True, timeout=30)
            pid_file = self.folder / f"{daemon}.pid"
            if not _wait(pid_file.exists, 10):
                raise Unavailable(f"{daemon} did not start: {out.stderr.strip()[-300:]} "
                                  f"{self._log(daemon)}")
            self.started.append(int(pid_file.read_text().split()[0]))
        if not _wait(lambda: "idle" in self._sinfo(), 30):
            raise Unavailable(f"the Slurm node never became idle ({self._sinfo()!r}); "
                              f"{self._log('slurmd')}")
        return self.env

    def _munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is running already
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            raise Unavailable("/etc/munge/munge.key is missing (reinstall munge)")
        subprocess.run(["runuser", "-u", "munge", "--", _which("munged")], capture_output=True,
                       timeout=30)
        if not _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True)
                     .returncode == 0, 10):
            raise Unavailable("munged did not start")
        pid = Path("/run/munge/munged.pid")
        if pid.exists():
            self.started.append(int(pid.read_text().split()[0]))

    def _sinfo(self) -> str:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True,
                             text=True)
        return out.stdout.strip()

    def _log(self, daemon: str) -> str:
        log = self.folder / f"{daemon}.log"
        return log.read_text()[-300:] if log.exists() else ""

    def stop(self) -> None:
        if self.env:  # cancel what is left and let the job steps report before slurmd goes
            subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True)
            _wait(lambda: not subprocess.run(["squeue", "-h"], env=self.env, capture_output=True,
                                             text=True).stdout.strip(), 20)
        for pid in reversed(self.started):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in self.started:
            _wait(lambda: not Path(f"/proc/{pid}").exists(), 10)
        for pid in _pids("slurmstepd") - self.steps_before:  # steps of our jobs left hanging
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pids(name: str) -> set[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _which(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _wait(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False
