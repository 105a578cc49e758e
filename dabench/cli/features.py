"""`dabench extract-features`: decode and cache the frame features of video tasks ahead of time.

A Typer sub-app; `dabench.cli` mounts it with `app.add_typer(features_app)`, which adds the
command at the top level. Torch is imported inside the command only.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import DATA_ROOT
from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError

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
    launcher: str = typer.Option("serial", "--launcher",
                                 help="serial, or local: --shards processes (or one per GPU "
                                      "slot), then --verify"),
    shards: int = typer.Option(2, "--shards", min=1, help="local: shard processes on the CPU"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="local: GPU ids, e.g. 0,1"),
    jobs_per_gpu: int = typer.Option(1, "--jobs-per-gpu", min=1, help="local: shards per GPU"),
) -> None:
    """Extract and cache the frame features of video tasks (what `dabench run` would extract).

    Examples:

      dabench extract-features video --data-root ~/data --device cuda

      dabench extract-features ucf-to-hmdbfull --set video.cache_dir=/scratch/features

      dabench extract-features video --launcher local --gpus 0,1,2,3

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
    if launcher not in ("serial", "local"):
        raise DabenchError(f"--launcher '{launcher}' is not one of serial, local; on a cluster "
                           "run one --shard i/N per array task, then --verify (docs: README)")
    if verify:
        return _verify(jobs)
    if launcher == "local":
        if shard:
            raise DabenchError("--launcher local makes its own shards; leave --shard out")
        argv = ["extract-features", *tasks, "--device", device, "--batch-size", str(batch_size),
                "--workers", str(workers)] + [x for s_ in sets for x in ("--set", s_)] + \
            (["--data-root", str(root)] if root else [])
        _launch_local(argv, jobs, gpus, jobs_per_gpu, shards)
        return _verify(jobs)

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


def _verify(jobs: dict) -> None:
    """The final pass: every video of every job has a usable cache entry, else exit 1."""
    from dabench.data.video.frame_features import missing_features

    short = []
    for (store_dir, video_dir), (display, _, rels) in jobs.items():
        missing = missing_features(video_dir, list(rels), store_dir)
        typer.echo(f"{display}: {len(rels) - len(missing)} of {len(rels)} videos cached in "
                   f"{store_dir}")
        short += [f"{display} {rel}" for rel in missing]
    if short:
        raise DabenchError(f"{len(short)} video(s) have no cached features (first: {short[0]}); "
                           "run the extraction again (without --verify) to fill them in",
                           exit_code=1)
    typer.echo("feature cache complete")


def _launch_local(argv: List[str], jobs: dict, gpus: Optional[str], jobs_per_gpu: int,
                  shards: int) -> None:
    """One `dabench extract-features ... --shard k/N` process per slot; logs beside the cache."""
    import sys

    from dabench.runs.launch.local import make_slots, parse_gpus, run_pool
    from dabench.runs.launch.outcomes import summary

    slots = make_slots(parse_gpus(gpus), jobs_per_gpu, shards)
    n = len(slots)
    store_dir = next(iter(jobs))[0]
    logs = store_dir.parent.parent / "logs"
    tickets = [{"label": f"extract-features shard {k}/{n}",
                "argv": [*argv, "--shard", f"{k}/{n}"], "log": str(logs / f"shard-{k}-of-{n}.log")}
               for k in range(n)]
    outcomes = run_pool(tickets, logs, None, slots,
                        command=lambda t, *_: [sys.executable, "-m", "dabench", *t["argv"]],
                        log_for=lambda t: Path(t["log"]))
    typer.echo(summary(outcomes), err=True)
    if any(o.result != "done" for o in outcomes):
        raise DabenchError("a shard of the extraction did not finish (see its log above); run "
                           "the same command again: what is cached is kept", exit_code=1)
