"""The catalogue cache (dabench/tasks/catalog_cache.py): used when nothing changed, rebuilt when
a task file, a file it may include or the validating code changes, ignored when unusable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from dabench.tasks import catalog_cache
from dabench.tasks.catalog import build_catalog, builtin_task_dir

TASK = """family: toys
dataset: Toys
version: 1
modality: image
classes: [car, doll]
include: _toys.yaml
domains:
  photo:  {name: Photos,   loader: imagefolder, options: {path: photo}}
  sketch: {name: Sketches, loader: imagefolder, options: {path: sketch}}
tasks:
  photo-to-sketch: {title: TITLE, source: photo, targets: [sketch]}
"""
SHARED = "defaults: {steps: 100}\n"
OLD = time.time() - 3600  # modification times well before the settling time


def write(path: Path, text: str, mtime: float = OLD) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def toys(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    write(folder / "_toys.yaml", SHARED)
    write(folder / "toys.yaml", TASK.replace("TITLE", "Photo-to-Sketch"))
    return folder / "toys.yaml"


def load(files: list[Path], builds: list[int]):
    def build():
        builds.append(1)
        return build_catalog(files)
    return catalog_cache.cached(files, builtin_task_dir(), build)


def test_the_cache_is_used_until_a_file_changes(toys: Path):
    files, builds = [toys], []
    assert load(files, builds).tasks["photo-to-sketch"].title == "Photo-to-Sketch"
    assert len(builds) == 1
    assert catalog_cache.cache_file(files).parent == catalog_cache.cache_dir()
    assert catalog_cache.cache_file(files).is_file()
    assert load(files, builds).tasks["photo-to-sketch"].title == "Photo-to-Sketch"
    assert len(builds) == 1  # from the cache
    write(toys, TASK.replace("TITLE", "Photo-to-Sketsh"), OLD + 60)  # same size, later mtime
    assert load(files, builds).tasks["photo-to-sketch"].title == "Photo-to-Sketsh"
    assert len(builds) == 2
    write(toys, TASK.replace("TITLE", "Photo to sketch!"), OLD + 60)  # same mtime, new size
    assert load(files, builds).tasks["photo-to-sketch"].title == "Photo to sketch!"
    write(toys.parent / "_toys.yaml", "defaults: {steps: 200}\n", OLD + 60)  # the included file
    assert load(files, builds).tasks["photo-to-sketch"].config["steps"] == 200
    assert len(builds) == 4


def test_a_file_changed_just_now_is_not_cached(toys: Path):
    write(toys, TASK.replace("TITLE", "Fresh"), time.time())
    builds: list[int] = []
    load([toys], builds)
    load([toys], builds)
    assert len(builds) == 2  # the same tick could hold a second edit of the same size


def test_a_corrupt_or_unwritable_cache_is_ignored(toys: Path, monkeypatch, tmp_path: Path):
    builds: list[int] = []
    load([toys], builds)
    stored = catalog_cache.cache_file([toys])
    stored.write_bytes(b"not a pickle")
    assert load([toys], builds).tasks["photo-to-sketch"].title == "Photo-to-Sketch"
    assert len(builds) == 2 and stored.read_bytes() != b"not a pickle"  # rebuilt and rewritten
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache folder cannot be made
    assert load([toys], builds).tasks["photo-to-sketch"].title == "Photo-to-Sketch"


def test_list_tasks_sees_an_edited_task_file_at_once(toys: Path, tmp_path: Path):
    env = {**os.environ, "DABENCH_TASK_PATH": str(toys), "PYTHONPATH": str(REPO)}

    def titles() -> dict[str, str]:
        out = subprocess.run([sys.executable, "-m", "dabench", "list-tasks", "--format", "json"],
                             env=env, capture_output=True, text=True, check=True)
        assert out.stderr == ""
        return {t["name"]: t["title"] for t in json.loads(out.stdout)}

    assert titles()["photo-to-sketch"] == "Photo-to-Sketch"
    assert titles()["photo-to-sketch"] == "Photo-to-Sketch"  # from the cache
    write(toys, TASK.replace("TITLE", "Edited"), time.time())  # just now, as an editor would
    assert titles()["photo-to-sketch"] == "Edited"
    assert "mnist-to-mnistm" in titles()
