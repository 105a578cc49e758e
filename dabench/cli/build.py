"""`dabench data build mnistm`: regenerate MNIST-M from MNIST and BSDS500 when no copy of the
original can be downloaded. Exit codes: 0 = written; 2 = a usage error. Registers itself on
`data_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dabench.cli.app import DATA_ROOT
from dabench.cli.data import data_app
from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError


@data_app.command("build")
def build(
    dataset: str = typer.Argument(..., metavar="DATASET", help="mnistm"),
    data_root: Optional[Path] = DATA_ROOT,
    photos: Path = typer.Option(..., "--photos", metavar="DIR",
                                help="the BSDS500 colour photos (e.g. BSR/BSDS500/data/images)"),
    seed: int = typer.Option(0, "--seed", help="seed of the patch draws"),
    limit: int = typer.Option(0, "--limit", help="only the first N digits of each split (tests)"),
) -> None:
    """Regenerate a dataset whose download is gone: `mnistm` from MNIST (`<data root>/mnist`,
    see `dabench data download mnist`) and BSDS500 photos, written to `<data root>/mnistm`.

    A regenerated MNIST-M is marked as such in its folder and in every run on it, and
    `dabench report` shows no published value or Δ beside those runs.

    Example:

      dabench data build mnistm --data-root /data --photos ~/BSR/BSDS500/data/images
    """
    from dabench.data.smallimages.build_mnistm import build_mnistm

    try:
        if dataset.lower().replace("-", "") != "mnistm":
            raise DabenchError(f"`dabench data build` makes only 'mnistm', not '{dataset}'")
        root = data_root_or_env(data_root)
        if root is None:
            raise DabenchError("no data folder given; fix: pass --data-root DIR (holding "
                               "mnist/) or set DABENCH_DATA")
        if not photos.is_dir():
            raise DabenchError(f"--photos {photos} is not a folder; fix: pass the extracted "
                               "BSDS500 images folder")
        mnist_dir = next((root / d for d in ("mnist", "MNIST", "MNIST/raw") if (root / d).is_dir()),
                         root / "mnist")
        marker = build_mnistm(mnist_dir, photos, root / "mnistm", seed, limit,
                              say=lambda m: typer.echo(m, err=True))
    except DabenchError as exc:
        typer.echo(f"dabench: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(f"wrote a regenerated MNIST-M to {root / 'mnistm'}: {marker['counts']['train']} "
               f"train / {marker['counts']['test']} test images (marked "
               f"{root / 'mnistm' / 'DABENCH_REGENERATED.json'}; not the original)")
