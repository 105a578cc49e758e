"""`dabench data download DATASET`: fetch, verify and unpack a dataset, then `data check` it.

    dabench data download ucf101 --data-root /data
    dabench data download hmdb51 --data-root /data --from-file ~/hmdb51_org.rar
    dabench data download office31 --list

Exit codes: 0 = downloaded (or already there) and `data check` found it complete; 1 = a file
could not be obtained (the message lists the URLs and where to put the file by hand) or the
check found problems; 2 = a usage error. Registers itself on `data_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import DATA_ROOT
from dabench.cli.data import _check, data_app
from dabench.data.paths import DATA_ENV, data_root_or_env
from dabench.errors import DabenchError


def _print_sources(ds) -> None:
    typer.echo(f"{ds.display} -> DATA/{ds.dir}/   homepage: {ds.homepage}")
    if ds.notes:
        typer.echo(f"  note: {ds.notes}")
    for part in ds.parts:
        for i, s in enumerate(part.sources):
            alt = " (alternative)" if i else ""
            typer.echo(f"  {part.name}{alt}: {s.label} [{s.format}]"
                       f"{f', {s.size} bytes' if s.size else ''}")
            typer.echo(f"    sha256: {s.sha256 or 'none published (recorded on first use)'}"
                       f"{f'   md5: {s.md5}' if s.md5 else ''}   from: {s.hash_from}")
            for m in s.mirrors:
                typer.echo(f"    {'verified  ' if m.verified else 'unverified'} {m.url}")
            if not s.mirrors:
                typer.echo(f"    no direct link: download from {ds.homepage}, use --from-file")


@data_app.command("download")
def download(
    dataset: str = typer.Argument(..., metavar="DATASET",
                                  help="office31, officehome, ucf101, hmdb51 or olympic-sports"),
    data_root: Optional[Path] = DATA_ROOT,
    from_file: List[Path] = typer.Option(
        [], "--from-file", metavar="PATH",
        help="an archive you downloaded yourself (its hash is checked); repeat for several"),
    verify: bool = typer.Option(
        True, "--verify/--no-verify",
        help="check sizes and hashes (default); --no-verify records a warning in the dataset "
             "folder"),
    check: bool = typer.Option(True, "--check/--no-check",
                               help="run `dabench data check` afterwards (default)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
    list_sources: bool = typer.Option(False, "--list",
                                      help="print the files, mirrors and checksums; download "
                                           "nothing"),
) -> None:
    """Download, verify and unpack a dataset into the layout `dabench data check` expects.

    Each file's mirrors are tried in order until its size and sha256 match; interrupted
    downloads resume. Archives are unpacked into a temporary folder and renamed into place only
    when complete. The result is checked with `dabench data check`.

    Examples:

      dabench data download ucf101 --data-root /data

      dabench data download office31 --from-file ~/Downloads/domain_adaptation_images.tar.gz
    """
    from dabench.data.download.install import WARNING_FILE, install
    from dabench.data.download.lists import write_lists
    from dabench.data.download.registry import dataset_sources

    ds = dataset_sources(dataset)
    if list_sources:
        _print_sources(ds)
        return
    root = data_root_or_env(data_root)
    if root is None:
        raise DabenchError(f"no data folder given; fix: pass --data-root DIR or set "
                           f"{DATA_ENV}=DIR (the dataset goes to DIR/{ds.dir})")
    if root.exists() and not root.is_dir():
        given = "--data-root" if data_root is not None else f"${DATA_ENV}"
        raise DabenchError(f"{given} {root} is a file, not a folder; give the folder that "
                           f"holds (or will hold) the datasets (the dataset goes to "
                           f"FOLDER/{ds.dir})")
    if not verify:
        typer.echo("dabench: warning: --no-verify: files are not checked against the registry",
                   err=True)
    command = f"dabench data download {ds.name} --data-root {root}"
    say = (lambda m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        results = install(ds, root, from_files=from_file, verify=verify, quiet=quiet, say=say,
                          command=command)
    except KeyboardInterrupt:
        typer.echo(f"dabench: error: interrupted; a partial download is kept in "
                   f"{root / 'downloads'} and nothing half-extracted is in place: run "
                   f"`{command}` again to resume", err=True)
        raise typer.Exit(130) from None
    if (root / ds.dir / WARNING_FILE).is_file() and any(not r.verified for r in results):
        typer.echo(f"dabench: warning: unverified files are recorded in "
                   f"{root / ds.dir / WARNING_FILE}", err=True)
    for r in results:
        what = (f"sha256 {r.hashes.sha256}" if r.hashes else "recorded in "
                f"{root / ds.dir / '.dabench-download.json'}")
        state = "verified" if r.verified else "NOT verified"
        typer.echo(f"{ds.display} {r.part}: {r.file} {r.status} ({what}, {state})")
        if r.first_use:
            typer.echo(f"  no published sha256 for {r.file}: this one is recorded as the "
                       "reference (trust on first use); later downloads must match it")
    kept = [p for p in (root / "downloads").glob("*") if p.is_file()] \
        if (root / "downloads").is_dir() else []
    if kept:
        size = sum(p.stat().st_size for p in kept) / 1e9
        typer.echo(f"archives kept in {root / 'downloads'} ({size:.2f} GB; a later download "
                   "reuses them, delete them to free the space)")
    lists = write_lists(ds.check, root, root / ds.dir)
    if lists:
        typer.echo(f"wrote {len(lists)} list file(s) under {root / ds.dir}")
    if not check:
        return
    typer.echo(f"dabench data check {ds.check}:")
    ok = _check(ds.check, root, verify=True, per_class=False)
    first = [r.file for r in results if r.first_use]
    if first and not ok:  # the reference must not be a file whose data failed the check
        from dabench.data.download.install import forget_first_use

        forget_first_use(root / ds.dir, first)
        typer.echo(f"the sha256 of {', '.join(first)} is not kept as the reference (trust on "
                   "first use), since `dabench data check` failed: a correct file is accepted "
                   "next time")
    typer.echo(f"{ds.display}: " + ("downloaded and complete" if ok else
                                    "downloaded, but `dabench data check` found the problems "
                                    "above"))
    raise typer.Exit(0 if ok else 1)
