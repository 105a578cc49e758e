"""Office-31 / Office-Home task files, the image-folder loaders, `dabench data check`, and short
training runs on tiny real-JPEG trees (built in tmp_path with Pillow; nothing is downloaded)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from dabench.config import parse_sets, resolve
from dabench.cli.data import data_app
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog, parse_task_file
from test_images import write_jpeg as _write_jpeg
from test_images import write_truncated_jpeg

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

OFFICE31_SINGLE = [f"office31-{p}" for p in
                   ("a-to-w", "d-to-w", "w-to-d", "a-to-d", "d-to-a", "w-to-a")]
OFFICEHOME_SINGLE = [f"officehome-{s}-to-{t}" for s in ("ar", "cl", "pr", "rw")
                     for t in ("ar", "cl", "pr", "rw") if s != t]
MULTI = {
    "office31-a-to-dw": ["dslr", "webcam"], "office31-d-to-aw": ["amazon", "webcam"],
    "office31-w-to-ad": ["amazon", "dslr"],
    "officehome-ar-to-clprrw": ["clipart", "product", "real_world"],
    "officehome-cl-to-arprrw": ["art", "product", "real_world"],
    "officehome-pr-to-arclrw": ["art", "clipart", "real_world"],
    "officehome-rw-to-arclpr": ["art", "clipart", "product"],
}
# The 65 Office-Home class folders in codepoint order (TV before Table), verbatim.
OFFICEHOME_CLASSES = (
    "Alarm_Clock, Backpack, Batteries, Bed, Bike, Bottle, Bucket, Calculator, Calendar, Candles, "
    "Chair, Clipboards, Computer, Couch, Curtains, Desk_Lamp, Drill, Eraser, Exit_Sign, Fan, "
    "File_Cabinet, Flipflops, Flowers, Folder, Fork, Glasses, Hammer, Helmet, Kettle, Keyboard, "
    "Knives, Lamp_Shade, Laptop, Marker, Monitor, Mop, Mouse, Mug, Notebook, Oven, Pan, "
    "Paper_Clip, Pen, Pencil, Postit_Notes, Printer, Push_Pin, Radio, Refrigerator, Ruler, "
    "Scissors, Screwdriver, Shelf, Sink, Sneakers, Soda, Speaker, Spoon, TV, Table, Telephone, "
    "ToothBrush, Toys, Trash_Can, Webcam"
).split(", ")
OFFICE31_DOMAINS = ("amazon", "dslr", "webcam")


def _full_counts() -> dict[str, int]:
    """The complete domains' image counts as the task file states them (data check compares)."""
    task = load_catalog().task("office31-a-to-dw")
    return {d.key: d.options["expected_images"] for d in (task.source, *task.targets)}


FULL_COUNTS = _full_counts()
TINY_SETS = ["backbone.name=resnet18", "backbone.weights=none", "steps=2", "batch_size=4",
             "eval_every=2", "eval_batch_size=16", "log_every=1", "device=cpu"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny CPU runs are dominated by OpenMP hand-offs: with 2 threads on a busy 2-core machine a
    32x32 ResNet-18 forward takes ~0.5 s instead of ~0.02 s. One thread keeps the tests fast."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def o31_classes(catalog):
    return list(catalog.task("office31-a-to-w").classes)


# ---------------------------------------------------------------- tree builders

def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (40, 30)) -> Path:
    return _write_jpeg(path, seed, size)


def domain_dir(data_root: Path, domain: str) -> Path:
    return data_root / "office31" / domain / "images"  # Transfer-Learning-Library layout


def make_tiny_office31(data_root: Path, classes: list[str]) -> dict[str, int]:
    """Class i of domain k gets (i + k) % 2 + 1 JPEGs: 46 / 47 / 46 images."""
    counts = {}
    for k, domain in enumerate(OFFICE31_DOMAINS):
        n = 0
        for i, name in enumerate(classes):
            for j in range((i + k) % 2 + 1):
                write_jpeg(domain_dir(data_root, domain) / name / f"frame_{j:04d}.jpg",
                           seed=10_000 * k + 100 * i + j)
                n += 1
        counts[domain] = n
    return counts


