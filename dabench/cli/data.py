"""`dabench data ...`: check image datasets on disk before training. Imports no torch.

Mounted by the main app with `app.add_typer(data_app, name="data")`.

    dabench data check office31 --data-root /data
    dabench data check officehome-ar-to-cl --no-verify

Exit codes: 0 = every domain complete (expected image count, all classes, every image decodes),
1 = the data is incomplete or broken (the report says what and where), 2 = a usage error (unknown
name, no data folder given, a task whose data is not an image folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer
import yaml

from dabench.cli.app import DATA_ROOT, command_group
from dabench.data.images.layout import (
    DomainCheck,
    check_domain,
    format_check,
    locate_domain,
    verify_images,
)
from dabench.data.images.loaders import (
    DATASETS,
    check_options,
    domain_files,
    find_dataset_dir,
    missing_classes,
)
from dabench.data.paths import DATA_ENV, data_root_or_env
from dabench.data.smallimages.check import SMALL_LOADERS, check_small_domain
from dabench.data.video.check import check_video_domain, format_video_check
from dabench.data.video.loaders import LAYOUTS as VIDEO_LAYOUTS
from dabench.errors import DabenchError
from dabench.registry import suggest

FOLDER_LOADERS = (*DATASETS, "imagefolder")
VIDEO_LOADERS = tuple(VIDEO_LAYOUTS)

data_app = command_group(
    "data", "Download and check datasets (Office-31, Office-Home, UCF101, HMDB51, Olympic "
            "Sports, your own image folders).")


@data_app.callback()
def _data() -> None:
    """Download and check datasets (Office-31, Office-Home, UCF101, HMDB51, Olympic Sports,
    your own image folders)."""


@dataclass
class _DatasetToCheck:
    """Domains of one dataset (one task file and loader) to check together."""

    title: str
    classes: list[str]
    domains: dict[str, tuple[object, object]] = field(default_factory=dict)  # key -> (domain, task)


def _select(catalog, name: str) -> list:
    """Task specs for a task, alias, family / dataset name, or suite (in that order)."""
    if name in catalog.tasks or name in catalog.aliases:
        return [catalog.task(name)]
    family = [t for t in catalog.tasks.values()
              if name.lower() in (t.family.lower(), t.dataset.lower())]
    if family:
        return family
    if name in catalog.suites:
        return catalog.expand([name])
    loader = _video_loader(name) or (name.lower() if name.lower() in SMALL_LOADERS else None)
    if loader:
        return [t for t in catalog.tasks.values()
                if any(d.loader == loader for d in (t.source, *t.targets))]
    choices = sorted({*catalog.names(), *(t.family for t in catalog.tasks.values())})
    raise DabenchError(f"unknown task, suite or dataset '{name}'.{suggest(name, choices)} "
                       "Run `dabench list-tasks` to see them all.")


def _video_loader(name: str) -> Optional[str]:
    """The video loader a dataset name means (ucf101, hmdb51, olympic-sports), else None."""
    squash = name.lower().replace("_", "-")
    return next((k for k in VIDEO_LOADERS if k.replace("-", "") == squash.replace("-", "")),
                None)


def _video_domains(specs: list, only: Optional[str]) -> list[tuple]:
    """(domain, task) of the video domains, once per task family and domain key."""
    seen: dict[tuple[str, str], tuple] = {}
    for spec in specs:
        for domain in (spec.source, *spec.targets):
            if domain.loader in VIDEO_LOADERS and only in (None, domain.loader):
                seen.setdefault((spec.family, domain.key), (domain, spec))
    return list(seen.values())


def _datasets_to_check(specs: list) -> tuple[list[_DatasetToCheck], list[str]]:
    """Group the domains of `specs` by dataset; also the names of domains that are no folders."""
    groups: dict[tuple[str, str], _DatasetToCheck] = {}
    skipped: list[str] = []
    for spec in specs:
        for domain in (spec.source, *spec.targets):
            if domain.loader in VIDEO_LOADERS or domain.loader in SMALL_LOADERS:
                continue  # checked by _video_checks / _small_domains
            if domain.loader not in FOLDER_LOADERS:
                label = f"{spec.dataset} {domain.name} (loader '{domain.loader}')"
                if label not in skipped:
                    skipped.append(label)
                continue
            group = groups.setdefault((spec.file, domain.loader),
                                      _DatasetToCheck(spec.dataset, list(spec.classes)))
            group.domains.setdefault(domain.key, (domain, spec))
    for (file, _), group in groups.items():  # report domains in the task file's order
        order = _domain_order(file)
        group.domains = dict(sorted(group.domains.items(),
                                    key=lambda kv: order.index(kv[0]) if kv[0] in order else 0))
    return list(groups.values()), skipped


def _small_domains(specs: list, only: Optional[str]) -> list[tuple]:
    """(domain, task) of the small-image domains (of loader `only` if given), once per set of
    files (a dataset used at two image sizes is counted once)."""
    seen: dict[tuple[str, str], tuple] = {}
    for spec in specs:
        for domain in (spec.source, *spec.targets):
            if domain.loader in SMALL_LOADERS and only in (None, domain.loader):
                files = {k: domain.options.get(k) for k in ("path", "train", "test")}
                seen.setdefault((domain.loader, repr(files)), (domain, spec))
    return list(seen.values())


def _domain_order(file: str) -> list[str]:
    try:
        raw = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        return list(raw.get("domains", {}))
    except (OSError, yaml.YAMLError, AttributeError):
        return []


def _list_check(domain, spec, files, verify: bool, expected) -> DomainCheck:
    """A DomainCheck for a domain given by an image list (counts from the list's entries)."""
    classes = list(spec.classes)
    counts = {c: 0 for c in classes}
    for _, label in files.items:
        counts[classes[label]] += 1
    paths = [p for p, _ in files.items]
    return DomainCheck(
        name=domain.key, domain_dir=files.image_list, class_counts=counts, expected=expected,
        missing_classes=missing_classes(files.items, classes), unexpected_folders=[],
        unreadable=verify_images(paths) if verify else [], verified=verify, layout="image-list")


def check_group(group: _DatasetToCheck, data_root: Optional[Path], verify: bool) -> list[DomainCheck]:
    """check_domain for every domain of one dataset; a domain that is not found carries `error`."""
    checks = []
    for key, (domain, spec) in group.domains.items():
        opts = check_options(domain, spec)
        expected = opts.get("expected_images")
        try:
            if opts.get("image_list") or domain.loader == "imagefolder":
                files = domain_files(domain, spec, data_root)
                if files.image_list is not None:
                    checks.append(_list_check(domain, spec, files, verify, expected))
                    continue
                domain_dir, layout = files.root, files.layout
            else:
                dataset_dir = find_dataset_dir(DATASETS[domain.loader], data_root)
                domain_dir, layout = locate_domain(dataset_dir, opts["folders"])
        except DabenchError as exc:
            checks.append(DomainCheck(key, None, {}, expected, [], [], [], error=str(exc)))
            continue
        checks.append(check_domain(domain_dir, group.classes, expected, verify,
                                   name=key, layout=layout,
                                   boundary=data_root_or_env(data_root) if domain.loader !=
                                   "imagefolder" else None))  # imagefolder: checked above
    return checks


def class_table(classes: list[str], checks: list[DomainCheck]) -> str:
    """Per-class image counts, one column per found domain; '0 !' marks a missing class."""
    found = [c for c in checks if c.error is None]
    if not found:
        return ""
    width = max(len(c) for c in [*classes, "class"])
    cols = [max(len(c.name), 5) for c in found]
    header = "".join(f"  {c.name:>{w}}" for c, w in zip(found, cols))
    lines = ["  " + f"{'class':<{width}}" + header]
    for cls in classes:
        cells = []
        for c, w in zip(found, cols):
            n = c.class_counts.get(cls, 0)
            cells.append(f"  {(str(n) if n else '0 !'):>{w}}")
        lines.append("  " + f"{cls:<{width}}" + "".join(cells))
    totals = "".join(f"  {c.total:>{w}}" for c, w in zip(found, cols))
    lines.append("  " + f"{'total':<{width}}" + totals)
    expected = "".join(f"  {('?' if c.expected is None else c.expected):>{w}}"
                       for c, w in zip(found, cols))
    lines.append("  " + f"{'expected':<{width}}" + expected)
    return "\n".join(lines)


@data_app.command("check")
def check(
    name: str = typer.Argument(..., metavar="TASK|DATASET",
                               help="a task, suite or dataset name (office31, officehome)"),
    data_root: Optional[Path] = DATA_ROOT,
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="decode every image (default) or only count them"),
    per_class: bool = typer.Option(True, "--per-class/--no-per-class",
                                   help="print the per-class count table"),
) -> None:
    """Check that a dataset is complete: per-domain and per-class image counts against the
    expected ones, missing classes, stray folders and images that do not decode.

    Exit code 0 only when every domain is complete; 1 when something is missing or broken.

    Examples:

      dabench data check office31 --data-root /data

      dabench data check officehome-ar-to-cl
    """
    try:
        ok = _check(name, data_root, verify, per_class)
    except DabenchError as exc:
        typer.echo(f"dabench: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(0 if ok else 1)


def _check(name: str, data_root: Optional[Path], verify: bool, per_class: bool) -> bool:
    from dabench.tasks.catalog import load_catalog

    specs = _select(load_catalog(), name)
    groups, skipped = _datasets_to_check(specs)
    videos = _video_domains(specs, _video_loader(name))
    small = _small_domains(specs, name.lower() if name.lower() in SMALL_LOADERS else None)
    if not groups and not videos and not small:
        raise DabenchError(f"'{name}' has no image folders to check and no videos: "
                           f"{', '.join(skipped)}; `dabench data check` covers the loaders "
                           f"{', '.join((*FOLDER_LOADERS, *VIDEO_LOADERS, *SMALL_LOADERS))}")
    root = data_root_or_env(data_root)
    if (videos or small) and root is None:
        raise DabenchError(f"checking these datasets needs the data folder; fix: pass --data-root DIR "
                           f"or set {DATA_ENV}=DIR")
    all_ok = True
    for group in groups:
        loader = next(iter(group.domains.values()))[0].loader
        if loader in DATASETS:
            try:
                where = find_dataset_dir(DATASETS[loader], root)
            except DabenchError as exc:
                if root is None:
                    raise  # no data folder given at all: a usage error (exit 2)
                typer.echo(f"{group.title}: PROBLEM  dataset folder not found\n    {exc}")
                all_ok = False
                continue
            typer.echo(f"{group.title}: {where}")
        else:
            typer.echo(f"{group.title}: image folders")
        checks = check_group(group, root, verify)
        report = format_check(checks).splitlines()
        typer.echo("\n".join(report[:-1]))
        if per_class:
            table = class_table(group.classes, checks)
            if table:
                typer.echo("per-class image counts ('0 !' = missing):")
                typer.echo(table)
        typer.echo(report[-1])
        all_ok = all_ok and all(c.ok for c in checks)
    for domain, spec in videos:
        result = check_video_domain(domain, spec, root)
        typer.echo(format_video_check(result))
        all_ok = all_ok and result.ok
    for domain, spec in small:
        result = check_small_domain(domain, spec, root, verify)
        typer.echo(result.text())
        all_ok = all_ok and result.ok
    for label in skipped:
        typer.echo(f"not checked (no image folder): {label}")
    typer.echo("complete" if all_ok else "INCOMPLETE: fix the problems above and check again")
    return all_ok
