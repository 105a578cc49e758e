"""Data sources by loader name (the `loader:` of a domain in a task file).

A loader is `fn(domain, task, data_root, split, config) -> torch Dataset` yielding
(input, label); split is "train" or "test"; config is the run's RunConfig or None (the image
loaders read the recipe's augmentation from it, the video loaders the feature backbone and frame
count). A loader registers itself with `@LOADERS.register("name")` in any module below
`dabench/data/`; the modules are found by a package walk the first time a loader is looked up
(not before: `list-tasks` never imports torch), so no list of module names exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from dabench.registry import Registry

LOADERS: Registry[Callable] = Registry("data loader", discover="dabench.data")


def get_loader(name: str) -> Callable:
    return LOADERS.get(name)


def normalises(how: str) -> Callable[[Callable], Callable]:
    """Declare how a loader normalises the inputs it returns (e.g. "ImageNet mean/std"); a
    task's domains must all be normalised alike (`check_normalisation`)."""
    def mark(fn: Callable) -> Callable:
        fn.normalisation = how
        return fn
    return mark


def check_normalisation(task) -> None:
    """One input normalisation per task: a DabenchError naming two domains whose loaders
    normalise differently (the network would see one domain on another scale)."""
    from dabench.errors import DabenchError

    domains = (task.source, *task.targets)
    how = {d.key: getattr(get_loader(d.loader), "normalisation", None) for d in domains}
    first = domains[0]
    for d in domains[1:]:
        if how[d.key] and how[first.key] and how[d.key] != how[first.key]:
            raise DabenchError(
                f"task '{task.name}' normalises its domains differently: '{first.key}' "
                f"(loader {first.loader}: {how[first.key]}) and '{d.key}' (loader {d.loader}: "
                f"{how[d.key]}); fix: give all its domains loaders that normalise alike (each "
                "loader's is listed in docs/datasets.md), e.g. the digits as an imagefolder "
                "domain of image files")


@dataclass
class TaskData:
    """The four splits a run needs. `target_groups` maps target-test items to sub-targets."""

    source_train: object
    source_test: object
    target_train: object
    target_test: object
    target_groups: Optional[object] = None  # (N_test,) long tensor of sub-target indices
    target_names: tuple[str, ...] = ()
    target_eval: str = "test"  # what the evaluations read: "test", "val" or "held-out test"
    # items of each domain's training split as loaded, by domain key (before any split)
    domain_counts: dict = field(default_factory=dict)


def load_task_data(task, data_root: Optional[Path], config=None) -> TaskData:
    """Build the datasets of a task: source, and the (blended) targets."""
    import torch
    from torch.utils.data import ConcatDataset

    def load(domain, split):
        return get_loader(domain.loader)(domain, task, data_root, split, config=config)

    check_normalisation(task)  # before any file is read

    targets_train = [load(d, "train") for d in task.targets]
    targets_test = [load(d, "test") for d in task.targets]
    groups = torch.cat([torch.full((len(ds),), i, dtype=torch.long)
                        for i, ds in enumerate(targets_test)])

    def join(parts):
        if len(parts) == 1:
            return parts[0]
        concat = getattr(type(parts[0]), "concat", None)  # e.g. one decoded-image cache
        if concat is not None and all(type(p) is type(parts[0]) for p in parts):
            return concat(parts)
        return ConcatDataset(parts)

    source_train = load(task.source, "train")
    counts = {task.source.key: len(source_train)}
    counts.update({d.key: len(ds) for d, ds in zip(task.targets, targets_train)})
    data = TaskData(
        source_train=source_train,
        source_test=load(task.source, "test"),
        target_train=join(targets_train),
        target_test=join(targets_test),
        target_groups=groups,
        target_names=tuple(d.name for d in task.targets),
        domain_counts=counts,
    )
    if config is not None:
        data = split_target(data, config)
    return data


def split_target(data: TaskData, config) -> TaskData:
    """Carve a labelled split out of the target's training items (seeded, per class):

    - `target_val` > 0: that share becomes the validation split that every evaluation reads
      instead of the test set (screening without test labels); training uses the rest.
    - target-only (`config.method`) on a domain whose train and test splits are the same images
      (Office): `target_only_test` of them become its test set and it trains on the rest, so it
      is not scored on its own training images.
    """
    import torch

    from dabench.data.holdout import held_out, subset
    from dabench.data.target_splits import dataset_labels, same_images, stratified_split

    from dabench.methods import method_role

    fraction = getattr(config, "target_val", 0.0)
    trains_on_target = method_role(config.method) == "upper"  # target-only
    if not fraction and trains_on_target and same_images(data.target_train, data.target_test):
        fraction = config.target_only_test
    if not fraction:
        return data
    sizes = [len(d) for d in getattr(data.target_train, "datasets", [data.target_train])]
    groups = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in enumerate(sizes)])
    if len(groups) != len(data.target_train):  # one joined cache of several sub-targets
        groups = data.target_groups if len(data.target_groups) == len(data.target_train) else \
            torch.zeros(len(data.target_train), dtype=torch.long)
    kept, held = stratified_split(dataset_labels(data.target_train), fraction)
    what = "val" if getattr(config, "target_val", 0.0) else "held-out test"
    kept, held = torch.as_tensor(kept), torch.as_tensor(held)
    return TaskData(data.source_train, data.source_test, subset(data.target_train, kept),
                    held_out(data.target_train, held), groups[held], data.target_names, what,
                    data.domain_counts)


def incomplete_domains(task, counts: dict) -> dict[str, dict[str, int]]:
    """{domain key: {"found", "expected"}} for the task's domains whose item count differs from
    the `expected_images` their task file states (a partly downloaded or extracted dataset)."""
    out = {}
    for domain in (task.source, *task.targets):
        expected = domain.options.get("expected_images")
        found = counts.get(domain.key)
        if expected and found is not None and found != expected:
            out[domain.key] = {"found": found, "expected": expected}
    return out