def make_full_office31(data_root: Path, classes: list[str]) -> None:
    """The real image counts (FULL_COUNTS) as tiny 8x8 JPEGs, spread over all classes."""
    for k, (domain, total) in enumerate(FULL_COUNTS.items()):
        for n in range(total):
            write_jpeg(domain_dir(data_root, domain) / classes[n % 31] / f"frame_{n:04d}.jpg",
                       seed=k * 5000 + n, size=(8, 8))


@pytest.fixture
def tiny(tmp_path, o31_classes):
    data_root = tmp_path / "data"
    return data_root, make_tiny_office31(data_root, o31_classes)


def small(task, side: int = 32):
    """The task with its domains' images cropped to side x side (CPU-fast transforms)."""
    def shrink(domain):
        return dataclasses.replace(domain, options={**domain.options, "image_size": side,
                                                    "resize": side + 4})
    return dataclasses.replace(task, source=shrink(task.source),
                               targets=tuple(shrink(t) for t in task.targets))


def data_cli():
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test harness"""

    app.add_typer(data_app, name="data")
    return app


def check(*args: str):
    return runner.invoke(data_cli(), ["data", "check", *args])


# ---------------------------------------------------------------- task files

def test_office_task_files_validate_and_list_18_single_and_7_multi_target_tasks(catalog):
    for name in ("office31.yaml", "officehome.yaml"):
        parse_task_file(REPO / "tasks" / name)  # strict schema check, raises on any problem
    office = {n: t for n, t in catalog.tasks.items() if t.family in ("office31", "officehome")}
    single = sorted(n for n, t in office.items() if len(t.targets) == 1)
    multi = sorted(n for n, t in office.items() if len(t.targets) > 1)
    assert single == sorted(OFFICE31_SINGLE + OFFICEHOME_SINGLE) and len(single) == 18
    assert multi == sorted(MULTI) and len(multi) == 7
    for name, targets in MULTI.items():
        task = catalog.task(name)
        assert [t.key for t in task.targets] == targets
        assert task.leaderboard_task == "Multi-target Domain Adaptation"
        assert task.source.key not in targets
    for name in single:
        assert catalog.task(name).leaderboard_task == "Domain Adaptation"
    assert len({t.title for t in office.values()}) == 25  # distinct report rows

    from dabench.cli import app
    out = runner.invoke(app, ["list-tasks", "--format", "json"])
    assert out.exit_code == 0, out.output
    listed = {s["name"]: s for s in json.loads(out.stdout)}
    assert set(office) <= set(listed)
    assert listed["officehome-rw-to-arclpr"]["targets"] == ["Art", "Clipart", "Product"]
    assert listed["office31-a-to-w"]["num_classes"] == 31
    assert listed["officehome-ar-to-cl"]["num_classes"] == 65


def test_class_orders_are_fixed_in_the_yaml(catalog):
    o31 = catalog.task("office31-a-to-w").classes
    assert len(o31) == 31 and list(o31) == sorted(o31) and o31[0] == "back_pack"
    oh = catalog.task("officehome-ar-to-cl").classes
    assert list(oh) == OFFICEHOME_CLASSES and len(oh) == 65
    assert oh.index("TV") == 58 and oh.index("Table") == 59  # not case-insensitive sort
    for task in catalog.expand(["office31", "office31-mt", "officehome", "officehome-mt"]):
        expected = {"office31": o31, "officehome": oh}[task.family]
        assert task.classes == expected


def test_suites_expand(catalog):
    assert [t.name for t in catalog.expand(["office31"])] == OFFICE31_SINGLE
    assert [t.name for t in catalog.expand(["office31-mt"])] == list(MULTI)[:3]
    assert sorted(t.name for t in catalog.expand(["officehome"])) == sorted(OFFICEHOME_SINGLE)
    assert [t.name for t in catalog.expand(["officehome-mt"])] == list(MULTI)[3:]
    both = catalog.expand(["office31", "office31-a-to-w", "office31-mt"])
    assert len(both) == 9  # no repeats


def test_leaderboard_rows_are_the_mean_of_their_tasks_published_values(catalog):
    """Each leaderboard row's value agrees with the per-task published values it stands for
    (multi-target rows: AMEAN's dataset mean of one-decimal values), exactly one per task."""
    assert {"Office-31", "Office-Home"} <= {r.dataset for r in catalog.board}
    for row in catalog.board:
        values = [p.value for name in row.tasks for p in catalog.task(name).published
                  if p.matches(row.method, row.when)]
        assert len(values) == len(row.tasks), row
        assert sum(values) / len(values) == pytest.approx(row.value, abs=0.05), row


def test_published_values_name_their_sources_and_recipes(catalog):
    """Each value names the code base behind it, and a TLlib value applies only to the `tllib`
    recipe (the other values' recipe conditions: test_recipes_schedules_and_...)."""
    for task in catalog.expand(["office31", "officehome", "office31-mt", "officehome-mt"]):
        assert task.published
        for p in task.published:
            assert p.source and ("CDAN" in p.source or "Transfer-Learning-Library" in p.source
                                 or "CGCT" in p.source)
            assert (p.when == {"recipe": "tllib"}) == (p.reference == "tllib")


def test_recipes_schedules_and_the_published_values_they_are_compared_with(catalog):
    """Behaviour of each recipe's schedules (the values and their sources are in _office.yaml),
    and each published value attaches only to the recipe of the code that produced it."""
    from dabench.methods.revgrad import grl_coefficient
    from dabench.training.phase import lr_factor

    task = catalog.task("office31-a-to-w")
    paper = resolve(task, "revgrad", 0, {})
    assert paper.recipe == "dann-paper"
    lr, lam = lr_factor(paper, paper.steps - 1), grl_coefficient(paper, paper.steps - 1)
    assert lr == pytest.approx(11 ** -0.75) and lam == pytest.approx(2 / (1 + math.exp(-10)) - 1)

    tl = resolve(task, "revgrad", 0, parse_sets(["recipe=tllib"]))
    lr, lam = lr_factor(tl, 1000), grl_coefficient(tl, 1000)  # (1 + 0.001 i)^-0.75, 2/(1+e^-1)-1
    assert lr == pytest.approx(2 ** -0.75) and lam == pytest.approx(2 / (1 + math.exp(-1)) - 1)

    cdan = resolve(task, "revgrad", 0, parse_sets(["recipe=cdan"]))
    # CDAN: lr (1 + 0.001 i)^-0.75 and calc_coeff's 2/(1+exp(-10 i/10000)) - 1, per iteration
    lr, lam = lr_factor(cdan, 3000), grl_coefficient(cdan, 5000)
    assert lr == pytest.approx(4 ** -0.75) and lam == pytest.approx(2 / (1 + math.exp(-5)) - 1)

    def refs(cfg, name=task.name):
        return [p.reference for p in catalog.task(name).published_for("revgrad", cfg.flat())]

    assert refs(tl) == ["tllib"] and refs(cdan) == ["paper"] and refs(paper) == []
    home = catalog.task("officehome-ar-to-cl")
    assert refs(resolve(home, "revgrad", 0, {"recipe": "cdan"}), home.name) == ["paper"]
    blended = catalog.task("office31-a-to-dw")  # AMEAN: no public code, no recipe condition
    assert refs(resolve(blended, "revgrad", 0, {}), blended.name) == ["paper"]


def test_domain_options_carry_folder_names_counts_and_list(catalog):
    rw = catalog.task("officehome-ar-to-rw").targets[0]
    assert rw.options["folders"] == ["Real_World", "Real World"]
    domains = [d for t in catalog.expand(["office31", "officehome"]) for d in (t.source, *t.targets)]
    assert {d.key for d in domains} == {*OFFICE31_DOMAINS, "art", "clipart", "product", "real_world"}
    assert all(isinstance(d.options["expected_images"], int) and d.options["expected_images"] > 0
               for d in domains)  # what `dabench data check` compares the folders with
    assert all("image_list" in d.options for t in catalog.expand(["office31"])
               for d in (t.source, *t.targets))


# ---------------------------------------------------------------- loaders

def test_office31_loader_counts_labels_and_tensors(tiny, catalog, o31_classes):
    from dabench.data import get_loader

    data_root, counts = tiny
    task = small(catalog.task("office31-a-to-w"))
    load = get_loader("office31")
    train = load(task.source, task, data_root, "train")
    test = load(task.source, task, data_root, "test")
    assert len(train) == len(test) == counts["amazon"] == 46  # both splits: every image
    assert train.items == test.items
    assert all(o31_classes[label] == path.parent.name for path, label in train.items)
    assert sorted(set(train.labels)) == list(range(31))
    x, y = test[5]
    assert tuple(x.shape) == (3, 32, 32) and y == train.items[5][1]
    assert len(load(task.targets[0], task, data_root, "test")) == counts["webcam"]


def test_officehome_loader_finds_the_official_zip_layout(tmp_path, catalog):
    from dabench.data import get_loader

    task = small(catalog.task("officehome-ar-to-rw"))
    data_root = tmp_path / "data"
    zip_root = data_root / "OfficeHomeDataset_10072016"  # the zip extracted in the data root
    for i, name in enumerate(task.classes):
        write_jpeg(zip_root / "Real World" / name / f"{i:05d}.jpg", seed=i)
    ds = get_loader("officehome")(task.targets[0], task, data_root, "test")
    assert len(ds) == 65 and sorted(ds.labels) == list(range(65))
    table = next(p for p, _ in ds.items if p.parent.name == "Table")
    assert dict(ds.items)[table] == 59


def test_blended_targets_concat_sizes_and_groups(tiny, catalog):
    from torch.utils.data import ConcatDataset

    from dabench.data import load_task_data

    data_root, counts = tiny
    data = load_task_data(small(catalog.task("office31-a-to-dw")), data_root)
    assert isinstance(data.target_train, ConcatDataset)
    assert len(data.target_train) == len(data.target_test) == counts["dslr"] + counts["webcam"]
    assert data.target_names == ("DSLR", "Webcam")
    assert data.target_groups.bincount().tolist() == [counts["dslr"], counts["webcam"]]
    assert len(data.source_train) == counts["amazon"]


@pytest.mark.parametrize("recipe, crop", [("dann-paper", "RandomCrop"),
                                          ("tllib", "RandomResizedCrop"),
                                          ("cdan", "RandomResizedCrop")])  # CDAN's pre_process
def test_augmentation_follows_the_run_recipe_when_the_config_is_passed(tiny, catalog, recipe,
                                                                       crop):
    from dabench.data import load_task_data

    data_root, _ = tiny
    task = small(catalog.task("office31-a-to-w"))
    cfg = resolve(task, "revgrad", 0, parse_sets([f"recipe={recipe}"]))
    data = load_task_data(task, data_root, config=cfg)
    train_ops = [type(t).__name__ for t in data.source_train.transform.transforms]
    test_ops = [type(t).__name__ for t in data.target_test.transform.transforms]
    assert crop in train_ops and "RandomHorizontalFlip" in train_ops
    assert "CenterCrop" in test_ops and "RandomHorizontalFlip" not in test_ops
    squash = data.target_test.transform.transforms[0].size == (36, 36)  # resize x resize
    assert squash == (recipe != "dann-paper")


def test_image_list_option_is_used_and_labels_come_from_folders(tiny, catalog, o31_classes):
    from dabench.data import get_loader

    data_root, _ = tiny
    lists = data_root / "office31" / "image_list"
    lists.mkdir()
    lines = [f"webcam/images/{c}/frame_0000.jpg {99 - i}" for i, c in enumerate(o31_classes)]
    (lists / "webcam.txt").write_text("\n".join(lines) + "\n")
    task = small(catalog.task("office31-a-to-w"))
    webcam = dataclasses.replace(task.targets[0], options={**task.targets[0].options,
                                                           "image_list": "image_list/webcam.txt"})
    ds = get_loader("office31")(webcam, task, data_root, "test")
    assert len(ds) == 31 < 46 and ds.labels == list(range(31))  # not the list's 99, 98, ...
    (lists / "webcam.txt").write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(DabenchError, match="no images for 26 class"):
        get_loader("office31")(webcam, task, data_root, "test")


def test_missing_data_root_names_download_folder_and_flags(tmp_path, catalog):
    from dabench.data import get_loader

    task = catalog.task("office31-a-to-w")
    with pytest.raises(DabenchError) as err:
        get_loader("office31")(task.source, task, None, "train")
    message = str(err.value)
    for part in ("https://faculty.cc.gatech.edu/~judy/domainadapt/", "office31",
                 "--data-root", "DABENCH_DATA"):
        assert part in message
    (tmp_path / "Office_31").mkdir()  # near miss
    with pytest.raises(DabenchError, match="rename it to 'office31'"):
        get_loader("office31")(task.source, task, tmp_path, "train")
    home = catalog.task("officehome-ar-to-cl")
    with pytest.raises(DabenchError, match=r"hemanthdv\.org.*officehome"):
        get_loader("officehome")(home.source, home, tmp_path, "train")


def test_unknown_domain_option_is_refused(tiny, catalog):
    from dabench.data import get_loader

    data_root, _ = tiny
    task = catalog.task("office31-a-to-w")
    bad = dataclasses.replace(task.source, options={**task.source.options, "imagesize": 32})
    with pytest.raises(DabenchError, match="unknown option 'imagesize'.*image_size"):
        get_loader("office31")(bad, task, data_root, "train")


# ---------------------------------------------------------------- data check

def test_data_check_passes_on_a_complete_tree(tmp_path, o31_classes):
    make_full_office31(tmp_path, o31_classes)
    out = check("office31", "--data-root", str(tmp_path))
    assert out.exit_code == 0, out.output
    for domain, n in FULL_COUNTS.items():
        assert re.search(rf"{domain}\s+ok\s+{n} images \(expected {n}\), 31/31 classes", out.stdout)
    assert re.search(r"back_pack\s+91\s+17\s+26", out.stdout)  # per-class table
    assert "complete" in out.stdout.splitlines()[-1]
    # A task checks only its own domains.
    out = check("office31-w-to-d", "--data-root", str(tmp_path), "--no-verify")
    assert out.exit_code == 0 and "amazon" not in out.stdout and "decoding skipped" in out.stdout


def test_data_check_reports_wrong_counts_and_reads_dabench_data(tiny, monkeypatch):
    data_root, counts = tiny
    monkeypatch.setenv("DABENCH_DATA", str(data_root))
    out = check("office31-a-to-dw")
    assert out.exit_code == 1
    assert f"{counts['amazon']} images (expected {FULL_COUNTS['amazon']})" in out.stdout
    assert "INCOMPLETE" in out.stdout


@pytest.mark.parametrize("breakage", ["missing class", "corrupt jpeg", "wrong folder name"])
def test_data_check_fails_naming_the_problem(tmp_path, o31_classes, breakage):
    import shutil

    make_full_office31(tmp_path, o31_classes)
    if breakage == "missing class":
        shutil.rmtree(domain_dir(tmp_path, "dslr") / "projector")
        expected = ["missing classes: projector", "dslr", "PROBLEM"]
    elif breakage == "corrupt jpeg":
        bad = write_truncated_jpeg(domain_dir(tmp_path, "webcam") / "mug" / "frame_0017.jpg")
        expected = ["unreadable images (1)", str(bad)]
    else:
        (tmp_path / "office31" / "webcam").rename(tmp_path / "office31" / "Webcam")
        expected = ["found wrong folder name 'Webcam'", "rename it to 'webcam'"]
    out = check("office31", "--data-root", str(tmp_path))
    assert out.exit_code == 1, out.output
    for text in expected:
        assert text in out.stdout


def test_data_check_usage_errors_exit_2(tmp_path):
    out = check("office31")  # no --data-root, no DABENCH_DATA
    assert out.exit_code == 2 and "faculty.cc.gatech.edu" in out.stderr
    assert "--data-root" in out.stderr
    out = check("ofice31", "--data-root", str(tmp_path))
    assert out.exit_code == 2 and "Did you mean 'office31'" in out.stderr
    out = check("mnist-to-mnistm", "--data-root", str(tmp_path))
    assert out.exit_code == 2 and "no image folders to check" in out.stderr
    out = check("officehome", "--data-root", str(tmp_path))  # data root without officehome/
    assert out.exit_code == 1 and "Office-Home not found" in out.stdout


def test_data_check_does_not_import_torch(tiny):
    data_root, _ = tiny
    code = (
        "import sys, typer\n"
        "from typer.testing import CliRunner\n"
        "from dabench.cli.data import data_app\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "app.add_typer(data_app, name='data')\n"
        f"args = ['data', 'check', 'office31', '--data-root', {str(data_root)!r}]\n"
        "r = CliRunner().invoke(app, args)\n"
        "assert r.exit_code == 1, r.output\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------- training on the tiny tree

@pytest.mark.parametrize("method", ["source-only", "revgrad", "target-only"])
def test_two_step_runs_on_the_tiny_tree(tiny, catalog, tmp_path, method):
    from dabench.training import loop as train

    data_root, counts = tiny
    task = small(catalog.task("office31-a-to-w"))
    cfg = resolve(task, method, 0, parse_sets(TINY_SETS))
    outcome = train.run(task, cfg, tmp_path / "runs", data_root)
    record = outcome.record
    assert record["status"] == "done" and record["method"] == method
    assert record["steps"] == 2 and record["recipe"] == "dann-paper"
    if method == "target-only":  # its own held-out test images: 1 of each 2-image class
        assert (record["target_total"], record["target_eval"]) == (15, "held-out test")
    else:
        assert (record["target_total"], record["target_eval"]) == (counts["webcam"], "test")
    assert 0.0 <= record["target_acc_last"] <= 1.0
    assert record["config"]["backbone.name"] == "resnet18"
    assert "target_groups_last" not in record
    assert (outcome.directory / "done").exists()


@pytest.mark.parametrize("image_cache", [False, True])
def test_target_only_trains_and_tests_on_disjoint_per_class_splits(tiny, catalog, image_cache):
    """Office's single-target protocol gives the whole domain as train and test: target-only
    would score its own training images. It gets a seeded per-class split instead."""
    from dabench.data import load_task_data

    data_root, counts = tiny
    task = small(catalog.task("office31-a-to-w"))
    sets = [*TINY_SETS, f"image_cache={str(image_cache).lower()}"]
    split = load_task_data(task, data_root, resolve(task, "target-only", 0, parse_sets(sets)))
    adapt = load_task_data(task, data_root, resolve(task, "revgrad", 0, parse_sets(sets)))
    assert len(adapt.target_test) == counts["webcam"]  # DA methods: the whole domain
    train_items, test_items = set(split.target_train.items), set(split.target_test.items)
    assert not train_items & test_items
    assert train_items | test_items == set(adapt.target_test.items)
    assert len(test_items) == 15  # one of each of the 15 two-image classes
    again = load_task_data(task, data_root, resolve(task, "target-only", 3, parse_sets(sets)))
    assert set(again.target_test.items) == test_items  # one split for every run seed


def test_blended_run_reports_one_group_per_sub_target(tiny, catalog, tmp_path):
    from dabench.training import loop as train

    data_root, counts = tiny
    task = small(catalog.task("office31-a-to-dw"))
    cfg = resolve(task, "revgrad", 0, parse_sets([*TINY_SETS, "recipe=tllib"]))
    record = train.run(task, cfg, tmp_path / "runs", data_root).record
    assert record["target_total"] == counts["dslr"] + counts["webcam"]
    groups = record["target_groups_last"]
    assert set(groups["per_target"]) == {"DSLR", "Webcam"}
    assert groups["pooled"] == pytest.approx(record["target_acc_last"])


def test_decoded_image_cache_runs_blended_tasks_on_one_cache(tiny, catalog, tmp_path):
    from dabench.training import loop as train
    from dabench.data import load_task_data
    from dabench.data.images.cache import DecodedImages

    data_root, counts = tiny
    task = small(catalog.task("office31-a-to-dw"))
    cfg = resolve(task, "revgrad", 0, parse_sets([*TINY_SETS, "image_cache=true"]))
    data = load_task_data(task, data_root, config=cfg)
    assert isinstance(data.source_train, DecodedImages)
    assert data.source_train is data.source_test  # one cache serves both splits
    assert isinstance(data.target_train, DecodedImages)  # the blend stays one cache
    assert len(data.target_train) == counts["dslr"] + counts["webcam"]
    record = train.run(task, cfg, tmp_path / "runs", data_root).record
    assert record["target_total"] == counts["dslr"] + counts["webcam"]
    assert record["config"]["image_cache"] is True
    assert set(record["target_groups_last"]["per_target"]) == {"DSLR", "Webcam"}


def test_corrupt_jpeg_stops_the_run_before_training(tiny, catalog, tmp_path):
    from dabench.training import loop as train

    data_root, _ = tiny
    bad = write_truncated_jpeg(domain_dir(data_root, "webcam") / "mug" / "frame_0009.jpg")
    task = small(catalog.task("office31-a-to-w"))
    cfg = resolve(task, "revgrad", 0, parse_sets(TINY_SETS))
    with pytest.raises(DabenchError) as err:
        train.run(task, cfg, tmp_path / "runs", data_root)
    assert str(bad) in str(err.value) and "unreadable" in str(err.value)
    assert "dabench data check office31-a-to-w" in str(err.value)
    # data is checked before the run folder is touched: nothing was written
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.json*"))


# ---------------------------------------------------------------- bring your own domains

def _docs_yaml() -> str:
    text = (REPO / "docs" / "images.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    mine = [b for b in blocks if "loader: imagefolder" in b]
    assert mine, "docs/images.md shows no imagefolder task YAML"
    return mine[0]


def test_imagefolder_task_from_the_docs_runs(tmp_path, monkeypatch):
    from dabench.training import loop as train

    PER_CLASS = 4  # >= 8 images per domain: the run's proxy A-distance needs 8
    text = _docs_yaml()
    spec = yaml.safe_load(text)
    data_root = tmp_path / "data"
    for key, body in spec["domains"].items():
        for i, name in enumerate(spec["classes"]):
            for j in range(PER_CLASS):
                write_jpeg(data_root / body["options"]["path"] / name / f"{j}.jpg", seed=i * 7 + j)
    n_classes = len(spec["classes"])
    for body in spec["domains"].values():  # our tree's counts
        body["options"]["expected_images"] = PER_CLASS * n_classes
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "mine.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    monkeypatch.setenv("DABENCH_TASK_PATH", str(tmp_path / "tasks"))
    catalog = load_catalog()
    name = next(iter(spec["tasks"]))
    task = small(catalog.task(name))
    cfg = resolve(task, "revgrad", 0, parse_sets(TINY_SETS))
    record = train.run(task, cfg, tmp_path / "runs", data_root).record
    assert record["target_total"] == PER_CLASS * n_classes
    out = check(name, "--data-root", str(data_root))
    assert out.exit_code == 0, out.output
    assert f"{PER_CLASS * n_classes} images (expected {PER_CLASS * n_classes})" in out.stdout
