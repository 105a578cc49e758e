"""Image lists and video split files written from the extracted folders (no third-party lists).

Office-31 / Office-Home: `<dataset>/image_list/<domain key>.txt`, one `<path> <label>` line per
image in the Transfer-Learning-Library format (`image_list:` in a task file reads it back), the
path relative to the dataset folder, the label the class's position in the task's class order.
Videos: `<dataset>/splits/<task family>/<domain key>_<train|test>.txt`, one `<path> <label>`
line per video of the benchmark split, resolved from the official split files through the task's
class map (the loader's own path, `split_items`). Files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

from dabench.errors import DabenchError
from dabench.runs.store import write_atomic


def _domains(loader: str):
    """(domain, task) for every domain of every task with this loader, once per family."""
    from dabench.tasks.catalog import load_catalog

    seen = set()
    for task in load_catalog().tasks.values():
        for domain in (task.source, *task.targets):
            key = (task.family, domain.key)
            if domain.loader == loader and key not in seen:
                seen.add(key)
                yield domain, task


def _lines(items, base: Path) -> str:
    return "".join(f"{Path(p).relative_to(base).as_posix()} {label}\n" for p, label in items)


def write_image_lists(loader: str, data_root: Path, dataset_dir: Path) -> list[Path]:
    from dabench.data.images.loaders import domain_files

    written = []
    for domain, task in _domains(loader):
        if domain.options.get("image_list"):
            continue  # the task reads its own list: leave it alone
        files = domain_files(domain, task, data_root)
        path = dataset_dir / "image_list" / f"{domain.key}.txt"
        write_atomic(path, _lines(files.items, dataset_dir))
        written.append(path)
    return written


def write_video_splits(loader: str, data_root: Path, dataset_dir: Path) -> list[Path]:
    from dabench.data.video.loaders import split_items

    written = []
    for domain, task in _domains(loader):
        for split in ("train", "test"):
            try:
                video_dir, items = split_items(domain, task, data_root, split)
            except DabenchError:
                continue  # `data check` reports it
            path = dataset_dir / "splits" / task.family / f"{domain.key}_{split}.txt"
            write_atomic(path, _lines(((video_dir / it.relpath, it.label) for it in items),
                                      dataset_dir))
            written.append(path)
    return written


def write_lists(loader: str, data_root: Path, dataset_dir: Path) -> list[Path]:
    """The lists for the dataset behind `loader`; an empty list when its folders are not there."""
    from dabench.data.smallimages.check import SMALL_LOADERS
    from dabench.data.video.loaders import LAYOUTS

    if loader in SMALL_LOADERS:
        return []  # their loaders read the native files directly
    try:
        if loader in LAYOUTS:
            return write_video_splits(loader, data_root, dataset_dir)
        return write_image_lists(loader, data_root, dataset_dir)
    except DabenchError:
        return []  # incomplete data: `data check` says what is missing
