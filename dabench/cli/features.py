"""`dabench extract-features`: decode and cache the frame features of video tasks ahead of time.

A Typer sub-app; `dabench.cli` mounts it with `app.add_typer(features_app)`, which adds the
command at the top level. Torch is imported inside the command only.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import DATA_ROOT
from dabench.cli.feature_shards import (check_options, emit_sbatch as write_sbatch, finish,
                                        launch_local, launch_slurm, shard_argv, verify_cache)
from dabench.cli.launch import (ACCOUNT, CPUS_PER_JOB, EMIT_SBATCH, GPUS_PER_JOB, MAX_PARALLEL,
                                MEM_GB, PARTITION, QOS, TIME_MIN, Launcher)
from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError
from dabench.runs.launch.slurm import SlurmOptions

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command("extract-features")
def extract_features(
    tasks: List[str] = typer.Argument(..., help="video task or suite names (see list-tasks)"),
    data_root: Optional[Path] = DATA_ROOT,
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="videos per batch"),
    workers: int = typer.Option(4, "--workers", min=0, help="decoding worker processes"),
    sets: List[str] = typer.Option([], "--set",
                                   help="feature settings: backbone.name, backbone.weights, "
                                        "video.segments, video.frame_size, video.cache_dir"),
    shard: Optional[str] = typer.Option(None, "--shard",
                                        help="i/N: extract only slice i of N of the videos"),
    verify: bool = typer.Option(False, "--verify",
                                help="extract nothing; check every video has cached features"),
    launcher: Launcher = typer.Option("serial", "--launcher",
                                      help="serial (this process), local (shard processes "
                                           "here) or slurm (a job array of --shards tasks); "
                                           "local and slurm then --verify"),
    shards: Optional[int] = typer.Option(None, "--shards", min=1,
                                         help="local (CPU) and slurm: number of shards "
                                              "[local default: 2]"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="local: GPU ids, e.g. 0,1"),
    jobs_per_gpu: int = typer.Option(1, "--jobs-per-gpu", min=1, help="local: shards per GPU"),
    max_parallel: int = MAX_PARALLEL,
    gpus_per_job: int = GPUS_PER_JOB,
    cpus_per_job: int = CPUS_PER_JOB,
    mem_gb: float = MEM_GB,
    time_min: int = TIME_MIN,
    partition: Optional[str] = PARTITION,
    account: Optional[str] = ACCOUNT,
    qos: Optional[str] = QOS,
    emit_sbatch: Optional[Path] = EMIT_SBATCH,
) -> None:
    """Extract and cache the frame features of video tasks (what `dabench run` would extract).

    Examples:

      dabench extract-features video --data-root ~/data --device cuda

      dabench extract-features ucf-to-hmdbfull --set video.cache_dir=/scratch/features

      dabench extract-features video --launcher local --gpus 0,1,2,3

      dabench extract-features video --launcher slurm --shards 16 --gpus-per-job 1

      dabench extract-features video --shard 2/8   (then, once all 8 are done: --verify)

    Videos already cached are not decoded again; a second run extracts nothing. One video is
    the unit of a shard: each shard writes cache files of its own videos only.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeRemainingColumn

    from dabench.config import parse_sets, resolve
    from dabench.data.video.frame_features import load_features
    from dabench.data.video.loaders import video_split
    from dabench.runs.plan import parse_shard
    from dabench.tasks.catalog import load_catalog

    slurm_opts = SlurmOptions(max_parallel, gpus_per_job, cpus_per_job, mem_gb, time_min,
                              partition, account, qos)
    check_options(launcher, shard, verify, shards, gpus, jobs_per_gpu, slurm_opts, emit_sbatch)
    if launcher is Launcher.slurm and not emit_sbatch:
        from dabench.runs.launch.slurm import require_submitit

        require_submitit()  # a missing package is reported before anything is read
    catalog = load_catalog()
    specs = catalog.expand(tasks)
    not_video = [s.name for s in specs if s.modality != "video"]
    if not_video:
        raise DabenchError(f"extract-features works on video tasks only; {', '.join(not_video)} "
                           "is not one (image tasks read their images directly)")
    overrides = parse_sets(sets)
    overrides.update({"device": device, "video.extract_batch_size": batch_size,
                      "video.decode_workers": workers})
    root = data_root_or_env(data_root)

    # one job per (cache folder, video folder): a video shared by several tasks is done once
    jobs: dict[tuple[Path, Path], tuple[str, object, dict[str, None]]] = {}
    for spec in specs:
        cfg = resolve(spec, spec.methods[0] if spec.methods else "revgrad", 0, overrides)
        for domain in (spec.source, *spec.targets):
            for split in ("train", "test"):
                vs = video_split(domain, spec, root, split, cfg)
                _, _, rels = jobs.setdefault((vs.store_dir, vs.video_dir),
                                             (vs.display, vs.spec, {}))
                rels.update(dict.fromkeys(it.relpath for it in vs.items))

    index, count = parse_shard(shard) if shard else (0, 1)
    if verify:
        return verify_cache(jobs)
    if launcher is not Launcher.serial:
        argv = shard_argv(tasks, device, batch_size, workers, sets, root)
        if launcher is Launcher.local:
            outcomes = launch_local(argv, jobs, gpus, jobs_per_gpu, shards or 2)
        elif emit_sbatch:
            return write_sbatch(emit_sbatch, argv, jobs, shards, slurm_opts)
        else:
            outcomes = launch_slurm(argv, jobs, shards, slurm_opts)
        return finish(outcomes, jobs)

    console = Console(stderr=True)
    totals = [0, 0]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:
        for (store_dir, video_dir), (display, fspec, all_rels) in jobs.items():
            rels = sorted(all_rels)[index::count]  # one video is the unit of a shard
            if not rels:
                continue
            bar = progress.add_task(f"{display} ({fspec.tag()})", total=None)

            def on_progress(done: int, total: int, bar=bar) -> None:
                progress.update(bar, completed=done, total=total)

            result = load_features(video_dir, list(rels), fspec, store_dir, device=device,
                                   batch_size=batch_size, num_workers=workers,
                                   on_progress=on_progress, what=f"{display} videos")
            progress.update(bar, completed=result.extracted, total=max(1, result.extracted))
            totals[0] += result.cached
            totals[1] += result.extracted
            typer.echo(f"{display}: {len(rels)} videos, {result.cached} cached, "
                       f"{result.extracted} extracted -> {store_dir}", err=True)
    typer.echo(f"total: {totals[0] + totals[1]} videos, {totals[0]} cached, "
               f"{totals[1]} extracted" + (f" (shard {index}/{count})" if shard else ""))
    if shard:
        typer.echo("when every shard has finished, check the cache is complete: the same "
                   "command with --verify instead of --shard", err=True)
