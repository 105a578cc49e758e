"""`dabench extract-features`: decode and cache the frame features of video tasks ahead of time.

A Typer sub-app; `dabench.cli` mounts it with `app.add_typer(features_app)`, which adds the
command at the top level. Torch is imported inside the command only.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command("extract-features")
def extract_features(
    tasks: List[str] = typer.Argument(..., help="video task or suite names (see list-tasks)"),
    data_root: Optional[Path] = typer.Option(None, "--data-root",
                                             help="datasets folder [default: $DABENCH_DATA]"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="videos per batch"),
    workers: int = typer.Option(4, "--workers", min=0, help="decoding worker processes"),
    sets: List[str] = typer.Option([], "--set",
                                   help="feature settings: backbone.name, backbone.weights, "
                                        "video.segments, video.frame_size, video.cache_dir"),
) -> None:
    """Extract and cache the frame features of video tasks (what `dabench run` would extract).

    Examples:

      dabench extract-features video --data-root ~/data --device cuda

      dabench extract-features ucf-to-hmdbfull --set video.cache_dir=/scratch/features

    Videos already cached are not decoded again; a second run extracts nothing.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeRemainingColumn

    from dabench.config import parse_sets, resolve
    from dabench.data.video.frame_features import load_features
    from dabench.data.video.loaders import video_split
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

    console = Console(stderr=True)
    totals = [0, 0]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:
        for (store_dir, video_dir), (display, fspec, rels) in jobs.items():
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
               f"{totals[1]} extracted")
