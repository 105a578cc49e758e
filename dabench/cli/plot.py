"""`dabench plot ...`: figures from finished run folders. Imports no torch; matplotlib and
scikit-learn are imported only inside the commands (through dabench.reporting.plots).

Mounted by the main app with `app.add_typer(plot_app, name="plot")`.

    dabench plot curves runs/mnist-to-digits/revgrad/* --out curves.png
    dabench plot features runs/mnist-to-digits/revgrad/<run-id> --before auto

A user mistake (not a run folder, an unfinished run, a run without features.npz) raises
DabenchError, which the main app prints as one line with exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import command_group
from dabench.errors import DabenchError

AUTO = "auto"

plot_app = command_group(
    "plot",
    "Draw figures from finished runs: training curves, t-SNE before/after adaptation.\n\n"
    "Examples:\n\n"
    "  dabench plot curves runs/mnist-to-digits/revgrad/*\n\n"
    "  dabench plot features runs/mnist-to-digits/revgrad/<run-id> --before auto")


@plot_app.callback()
def _plot() -> None:
    """Draw figures from finished runs: training curves, t-SNE before/after adaptation.

    Examples:

      dabench plot curves runs/mnist-to-digits/revgrad/*

      dabench plot features runs/mnist-to-digits/revgrad/<run-id> --before auto
    """


@plot_app.command("curves")
def curves(
    runs: List[Path] = typer.Argument(..., help="run folders: runs/<task>/<method>/<run-id>"),
    out: Path = typer.Option(Path("curves.png"), "--out", "-o",
                             help="image to write (.png, .pdf or .svg)"),
) -> None:
    """Plot accuracy, losses, lambda and learning rate against the step, one line per run.

    Examples:

      dabench plot curves runs/mnist-to-digits/revgrad/*

      dabench plot curves runs/mnist-to-digits/*/* --out mnistm-curves.png

    Target accuracy is solid, source accuracy dashed.

    The loss panel has the classifier loss (cls) and every domain_* loss term of the runs.
    """
    from dabench.reporting.plots import plot_curves

    typer.echo(f"wrote {plot_curves(runs, out)}")


@plot_app.command("features")
def features(
    run: Path = typer.Argument(..., help="a finished run folder: runs/<task>/<method>/<run-id>"),
    before: Optional[str] = typer.Option(
        None, "--before", "-b",
        help="a run to show as 'before adaptation' (e.g. the source-only run of the same task "
             "and seed), or 'auto' to find it in the same runs folder"),
    out: Path = typer.Option(Path("features.png"), "--out", "-o",
                             help="image to write (.png, .pdf or .svg)"),
    max_points: int = typer.Option(500, "--max-points", min=2,
                                   help="at most this many items per domain (a fixed subset)"),
    tsne_seed: int = typer.Option(0, "--tsne-seed", help="random seed of the subset and t-SNE"),
) -> None:
    """Plot a t-SNE of the run's source (blue) and target (red) features, as in the DANN paper.

    With --before, the run before adaptation (e.g. source-only) is drawn on the left.

    Examples:

      dabench plot features runs/mnist-to-digits/revgrad/<run-id>

      dabench plot features runs/mnist-to-digits/revgrad/<run-id> --before auto

      dabench plot features runs/office31-a-to-w/revgrad/<id> \\
          --before runs/office31-a-to-w/source-only/<id>

    The features come from the run's features.npz (written when proxy_a_distance_items > 0, the default).

    t-SNE takes a few seconds to a minute on a CPU.
    """
    from dabench.reporting.plots import SOURCE_ONLY, find_before, load_run, plot_features

    before_dir: Optional[Path] = None
    if before == AUTO:
        before_dir = find_before(run)
        if before_dir is None:
            info = load_run(run)
            if info.method == SOURCE_ONLY:
                raise DabenchError(f"{run} is itself a source-only run; --before auto needs an "
                                   "adapted run (e.g. runs/<task>/revgrad/<run-id>)")
            raise DabenchError(
                f"no finished source-only run of {info.task} seed {info.seed} with features.npz "
                f"next to {run}; run `dabench run {info.task} --method source-only --seed "
                f"{info.seed}` with the same --runs-dir (and --set options), or pass --before RUN")
        typer.echo(f"before adaptation: {before_dir}")
    elif before is not None:
        before_dir = Path(before)
    path = plot_features(run, out, before=before_dir, seed=tsne_seed, max_points=max_points)
    typer.echo(f"wrote {path}")
