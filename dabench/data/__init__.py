"""Data sources by loader name (the `loader:` of a domain in a task file).

A loader is `fn(domain, task, data_root, split, config) -> torch Dataset` yielding
(input, label); split is "train" or "test"; config is the run's RunConfig or None (the image
loaders read the recipe's augmentation from it, the video loaders the feature backbone and frame
count). A loader registers itself with `@LOADERS.register("name")` in any module below
`dabench/data/`; the modules are found by a package walk the first time a loader is looked up
(not before: `list-tasks` never imports torch), so no list of module names exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from dabench.registry import Registry

LOADERS: Registry[Callable] = Registry("data loader", discover="dabench.data")


def get_loader(name: str) -> Callable:
    return LOADERS.get(name)


@dataclass
class TaskData:
    """The four splits a run needs. `target_groups` maps target-test items to sub-targets."""

    source_train: object
    source_test: object
    target_train: object
    target_test: object
    target_groups: Optional[object] = None  # (N_test,) long tensor of sub-target indices
    target_names: tuple[str, ...] = ()


def load_task_data(task, data_root: Optional[Path], config=None) -> TaskData:
    """Build the datasets of a task: source, and the (blended) targets."""
    import torch
    from torch.utils.data import ConcatDataset

    def load(domain, split):
        return get_loader(domain.loader)(domain, task, data_root, split, config=config)

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

    return TaskData(
        source_train=load(task.source, "train"),
        source_test=load(task.source, "test"),
        target_train=join(targets_train),
        target_test=join(targets_test),
        target_groups=groups,
        target_names=tuple(d.name for d in task.targets),
    )
