"""Shards of `dabench extract-features` through the launchers, and the final --verify pass.

`--launcher local` runs each shard (`dabench extract-features ... --shard k/N`) as a process of
the local pool (`dabench.runs.launch.local.run_pool`), `--launcher slurm` as a task of one job
array (`dabench.runs.launch.slurm`: submitit and `SlurmCommand`, or a plain script with
`--emit-sbatch`), the same code that launches `dabench run`'s runs. One video is the unit: shard
k of N holds video k, k+N, ... of each dataset's sorted list. Then every video must be cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.launch import Launcher, check_slurm_only
from dabench.errors import DabenchError
from dabench.runs.launch.slurm import SlurmOptions


def check_options(launcher: Launcher, shard: Optional[str], verify: bool, shards: Optional[int],
                  gpus: Optional[str], jobs_per_gpu: int, slurm: SlurmOptions,
                  emit_sbatch: Optional[Path]) -> None:
    """Options that belong to another launcher, or to none together, are one-line errors."""
    check_slurm_only(launcher, slurm, ["--emit-sbatch"] * bool(emit_sbatch))
    if emit_sbatch:
        from dabench.runs.launch.slurm import check_emit_target

        check_emit_target(emit_sbatch)
    name = launcher.value
    if shard and verify:
        raise DabenchError("--verify checks the whole cache; leave --shard out")
    if launcher is not Launcher.serial and (shard or verify):
        raise DabenchError(f"--launcher {name} makes its own shards and verifies the cache "
                           f"after them; leave {'--shard' if shard else '--verify'} out")
    if launcher is not Launcher.local and (gpus or jobs_per_gpu != 1):
        raise DabenchError("--gpus and --jobs-per-gpu belong to --launcher local"
                           + (" (on Slurm: --gpus-per-job)" if launcher is Launcher.slurm
                              else ""))
    if launcher is Launcher.serial and shards is not None:
        raise DabenchError("--shards belongs to --launcher local or slurm; by hand, run one "
                           "--shard i/N per process")
    if launcher is Launcher.local and gpus and shards is not None:
        raise DabenchError("with --gpus the shards are the GPU slots (--jobs-per-gpu per GPU); "
                           "leave --shards out")
    if launcher is Launcher.slurm and shards is None:
        raise DabenchError("--launcher slurm needs --shards N, the number of array tasks (for "
                           "example --shards 16)")


def cached(jobs: dict) -> list[str]:
    """Prints how many videos of each job are cached; returns the missing ones."""
    from dabench.data.video.frame_features import missing_features

    short = []
    for (store_dir, video_dir), (display, _, rels) in jobs.items():
        missing = missing_features(video_dir, list(rels), store_dir)
        typer.echo(f"{display}: {len(rels) - len(missing)} of {len(rels)} videos cached in "
                   f"{store_dir}")
        short += [f"{display} {rel}" for rel in missing]
    return short


def verify_cache(jobs: dict) -> None:
    """The final pass: every video of every job has a usable cache entry, else exit 1."""
    short = cached(jobs)
    if short:
        raise DabenchError(f"{len(short)} video(s) have no cached features (first: {short[0]}); "
                           "run the extraction again (without --verify) to fill them in",
                           exit_code=1)
    typer.echo("feature cache complete")


def finish(outcomes: list, jobs: dict) -> None:
    """After a launcher's shards: their summary, then the --verify pass; exit 1 naming the
    shards that did not finish."""
    from dabench.runs.launch.outcomes import summary

    typer.echo(summary(outcomes, "shard"), err=True)
    bad = [o.ticket["shard"] for o in outcomes if o.result != "done"]
    if not bad:
        return verify_cache(jobs)
    short = cached(jobs)
    raise DabenchError(f"{len(bad)} of {len(outcomes)} shard(s) did not finish: "
                       f"{', '.join(bad)} (see above; {len(short)} video(s) not cached yet); run "
                       "the same command again: what is cached is kept", exit_code=1)


def shard_argv(tasks: List[str], device: str, batch_size: int, workers: int, sets: List[str],
               root: Optional[Path]) -> List[str]:
    """The `dabench` arguments every shard runs (before its --shard), folders absolute, so a
    shard runs the same from any folder or host."""
    argv = ["extract-features", *tasks, "--device", device, "--batch-size", str(batch_size),
            "--workers", str(workers)]
    for s_ in sets:
        key, _, value = s_.partition("=")
        if key.strip() == "video.cache_dir" and value.strip():
            s_ = f"video.cache_dir={Path(value.strip()).expanduser().resolve()}"
        argv += ["--set", s_]
    return argv + (["--data-root", str(root.expanduser().resolve())] if root else [])


def log_dir(jobs: dict) -> Path:
    """`<cache dir>/logs`: the cache is `<cache dir>/<spec tag>/<dataset>`."""
    return next(iter(jobs))[0].parent.parent.resolve() / "logs"


def shard_tickets(argv: List[str], count: int, shards: List[int], logs: Path) -> List[dict]:
    return [{"label": f"extract-features shard {k}/{count}", "shard": f"{k}/{count}",
             "argv": [*argv, "--shard", f"{k}/{count}"],
             "log": str(logs / f"shard-{k}-of-{count}.log")} for k in shards]


def pending_shards(jobs: dict, count: int) -> List[int]:
    """The shards (of `count`) with a video not cached yet: video k of a dataset's sorted
    list belongs to shard k % count (see the extraction's slice)."""
    from dabench.data.video.frame_features import missing_features

    pending: set[int] = set()
    for (store_dir, video_dir), (_, _, rels) in jobs.items():
        ordered = sorted(rels)
        gone = set(missing_features(video_dir, ordered, store_dir))
        pending |= {k % count for k, rel in enumerate(ordered) if rel in gone}
    return sorted(pending)


def launch_local(argv: List[str], jobs: dict, gpus: Optional[str], jobs_per_gpu: int,
                 shards: int) -> list:
    """One `dabench extract-features ... --shard k/N` process per slot; logs beside the cache."""
    import sys

    from dabench.runs.launch.local import make_slots, parse_gpus, run_pool

    slots = make_slots(parse_gpus(gpus), jobs_per_gpu, shards)
    n = len(slots)
    logs = log_dir(jobs)
    return run_pool(shard_tickets(argv, n, list(range(n)), logs), logs, None, slots,
                    command=lambda t, *_: [sys.executable, "-m", "dabench", *t["argv"]],
                    log_for=lambda t: Path(t["log"]))


def launch_slurm(argv: List[str], jobs: dict, count: int, opts: SlurmOptions) -> list:
    """One Slurm array task per shard with videos to extract (`SlurmCommand`, requeued on
    preemption or time-out: the shard skips what is cached and goes on); waits for them."""
    import shlex

    from dabench.runs.launch import slurm

    pending = pending_shards(jobs, count)
    typer.echo(f"{count} shard(s): {count - len(pending)} cached before, {len(pending)} to "
               "extract (slurm launcher)", err=True)
    if not pending:
        return []
    logs = log_dir(jobs)
    tickets = shard_tickets(argv, count, pending, logs)
    array = slurm.submit_array(slurm.SlurmCommand(), [tickets], logs / "slurm", opts)
    job = array[0].job_id.split("_")[0]
    typer.echo(f"submitted Slurm array job {job} ({len(array)} task(s)); shard logs in "
               f"{shlex.quote(str(logs))}; waiting for it to end", err=True)
    try:
        return slurm.wait(array, tickets)
    except KeyboardInterrupt:
        raise DabenchError(f"stopped waiting; Slurm array job {job} goes on: once it has ended, "
                           "check the cache with the same command and --verify instead of "
                           "--launcher slurm", exit_code=130) from None


def emit_sbatch(target: Path, argv: List[str], jobs: dict, count: int,
                opts: SlurmOptions) -> None:
    """A plain array script, task k running `dabench extract-features ... --shard k/count`,
    for the shards with videos to extract; the user runs --verify when the array has ended."""
    import shlex

    from dabench.atomic import write_atomic
    from dabench.runs.launch.slurm import array_script

    pending = pending_shards(jobs, count)
    if not pending:
        raise DabenchError("every video has cached features already; nothing to put in the "
                           "script (check with --verify)")
    verify = "dabench " + shlex.join([*argv, "--verify"])
    header = ["Written by `dabench extract-features --launcher slurm --emit-sbatch`: "
              f"{len(pending)} of {count} shards to extract.",
              "Submit with: sbatch THIS_FILE. Run it where `dabench` is on PATH (activate its",
              "environment first). When every task has ended, check the cache is complete:",
              f"  {verify}"]
    slurm_logs = log_dir(jobs) / "slurm"
    text = array_script(["dabench", *argv], pending, count, opts, slurm_logs, header,
                        "one shard of the videos per array task; videos cached already are "
                        "skipped", "shard", log_from="--set video.cache_dir")
    write_atomic(target, text)
    slurm_logs.mkdir(parents=True, exist_ok=True)  # sbatch does not make the --output folder
    typer.echo(f"wrote {target} ({len(pending)} array task(s)); submit it with: sbatch "
               f"{shlex.quote(str(target))}; when it has ended: {verify}", err=True)
