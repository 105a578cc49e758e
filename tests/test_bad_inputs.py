"""The catalogue of bad inputs, each through the real CLI (typer's CliRunner).

Every case must: exit non-zero; print exactly one line on stderr, starting `dabench: error:`,
that names the problem; print no traceback; and leave what was already in the runs folder
untouched (a finished run is present before and compared byte for byte after). The README's
"Bad input" table lists the same cases; the video cases live in tests/test_video_tasks.py.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import shutil
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from dabench.cli import app
from dabench.tasks.catalog import load_catalog
from test_office_tasks import make_tiny_office31, write_truncated_jpeg

GOLDEN_RUNS = Path(__file__).resolve().parent / "golden" / "runs"
RESNET = ["--set", "backbone.name=resnet18", "--set", "backbone.weights=none",
          "--set", "steps=1", "--set", "eval_every=1"]
YAML_OK = """family: toy
dataset: Toy
version: 1
modality: image
classes: [a, b]
domains:
  s: {name: S, loader: mnist5k}
tasks:
  toy-task: {title: Toy, source: s, targets: [s]}
"""


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def office_tree(tmp: Path) -> Path:
    classes = list(load_catalog().task("office31-a-to-w").classes)
    make_tiny_office31(tmp / "data", classes)
    return tmp / "data"


def images_of(data: Path, domain: str) -> Path:
    return data / "office31" / domain / "images"


def case_missing_class(tmp: Path) -> list[str]:
    data = office_tree(tmp)
    shutil.rmtree(images_of(data, "amazon") / "mug")
    return ["run", "office31-a-to-w", "--data-root", str(data), *RESNET]


def case_corrupt_image(tmp: Path, how: str) -> list[str]:
    data = office_tree(tmp)
    bad = images_of(data, "webcam") / "mug" / "frame_0000.jpg"
    if how == "garbage":
        bad.write_bytes(b"this is not a jpeg at all" * 10)
    elif how == "zero":
        bad.write_bytes(b"")
    else:
        write_truncated_jpeg(bad)
    return ["run", "office31-a-to-w", "--data-root", str(data), *RESNET]


def case_wrong_layout(tmp: Path) -> list[str]:
    data = office_tree(tmp)
    (data / "office31" / "webcam").rename(data / "office31" / "WebCam")
    return ["run", "office31-a-to-w", "--data-root", str(data), *RESNET]


def case_task_yaml(tmp: Path, text: str) -> list[str]:
    (tmp / "tasks").mkdir()
    (tmp / "tasks" / "toy.yaml").write_text(text)
    return ["--tasks", str(tmp / "tasks")]  # resolved by the runner below


def case_weights(tmp: Path, content: bytes | None) -> list[str]:
    path = tmp / "weights.pth"
    if content is not None:
        path.write_bytes(content)
    return ["run", "mnist5k-to-mnistm5k", "-m", "source-only", "--set", "backbone.name=resnet18",
            "--set", f"backbone.weights={path}"]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing data root": (lambda t: ["run", "office31-a-to-w", "--data-root", str(t / "nope")],
                          "does not exist"),
    "wrong layout": (case_wrong_layout, "WebCam"),
    "missing class folder": (case_missing_class, "mug"),
    "corrupt image": (lambda t: case_corrupt_image(t, "garbage"), "frame_0000.jpg"),
    "truncated image": (lambda t: case_corrupt_image(t, "truncated"), "frame_0000.jpg"),
    "zero-byte image": (lambda t: case_corrupt_image(t, "zero"), "frame_0000.jpg"),
    "unknown task": (lambda t: ["run", "mnist-to-mnistn"], "Did you mean 'mnist-to-mnistm'"),
    "unknown suite": (lambda t: ["run", "ofice31-mt"], "Did you mean 'office31-mt'"),
    "unknown method": (lambda t: ["run", "mnist5k-to-mnistm5k", "-m", "dann"], "unknown method"),
    "unknown recipe": (lambda t: ["run", "mnist5k-to-mnistm5k", "--set", "recipe=tlib"],
                       "unknown recipe 'tlib'"),
    "unknown option": (lambda t: ["run", "mnist5k-to-mnistm5k", "--colour", "red"],
                       "No such option: --colour"),
    "bad --set key": (lambda t: ["run", "mnist5k-to-mnistm5k", "--set", "optim.lrr=1"],
                      "Did you mean 'optim.lr'"),
    "bad --set type": (lambda t: ["run", "mnist5k-to-mnistm5k", "--set", "steps=many"],
                       "needs an integer"),
    "bad --set value": (lambda t: ["run", "mnist5k-to-mnistm5k", "--set", "grl.schedule=linear"],
                        "must be one of dann, constant"),
    "YAML syntax": (lambda t: case_task_yaml(t, YAML_OK + "  broken: [\n"), "YAML syntax error"),
    "YAML unknown key": (lambda t: case_task_yaml(t, YAML_OK + "colour: red\n"),
                         "unknown key 'colour'"),
    "YAML wrong type": (lambda t: case_task_yaml(t, YAML_OK.replace("version: 1", "version: x")),
                        "version: expected int"),
    "YAML duplicate name": (lambda t: case_task_yaml(
        t, YAML_OK.replace("toy-task:", "mnist5k-to-mnistm5k:")), "defined twice"),
    "unwritable runs folder": (lambda t: ["run", "mnist5k-to-mnistm5k", "--runs-dir",
                                          str(_file(t) / "runs")], "cannot write to the runs"),
    "weights file missing": (lambda t: case_weights(t, None), "does not exist"),
    "weights file corrupt": (lambda t: case_weights(t, b"not a torch file"), "is corrupt"),
    "CUDA without a GPU": (lambda t: ["run", "mnist5k-to-mnistm5k", "--device", "cuda"],
                           "no CUDA GPU"),
    "report on an empty folder": (lambda t: ["report", "--runs-dir", str(t / "empty")],
                                  "no finished runs"),
    # an image backbone on feature vectors: was an internal error (a conv2d on (B, D) rows)
    "image backbone on vectors": (lambda t: ["run", "books-to-dvd", "-m", "source-only", "--set",
                                             "backbone.name=lenet", "--set", "steps=5"],
                                  "backbone 'lenet' reads images, and this task's domains are "
                                  "feature vectors (5000 per item); use --set backbone.name=shallow"),
}


def _set(pair: str) -> Callable[[Path], list[str]]:
    return lambda t: ["run", "mnist5k-to-mnistm5k", "--set", pair]


# Numeric ranges (issue 13 row 5): refused when parsed, before any run folder exists.
CASES.update({
    "steps=0": (_set("steps=0"), "setting 'steps' must be >= 1, got 0"),
    "eval_every=0": (_set("eval_every=0"), "setting 'eval_every' must be >= 1, got 0"),
    "log_every=0": (_set("log_every=0"), "setting 'log_every' must be >= 1, got 0"),
    "batch_size=0": (_set("batch_size=0"), "setting 'batch_size' must be >= 1, got 0"),
    "domain_dropout=5": (_set("model.domain_dropout=5"),
                         "setting 'model.domain_dropout' must be in [0, 1), got 5"),
    "lr=nan": (_set("optim.lr=nan"), "setting 'optim.lr' must be a finite number, got nan"),
    "lr=inf": (_set("optim.lr=inf"), "setting 'optim.lr' must be a finite number, got inf"),
    "lr=1e309": (_set("optim.lr=1e309"), "setting 'optim.lr' must be a finite number, got 1e309"),
    "seed -1": (lambda t: ["run", "mnist5k-to-mnistm5k", "--seed", "-1"],
                "--seed -1 is out of range: seeds are integers from 0 to 4294967295"),
    "seed 2**32": (lambda t: ["run", "mnist5k-to-mnistm5k", "--seed", "4294967296"],
                   "--seed 4294967296 is out of range"),
    "seeds=-3": (lambda t: ["run", "mnist5k-to-mnistm5k", "--seeds=-3"],
                 "--seeds -3 is out of range"),
    "task-file default out of range": (
        lambda t: [*case_task_yaml(t, YAML_OK.replace(
            "targets: [s]}", "targets: [s], config: {eval_every: 0}}")), "run", "toy-task"],
        "tasks.toy-task.config: setting 'eval_every' must be >= 1, got 0"),
})


# -- task files and --set values (issue 13 rows 1, 5, 6, 7, 8, 11, 12, 16; owner: schema) ------

def user_tasks(tmp: Path, body: str | bytes, *command: str, name: str = "toy.yaml") -> list[str]:
    """A user task file on DABENCH_TASK_PATH, then `command` (default: list-tasks)."""
    folder = tmp / "tasks"
    folder.mkdir()
    (folder / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    return ["--tasks", str(folder), *command]


def _laughs() -> str:
    """The 'billion laughs': 9 levels of 9 aliases each, 10^9 strings once expanded."""
    lines = ['lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


_TOY_TASK = "  toy-task: {title: Toy, source: s, targets: [s]}\n"
CASES.update({
    "task name escapes the runs folder": (lambda t: user_tasks(
        t, YAML_OK.replace("  toy-task:", '  "../../../escape-task":'), "run",
        "../../../escape-task"), "task name '../../../escape-task' is not allowed"),
    "absolute task name": (lambda t: user_tasks(
        t, YAML_OK.replace("  toy-task:", '  "/tmp/abs-task":')), "'/tmp/abs-task' is not allowed"),
    "empty task name": (lambda t: user_tasks(t, YAML_OK.replace("  toy-task:", '  "":')),
                        "task name '' is not allowed"),
    "published value .nan": (lambda t: user_tasks(t, YAML_OK.replace(
        "targets: [s]}", "targets: [s], published: [{method: revgrad, value: .nan, source: x}]}")),
        "published[0].value: must be a finite number, got nan"),
    "task file defaults set seed and method": (lambda t: user_tasks(
        t, YAML_OK + "defaults: {seed: 7, method: target-only}\n", "run", "toy-task", "-m",
        "revgrad", "--seeds", "0,1"), "'seed' cannot be set by a task file"),
    "YAML alias bomb (billion laughs)": (lambda t: user_tasks(t, _laughs() + YAML_OK),
                                         "once its aliases (*name) are expanded"),
    "100 kB --set value": (lambda t: ["run", "mnist5k-to-mnistm5k", "--set", "optim.lr=" + "9x" * 50_000],
                           "got '" + "9x" * 40 + "... (100000 characters)'"),
    "same task key twice in one file": (lambda t: user_tasks(t, YAML_OK + _TOY_TASK),
                                        "line 10: the key 'toy-task' appears twice in one mapping"),
    "user suite named leaderboard": (lambda t: user_tasks(
        t, YAML_OK + "suites: {leaderboard: [toy-task]}\n"), "suite name 'leaderboard' is reserved"),
    "task file in latin-1": (lambda t: user_tasks(
        t, YAML_OK.replace("classes: [a, b]", "classes: [café, b]").encode("latin-1")),
        "not UTF-8 text (byte 0xe9"),
    "100k nested [ in a task file": (lambda t: user_tasks(t, "[" * 100_000),
                                     "nested more than 50 levels deep"),
    "integer task key": (lambda t: user_tasks(t, YAML_OK.replace("  toy-task:", "  123:")),
                         'tasks.123: the task name 123 must be text; quote it: "123"'),
    "--set recipe on a task without recipes": (lambda t: user_tasks(
        t, YAML_OK, "run", "toy-task", "--set", "recipe=nope"),
        "unknown recipe 'nope': task 'toy-task' defines no recipes"),
    ".yml task file is read, not ignored": (lambda t: user_tasks(
        t, YAML_OK + "colour: red\n", name="toy.yml"), "toy.yml: top level: unknown key 'colour'"),
    "DABENCH_TASK_PATH=/dev/null": (lambda t: ["--tasks", "/dev/null"],
                                    "'/dev/null', which is neither a file nor a folder"),
})


# -- runtime rows of issue 13 (rows 1-4, 9, 10, 13-19; owner: robust) ----------------------------

def case_linked_task_folder(tmp: Path) -> list[str]:
    (tmp / "outside").mkdir()
    (tmp / "runs" / "mnist-to-digits" / "source-only").symlink_to(tmp / "outside")
    return ["run", "mnist-to-digits", "-m", "source-only", "--set", "steps=1"]


GOLDEN_RUN = next(d for d in sorted(GOLDEN_RUNS.glob("*/*/*")) if (d / "done").is_file())
DAMAGES = {"truncated": lambda text: text[: len(text) // 2], "[]": lambda text: "[]",
           "{}": lambda text: "{}",
           "no config": lambda text: json.dumps({k: v for k, v in json.loads(text).items()
                                                 if k != "config"}),
           "accuracy 'abc'": lambda text: json.dumps({**json.loads(text),
                                                      "target_acc_last": "abc"})}


def damaged_copy(runs: Path, damage: str, run_id: str = "d4m4g3d00000") -> Path:
    """A copy of a finished golden run under a new id, its result.json damaged."""
    directory = runs / GOLDEN_RUN.relative_to(GOLDEN_RUNS).parent / run_id
    shutil.copytree(GOLDEN_RUN, directory)
    text = (directory / "result.json").read_text()
    (directory / "result.json").write_text(DAMAGES[damage](text))
    return directory


def case_report_only(tmp: Path, what: str) -> list[str]:
    runs = tmp / "only"
    if what == "failed":
        directory = runs / "mnist5k-to-mnistm5k" / "revgrad" / "0123456789ab"
        directory.mkdir(parents=True)
        (directory / "config.json").write_text(json.dumps({"task": "mnist5k-to-mnistm5k"}))
        (directory / "failed.json").write_text(json.dumps({
            "task": "mnist5k-to-mnistm5k", "method": "revgrad", "seed": 0, "step": 12,
            "error": "loss term 'cls' became nan at step 12", "status": "failed"}))
    else:
        damaged_copy(runs, "truncated")
    return ["report", "--runs-dir", str(runs)]


NAN_SETS = ["--set", "optim.lr=1e6", "--set", "steps=30", "--set", "log_every=1", "--set",
            "eval_every=30", "--set", "batch_size=16", "--set", "pad_samples=0"]

def case_other_state_dict(tmp: Path) -> list[str]:
    import torch

    torch.save({"features.0.weight": torch.zeros(3, 3), "classifier.bias": torch.zeros(2)},
               tmp / "other.pth")
    return ["run", "mnist5k-to-mnistm5k", "-m", "source-only", "--set", "backbone.name=resnet18",
            "--set", f"backbone.weights={tmp / 'other.pth'}", "--set", "steps=1"]


def case_linked_class_folder(tmp: Path) -> list[str]:
    data = office_tree(tmp)
    mug = images_of(data, "amazon") / "mug"
    shutil.move(str(mug), str(tmp / "elsewhere-mug"))
    mug.symlink_to(tmp / "elsewhere-mug")
    return ["run", "office31-a-to-w", "--data-root", str(data), *RESNET]


def imagefolder_task(tmp: Path, classes: str, options: str) -> str:
    """A user task with one imagefolder domain holding class folders a and b (2 images each)."""
    from test_office_tasks import write_jpeg

    for i, name in enumerate(["a", "b"]):
        for j in range(2):
            write_jpeg(tmp / "user-data" / "dom" / name / f"{j}.jpg", seed=i * 2 + j)
    return (f"family: toyimg\ndataset: ToyImg\nversion: 1\nmodality: image\nclasses: {classes}\n"
            f"domains:\n  s: {{name: S, loader: imagefolder, options: {{{options}}}}}\n"
            "tasks:\n  toyimg-task: {title: ToyImg, source: s, targets: [s]}\n")


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (Pillow checks the size when it opens it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + \
        chunk(b"IEND", b"")


def case_huge_png(tmp: Path) -> list[str]:
    data = office_tree(tmp)
    (images_of(data, "webcam") / "mug" / "frame_0000.jpg").write_bytes(png_header(9500, 9500))
    return ["run", "office31-a-to-w", "--data-root", str(data), *RESNET]


CASES.update({
    "90-megapixel image": (case_huge_png, "frame_0000.jpg (too large: 9500x9500 = 90 megapixels, "
                                          "above the 89 MP limit; resize or remove it)"),
    "class folder is a link out of the data root": (
        case_linked_class_folder, "outside the data folder"),
    "image_list outside the dataset folder (not echoed)": (lambda t: user_tasks(
        t, imagefolder_task(t, "[a, b]", f"path: {t / 'user-data' / 'dom'}, "
                                         "image_list: ../../../../../../etc/passwd"),
        "run", "toyimg-task", "--data-root", str(t / "user-data")),
        "image list '../../../../../../etc/passwd' (option image_list of domain 's' in"),
    "weights file of another architecture": (
        case_other_state_dict, "other.pth' does not match the resnet18 architecture: it lacks "
                               "120 of resnet18's 120 keys (e.g. 'bn1.bias')"),
    "weights path is a folder": (lambda t: ["run", "mnist5k-to-mnistm5k", "-m", "source-only", "--set",
                                            "backbone.name=resnet18", "--set",
                                            f"backbone.weights={t}"], "is a folder, not a file"),
    "video setting on an image task": (_set("video.segments=3"),
                                       "setting 'video.segments' applies to video tasks only"),
    "temporal model on an image task": (_set("model.temporal=tempooling"), "'mnist5k-to-mnistm5k' "
                                        "is an image task; drop --set model.temporal=..."),
    "video task without a temporal model": (
        lambda t: ["run", "ucf-to-olympic", "--set", "model.temporal=none"],
        "video task 'ucf-to-olympic' needs a temporal model"),
    "class name that is an absolute path": (lambda t: user_tasks(
        t, imagefolder_task(t, '["/etc", b]', f"path: {t / 'user-data' / 'dom'}"),
        "run", "toyimg-task", "--data-root", str(t / "user-data")),
        "class name '/etc' is not a plain folder name"),
    "class name that climbs out of the domain": (lambda t: user_tasks(
        t, imagefolder_task(t, '["../x", b]', f"path: {t / 'user-data' / 'dom'}"),
        "run", "toyimg-task", "--data-root", str(t / "user-data")),
        "class name '../x' is not a plain folder name"),
    "run folder is a link out of the runs folder": (case_linked_task_folder,
                                                    "outside the runs folder"),
    "report with only failed runs lists them": (
        lambda t: case_report_only(t, "failed"),
        "mnist5k-to-mnistm5k revgrad seed 0 failed: loss term 'cls' became nan at step 12"),
    "report with only a damaged run names it": (
        lambda t: case_report_only(t, "damaged"), "d4m4g3d00000 is damaged: result.json is "
                                                  "truncated or not JSON"),
    "NaN run that was 1 of 1": (lambda t: ["run", "mnist5k-to-mnistm5k", "-m", "source-only",
                                           "--runs-dir", str(t / "nan"), *NAN_SETS],
                                "loss term"),  # one line: no "the others finished"
})


# -- issue 26 (Robustness III): the new commands under hostile input --------------------------

def _emit(tmp: Path, *extra: str) -> list[str]:
    """`run ... --launcher slurm --emit-sbatch FILE` with `extra` options."""
    return ["run", "mnist5k-to-mnistm5k", "--launcher", "slurm", "--emit-sbatch",
            str(tmp / "array.sbatch"), *extra]


VEC_TASK = """family: vec
dataset: Vec
version: 1
modality: vectors
classes: [neg, pos]
domains:
  a: {{name: A, loader: vectors, options: {{{a}}}}}
  b: {{name: B, loader: vectors, options: {{{b}}}}}
tasks:
  vec-a-to-b: {{title: Vec, source: a, targets: [b]}}
"""
VEC_RUN = ["--set", "backbone.name=shallow", "--set", "steps=2", "--set", "eval_every=2", "--set", "batch_size=4"]


def vectors_task(tmp: Path, a: str, b: str = "train: b.csv, test: b.csv, labels: [-1, 1]",
                 *command: str) -> list[str]:
    """A user vectors task (files next to it in tmp/tasks; b.csv a good 5-row file), then
    `command` (default: run it)."""
    from test_vectors import write as write_vectors

    folder = tmp / "tasks"
    folder.mkdir(exist_ok=True)
    write_vectors(folder / "b.csv", "csv")
    (folder / "vec.yaml").write_text(VEC_TASK.format(a=a, b=b))
    return ["--tasks", str(folder), *(command or ["run", "vec-a-to-b", *VEC_RUN])]


def _vec_file(tmp: Path, name: str, content: bytes | None = None) -> str:
    (tmp / "tasks").mkdir(exist_ok=True)
    if content is not None:
        (tmp / "tasks" / name).write_bytes(content)
    return name


def _empty_npz(tmp: Path) -> str:
    import numpy as np

    (tmp / "tasks").mkdir(exist_ok=True)
    np.savez(tmp / "tasks" / "empty.npz", x=np.zeros((0, 4), np.float32), y=np.zeros(0))
    return "empty.npz"


def _fifo(tmp: Path) -> str:
    (tmp / "tasks").mkdir(exist_ok=True)
    os.mkfifo(tmp / "tasks" / "pipe.csv")
    return str(tmp / "tasks" / "pipe.csv")


def _validate(tmp: Path, a: str) -> list[str]:
    vectors_task(tmp, a)  # writes the task file
    return ["tasks", "validate", str(tmp / "tasks" / "vec.yaml")]


def _office31_tofu(tmp: Path) -> list[str]:
    """Row 13: a tiny office31 archive already recorded on first use (with --no-check), then
    another file: the refusal names the recorded hash and how to reset it."""
    from archive_factory import make_tar

    data = tmp / "o31data"
    small = make_tar(tmp / "a" / "domain_adaptation_images.tar.gz",
                     {f"{d}/images/back_pack/frame_0000.jpg": b"x"
                      for d in ("amazon", "dslr", "webcam")})
    out = CliRunner().invoke(app, ["data", "download", "office31", "--data-root", str(data),
                                   "--from-file", str(small), "--no-check", "--quiet"])
    assert out.exit_code == 0, out.output
    other = make_tar(tmp / "b" / "domain_adaptation_images.tar.gz",
                     {f"{d}/images/mug/frame_0000.jpg": b"y" for d in ("amazon", "dslr")})
    return ["data", "download", "office31", "--data-root", str(data), "--from-file", str(other)]


CASES.update({
    # row 1: a value written into the script holding a newline (each option)
    "sbatch --partition with a newline": (
        lambda t: _emit(t, "--partition", f"gpu\ntouch {t / 'INJECTED'} #"),
        "--partition 'gpu\\ntouch "),
    "sbatch --account with a newline": (lambda t: _emit(t, "--account", "lab\nid"),
                                        "--account 'lab\\nid' is not a Slurm name"),
    "sbatch --qos with a shell command": (lambda t: _emit(t, "--qos", "$(touch x)"),
                                          "--qos '$(touch x)' is not a Slurm name"),
    "sbatch --runs-dir with a newline": (
        lambda t: [*_emit(t), "--runs-dir", str(t / "a\nb")],
        "--runs-dir '" + "/"),  # the path is shown escaped on the one line
    # row 2: counts out of range
    "--max-parallel 0": (lambda t: _emit(t, "--max-parallel", "0"),
                         "--max-parallel 0 is out of range: give an integer >= 1"),
    "--gpus-per-job 5": (lambda t: _emit(t, "--gpus-per-job", "5"),
                         "--gpus-per-job 5 is out of range: give 0 or 1"),
    "--mem-gb -1": (lambda t: _emit(t, "--mem-gb", "-1"), "--mem-gb -1.0 is out of range"),
    "--mem-gb nan": (lambda t: _emit(t, "--mem-gb", "nan"), "--mem-gb nan is out of range"),
    # row 3
    "slurm launcher without sbatch on PATH": (
        lambda t: ["run", "mnist5k-to-mnistm5k", "--launcher", "slurm"],
        "--launcher slurm submits jobs with Slurm's sbatch and srun, which this machine does "
        "not have on PATH"),
    # row 4: the error names --emit-sbatch, not --runs-dir or a temp file
    "--emit-sbatch into /proc": (lambda t: [*_emit(t)[:-1], "/proc/array.sbatch"],
                                 "--emit-sbatch /proc/array.sbatch: cannot write there"),
    "--emit-sbatch is a folder": (lambda t: [*_emit(t)[:-1], str(t)],
                                  "is a folder; give the name of the script file"),
    "--emit-sbatch under a file": (lambda t: [*_emit(t)[:-1], str(_file(t) / "x.sbatch")],
                                   "a-file is not a folder"),
    # row 6: empty feature files
    "0-byte .mat feature file": (lambda t: vectors_task(t, "train: {f}, test: {f}, x_key: X, "
                                 "y_key: Y, labels: [-1, 1]".format(f=_vec_file(t, "e.mat", b""))),
                                 "e.mat is empty (0 bytes)"),
    "0-row .npz feature file": (lambda t: vectors_task(
        t, f"train: {_empty_npz(t)}, test: b.csv, labels: [-1, 1]"), "empty.npz holds no rows"),
    "empty svmlight files only": (lambda t: vectors_task(
        t, "train: {f}, test: {f}, labels: [-1, 1]".format(f=_vec_file(t, "e.svmlight", b"")),
        "train: {f}, test: {f}, labels: [-1, 1]".format(f=_vec_file(t, "e.svmlight", b""))),
        "e.svmlight is empty (0 bytes)"),
    # row 7: vectors options refused by `tasks validate` (what run refuses)
    "vectors dim: abc": (lambda t: _validate(t, "train: b.csv, test: b.csv, dim: abc"),
                         "domains.a.options.dim: expected a positive integer"),
    "vectors labels: [x, y]": (lambda t: _validate(t, "train: b.csv, test: b.csv, labels: [x, y]"),
                               "domains.a.options.labels: expected a list of numbers"),
    "vectors zero_based: 'no'": (lambda t: _validate(
        t, "train: b.csv, test: b.csv, zero_based: 'no'"),
        "domains.a.options.zero_based: expected true or false, got 'no'"),
    "vectors without test:": (lambda t: _validate(t, "train: b.csv, labels: [-1, 1]"),
                              "domains.a.options.test: missing"),
    # row 8: files that never end
    "feature file /dev/zero": (lambda t: vectors_task(
        t, "train: /dev/zero, test: b.csv, format: csv, labels: [-1, 1]"),
        "feature file /dev/zero is a character device, not a regular file"),
    "feature file is a FIFO": (lambda t: vectors_task(
        t, f"train: {_fifo(t)}, test: b.csv, labels: [-1, 1]"),
        "pipe.csv is a FIFO (named pipe), not a regular file"),
    "feature file over the size limit": (lambda t: vectors_task(
        t, "train: big.csv, test: b.csv, labels: [-1, 1]".replace(
            "big.csv", _vec_file(t, "big.csv", b"1,2,1\n" * 200_000))),
        "big.csv is 1.1 MB, above the limit of 1 MB (DABENCH_MAX_FILE_MB raises it)"),
    "gzip feature file over the size limit once decompressed": (lambda t: vectors_task(
        t, "train: big.csv.gz, test: b.csv, labels: [-1, 1]".replace(
            "big.csv.gz", _vec_file(t, "big.csv.gz", gzip.compress(b"1,2,1\n" * 200_000)))),
        "big.csv.gz (decompressed) holds more than 1 MB (DABENCH_MAX_FILE_MB raises it)"),
    # row 11, 12: sweeps
    "--sweep of 10^6 combinations": (lambda t: [
        "run", "mnist5k-to-mnistm5k", "--sweep", "optim.lr=" + ",".join(f"0.{i}1" for i in range(1000)),
        "--sweep", "optim.weight_decay=" + ",".join(f"0.{i}1" for i in range(1000))],
        "this command would plan 1,000,000 runs"),
    "--sweep with an empty value": (lambda t: ["run", "mnist5k-to-mnistm5k", "--sweep",
                                               "optim.lr=1,,2"],
                                    "--sweep 'optim.lr=1,,2': value 2 is empty"),
    # row 13, 14
    "download refused by a first-use hash names it and the reset": (
        _office31_tofu, "recorded on first use); fix:"),
    "data download --data-root FILE": (
        lambda t: ["data", "download", "office31", "--data-root", str(_file(t))],
        "a-file is a file, not a folder"),
    # row 16, 17
    "report --out onto a run's result.json": (lambda t: [
        "report", "--runs-dir", str(t / "runs"), "--format", "html", "--out",
        str(next((t / "runs").glob("*/*/*/result.json")))], "is inside the run folder"),
    "report --select reverse without reverse runs": (
        lambda t: ["report", "--runs-dir", str(t / "runs"), "--select", "reverse"],
        "--select reverse: none of the"),
    # row 18: validate refuses what run refuses
    "tasks validate: class name that is an absolute path": (lambda t: [
        "tasks", "validate", user_tasks(t, imagefolder_task(t, '["/etc", b]', "path: x"))[1]
        + "/toy.yaml"], "classes[0]: class name '/etc' is not a plain folder name"),
    # row 20
    "--device and --set device disagree": (lambda t: [
        "run", "mnist5k-to-mnistm5k", "--device", "cuda", "--set", "device=cpu"],
        "--device cuda and --set device=cpu disagree"),
})


def _file(tmp: Path) -> Path:
    blocker = tmp / "a-file"
    blocker.write_text("not a folder")
    return blocker


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN_RUNS, runs)
    before = snapshot(runs)
    make, expected = CASES[name]
    args = make(tmp_path)
    if args[0] == "--tasks":  # a user task file on DABENCH_TASK_PATH, then a command
        monkeypatch.setenv("DABENCH_TASK_PATH", args[1])
        args = args[2:] or ["list-tasks"]
    if args[0] == "run" and "--runs-dir" not in args:
        args += ["--runs-dir", str(runs)]
    if name == "CUDA without a GPU":
        monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    if name == "slurm launcher without sbatch on PATH":
        (tmp_path / "empty-bin").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    if "over the size limit" in name:
        monkeypatch.setenv("DABENCH_MAX_FILE_MB", "1")
    out = CliRunner().invoke(app, args)
    lines = out.stderr.strip().splitlines()
    assert out.exit_code not in (0, None), out.output
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("dabench: error:") and expected in lines[0], lines[0]
    assert "Traceback" not in out.output
    assert snapshot(runs) == before  # nothing already written was lost or changed


def test_full_disk_while_writing_results(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN_RUNS, runs)
    before = snapshot(runs)

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("dabench.runs.store.write_atomic", full)
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--runs-dir", str(runs),
                                   "--set", "steps=2"])
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and "No space left on device" in out.stderr
    after = snapshot(runs)
    # The run lock's guard file (dabench/runs/lock.py: an fcntl lock, released by the kernel)
    # stays in the new run folder; nothing else is added and nothing already there changes.
    assert {k: v for k, v in after.items() if not k.endswith("/lock.guard")} == before


def test_catalogue_has_at_least_20_cases():
    assert len(CASES) + 1 >= 20


# -- runtime rows of issue 13, the longer tests (owner: robust) ----------------------------------

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from dabench.runs import store  # noqa: E402

DIGITS_TASK = """family: toy
dataset: Toy
version: 1
modality: image
classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
domains:
  d: {name: D, loader: sklearn-digits, options: {test_size: 100, data_seed: 0}}
tasks:
  toy-digits: {title: Toy digits, source: d, targets: [d]}
"""
# A checkpoint every 2 steps: many save windows for a signal to land in.
FAST = ["--set", "steps=16", "--set", "eval_every=2", "--set", "log_every=1", "--set",
        "batch_size=8", "--set", "eval_batch_size=500", "--set", "pad_samples=0"]


def _digits_env(tmp: Path) -> dict[str, str]:
    (tmp / "tasks").mkdir(exist_ok=True)
    (tmp / "tasks" / "toy.yaml").write_text(DIGITS_TASK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DABENCH_")}
    repo = str(Path(__file__).resolve().parents[1])
    env.update(DABENCH_TASK_PATH=str(tmp / "tasks"),
               PYTHONPATH=os.pathsep.join([repo, env.get("PYTHONPATH", "")]))
    return env


def _final(runs: Path) -> dict[int, tuple]:
    """seed -> (result numbers, every metrics line without timing)."""
    out = {}
    for d in store.iter_run_dirs(runs):
        res = json.loads((d / "result.json").read_text())
        lines = [{k: v for k, v in r.items() if k not in ("elapsed", "validators_s")}
                 for r in store.read_jsonl(d / "metrics.jsonl")]
        out[res["seed"]] = ({k: res[k] for k in ("target_acc_last", "target_acc_best",
                                                 "best_step", "source_acc_last")}, lines)
    return out


@pytest.mark.slow
def test_double_ctrl_c_at_many_offsets_then_resume_matches_uninterrupted(tmp_path, monkeypatch):
    """Row 2: SIGINT, a second SIGINT a few ms later, at several offsets into training (inside a
    step, inside a checkpoint save, between two); each resumed run equals the uninterrupted one."""
    env = _digits_env(tmp_path)
    delays = [(0.0, 0.0), (0.05, 0.01), (0.15, 0.02), (0.3, 0.005)]
    seeds = ",".join(str(s) for s in range(len(delays)))
    base = [sys.executable, "-m", "dabench", "run", "toy-digits", "-m", "revgrad", *FAST]
    runs = tmp_path / "runs"
    interrupted = 0
    for seed, (delay, gap) in enumerate(delays):
        before = set(runs.glob("*/*/*/metrics.jsonl"))
        proc = subprocess.Popen([*base, "--seed", str(seed), "--runs-dir", str(runs)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        end = time.time() + 120  # the offsets count from the first metrics line of this run
        while proc.poll() is None and time.time() < end and not (
                set(runs.glob("*/*/*/metrics.jsonl")) - before):
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
        # 130; -SIGINT (what a shell shows as 130) if the second Ctrl-C lands before the handler
        assert proc.returncode in (130, 0, -signal.SIGINT), err
        assert "Traceback" not in err and not list(runs.rglob("*.tmp")), err
        interrupted += proc.returncode == 130
    assert interrupted >= len(delays) - 1  # the offsets land inside the training
    resumed = subprocess.run([*base, "--seeds", seeds, "--runs-dir", str(runs)], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    monkeypatch.setenv("DABENCH_TASK_PATH", env["DABENCH_TASK_PATH"])
    ref = tmp_path / "ref"
    out = CliRunner().invoke(app, ["run", "toy-digits", "-m", "revgrad", "--seeds", seeds,
                                   "--runs-dir", str(ref), *FAST])
    assert out.exit_code == 0, out.output
    got, want = _final(runs), _final(ref)
    assert sorted(got) == list(range(len(delays)))
    for seed in want:
        assert got[seed][0] == want[seed][0], (seed, delays[seed])
        assert got[seed][1] == want[seed][1], (seed, delays[seed])


@pytest.mark.slow
def test_sigterm_checkpoints_like_ctrl_c_then_resume_matches_uninterrupted(tmp_path,
                                                                           monkeypatch):
    """`kill`, `scancel` and the --emit-sbatch requeue trap send SIGTERM: the run finishes its
    step, checkpoints and exits 130 (it died at once before, losing the steps since its last
    checkpoint); the resumed run equals an uninterrupted one."""
    env = _digits_env(tmp_path)
    runs, ref = tmp_path / "runs", tmp_path / "ref"
    args = ["run", "toy-digits", "-m", "revgrad", "--seed", "0", *FAST]
    proc = subprocess.Popen([sys.executable, "-m", "dabench", *args, "--runs-dir", str(runs)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    end = time.time() + 120
    while proc.poll() is None and time.time() < end and not list(runs.glob("*/*/*/metrics.jsonl")):
        time.sleep(0.002)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err
    (run,) = runs.glob("*/*/*")
    assert (run / "checkpoint.pt").exists() and not (run / "done").exists()
    resumed = subprocess.run([sys.executable, "-m", "dabench", *args, "--runs-dir", str(runs)],
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    monkeypatch.setenv("DABENCH_TASK_PATH", env["DABENCH_TASK_PATH"])
    out = CliRunner().invoke(app, [*args, "--runs-dir", str(ref)])
    assert out.exit_code == 0, out.output
    assert _final(runs) == _final(ref)


def test_full_disk_on_a_small_tmpfs(tmp_path, monkeypatch):
    """Row 3: a runs folder on a 1 MB tmpfs fills up at the first checkpoint: one line with
    "No space left on device", no temporary file left, the runs already there intact."""
    small = tmp_path / "small"
    small.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                                 capture_output=True, text=True, timeout=30)
        why = mounted.stderr.strip() or f"mount exited {mounted.returncode}"
    except (OSError, subprocess.SubprocessError) as exc:
        mounted, why = None, f"{type(exc).__name__}: {exc}"
    if mounted is None or mounted.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs here (needs root and CAP_SYS_ADMIN): {why}")
    try:
        runs = small / "runs"
        shutil.copytree(GOLDEN_RUNS, runs)
        before = snapshot(runs)
        monkeypatch.setenv("DABENCH_TASK_PATH", _digits_env(tmp_path)["DABENCH_TASK_PATH"])
        (small / "filler").write_bytes(b"\0" * 600_000)  # what is left cannot hold a checkpoint
        out = CliRunner().invoke(app, ["run", "toy-digits", "-m", "revgrad", "--runs-dir",
                                       str(runs), "--set", "steps=4", "--set", "eval_every=1",
                                       "--set", "pad_samples=0", "--set", "batch_size=8"])
        lines = out.stderr.strip().splitlines()
        assert out.exit_code == 2, out.output
        assert len(lines) == 1 and "No space left on device" in lines[0], out.stderr
        assert lines[0].startswith("dabench: error:") and "Traceback" not in out.output
        left = [p.name for p in runs.rglob("*") if p.name.endswith(".tmp") or
                p.name.startswith(".")]
        assert left == []
        assert {k: v for k, v in snapshot(runs).items() if k in before} == before
    finally:
        subprocess.run(["umount", str(small)], check=False)


def _toy_run(tmp: Path, monkeypatch, runs: Path, *extra: str):
    monkeypatch.setenv("DABENCH_TASK_PATH", _digits_env(tmp)["DABENCH_TASK_PATH"])
    return CliRunner().invoke(app, ["run", "toy-digits", "-m", "source-only", "--runs-dir",
                                    str(runs), "--set", "pad_samples=0", "--set",
                                    "batch_size=8", *extra])


@pytest.mark.parametrize("damage", ["lacks keys", "truncated"])
def test_damaged_checkpoint_falls_back_or_starts_over_and_says_which(damage, tmp_path,
                                                                     monkeypatch, caplog):
    """Row 10: a checkpoint that loads but lacks keys -> the previous checkpoint is used; a
    truncated one with no previous -> the run starts over. The warning says which happened and
    the finished run equals an uninterrupted one."""
    import torch

    sets = ["--set", "steps=6", "--set", "eval_every=2"]
    ref = _toy_run(tmp_path, monkeypatch, tmp_path / "ref", *sets)
    assert ref.exit_code == 0, ref.output
    runs = tmp_path / "runs"
    # an unfinished run: stop after the checkpoint of step 4 by faking a Ctrl-C there
    from dabench.training import checkpoint as ckpt_mod

    real_save = ckpt_mod.Checkpoint.save
    def save_then_stop(self, state):
        real_save(self, state)
        if state.step == 4:
            raise KeyboardInterrupt
    monkeypatch.setattr(ckpt_mod.Checkpoint, "save", save_then_stop)
    handler = signal.getsignal(signal.SIGINT)
    assert _toy_run(tmp_path, monkeypatch, runs, *sets).exit_code == 130
    signal.signal(signal.SIGINT, handler)  # the CLI ignores further Ctrl-C once interrupted
    monkeypatch.setattr(ckpt_mod.Checkpoint, "save", real_save)
    (directory,) = list(store.iter_run_dirs(runs))
    assert (directory / "checkpoint.prev.pt").is_file()
    if damage == "lacks keys":
        torch.save({"step": 5}, directory / "checkpoint.pt")
        said = "resumed from the previous checkpoint checkpoint.prev.pt at step 2"
    else:
        (directory / "checkpoint.prev.pt").unlink()
        blob = (directory / "checkpoint.pt").read_bytes()
        (directory / "checkpoint.pt").write_bytes(blob[: len(blob) // 2])
        said = "no usable checkpoint is left, so the run starts over from step 0"
    out = _toy_run(tmp_path, monkeypatch, runs, *sets)
    assert out.exit_code == 0, out.output
    assert said in caplog.text and "Traceback" not in out.output  # the CLI logs to stderr
    assert _final(runs) == _final(tmp_path / "ref")


@pytest.mark.parametrize("name", ["../../../escape-task", "/tmp/abs-task", "a/b", "", ".."])
def test_run_folder_names_cannot_escape_the_runs_folder(name, tmp_path):
    """Row 1 (defence in depth, whatever the task-file parser lets through): a run folder name
    that would leave the runs folder is a DabenchError naming it, and nothing is created."""
    from dabench.errors import DabenchError

    runs = tmp_path / "deep" / "runs"
    runs.mkdir(parents=True)
    with pytest.raises(DabenchError, match="would write outside the runs folder"):
        store.run_dir(runs, name, "revgrad", "0123456789ab")
    assert store.run_dir(runs, "ok-task", "revgrad", "0123456789ab") == \
        runs / "ok-task" / "revgrad" / "0123456789ab"
    assert [p for p in tmp_path.rglob("*") if p != runs and p != runs.parent] == []


def test_report_names_and_skips_each_damaged_folder(tmp_path):
    """Row 4: truncated, [], {}, no config, target_acc_last "abc": each folder is named on
    stderr and skipped; the report of the other runs is the one without them."""
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN_RUNS, runs)
    want = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"])
    assert want.exit_code == 0, want.output
    names = {damage: damaged_copy(runs, damage, f"d4m4g3d0000{i}")
             for i, damage in enumerate(DAMAGES)}
    out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert out.stdout == want.stdout
    warnings = [l for l in out.stderr.splitlines() if l.startswith("dabench: warning:")]
    assert len(warnings) == len(DAMAGES)
    for damage, directory in names.items():
        (line,) = [l for l in warnings if str(directory) in l]
        assert "is damaged: result.json" in line and "skipped" in line, (damage, line)
        assert "dabench run mnist-to-" in line  # how to run it again
    assert "Traceback" not in out.output


def test_run_reruns_a_damaged_folder_and_leaves_the_others(tmp_path, monkeypatch, caplog):
    """Row 4: `run` on a finished run whose result.json was truncated runs it again (saying so)
    instead of a JSONDecodeError traceback; the other runs are untouched."""
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN_RUNS, runs)
    before = snapshot(runs)
    sets = ["--set", "steps=2", "--set", "eval_every=2", "--seed", "0"]
    assert _toy_run(tmp_path, monkeypatch, runs, *sets).exit_code == 0
    (directory,) = [d for d in store.iter_run_dirs(runs) if "toy-digits" in str(d)]
    good = json.loads((directory / "result.json").read_text())
    (directory / "result.json").write_text('{"task": "toy-di')
    out = _toy_run(tmp_path, monkeypatch, runs, *sets)
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    assert f"run folder {directory} is damaged" in caplog.text and "running it again" in caplog.text
    again = json.loads((directory / "result.json").read_text())
    assert again["target_acc_last"] == good["target_acc_last"]
    assert {k: v for k, v in snapshot(runs).items() if k in before} == before


def test_weights_file_of_the_right_architecture_loads(tmp_path):
    """Row 9's other side: torchvision's own resnet18 state dict (with its fc) loads."""
    import torch
    import torchvision

    from dabench.models.backbones import build_backbone

    saved = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(saved, tmp_path / "r18.pth")
    net, dim = build_backbone("resnet18", str(tmp_path / "r18.pth"))
    assert dim == 512 and torch.equal(net.state_dict()["conv1.weight"], saved["conv1.weight"])



@pytest.mark.parametrize("columns", ["80", "50"])
def test_list_tasks_never_cuts_a_task_name(columns, monkeypatch):
    """Row 17: at 80 (or 50) columns, not a terminal, every task name is printed whole; the
    other columns wrap instead."""
    monkeypatch.setenv("COLUMNS", columns)
    out = CliRunner().invoke(app, ["list-tasks"])
    assert out.exit_code == 0, out.output
    first_cells = [line.split("│")[1].strip() for line in out.stdout.splitlines()
                   if line.startswith("│") and line.split("│")[1].strip()]
    names = list(load_catalog().tasks)
    assert first_cells == names
    assert "…" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= max(int(columns),
                                                                      max(map(len, names)) + 20)


def _fake_finished_run(runs: Path, sets: dict, acc: float, task: str = "mnist-to-mnistm",
                       **extra) -> None:
    """A finished run folder as `dabench run` writes it, with the current defaults + `sets`."""
    from dabench.config import resolve

    spec = load_catalog().task(task)
    cfg = resolve(spec, "revgrad", 0, sets)
    directory = store.run_dir(runs, spec.name, "revgrad", cfg.run_id())
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"task": spec.name, "config": cfg.flat()}))
    (directory / "result.json").write_text(json.dumps({
        "task": spec.name, "task_version": spec.version, "title": spec.title,
        "method": "revgrad", "model": "RevGrad", "recipe": cfg.recipe, "seed": 0,
        "config": cfg.flat(), "target_acc_last": acc, "target_acc_best": acc, **extra}))
    (directory / "done").write_text("")


def test_report_says_when_values_are_validation_accuracies(tmp_path):
    """A run screened with --set target_val=0.25 reads the validation split: the caption says
    its value is not a test accuracy, and its row has no Δ to the published test value."""
    runs = tmp_path / "runs"
    _fake_finished_run(runs, {"target_val": 0.25}, 0.70, target_eval="val")
    out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs)])
    assert out.exit_code == 0, out.output
    assert "1 run(s) set target_val: their values are accuracies on a labelled validation split" \
        in " ".join(out.stdout.split())
    rows = json.loads(CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--format",
                                                "json"]).stdout)
    (row,) = rows
    assert row["value"] == 70.0 and row["delta"] is None and "target_val=0.25" in row["model"]
    _fake_finished_run(tmp_path / "test-only", {}, 0.70)
    plain = CliRunner().invoke(app, ["report", "--runs-dir", str(tmp_path / "test-only")])
    assert "set target_val" not in plain.stdout


def test_report_row_with_other_settings_says_which_and_has_no_delta(tmp_path):
    """Row 18: a run with --set steps=20 is labelled "RevGrad (steps=20)", not "RevGrad #hash",
    and gets no Δ against the published value (that was not its recipe); the task's own
    settings keep the plain label and the Δ."""
    runs = tmp_path / "runs"
    _fake_finished_run(runs, {}, 0.75)
    _fake_finished_run(runs, {"steps": 20}, 0.10)
    out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--view", "runs",
                                   "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"RevGrad", "RevGrad (steps=20)"}
    assert rows["RevGrad (steps=20)"]["delta"] is None
    assert rows["RevGrad"]["delta"] == round(75.0 - rows["RevGrad"]["published"], 4)


def test_user_video_task_without_temporal_gets_the_video_network():
    """Row 19: a video task whose defaults lack model.temporal resolves to TemPooling (the
    image network on cached frame features crashed)."""
    import dataclasses

    from dabench.config import resolve

    spec = load_catalog().task("ucf-to-olympic")
    bare = dataclasses.replace(spec, config={k: v for k, v in spec.config.items()
                                             if k != "model.temporal"})
    assert resolve(bare, "revgrad", 0, {}).model.temporal == "tempooling"
    assert resolve(bare, "revgrad", 0, {"model.temporal": "temrelation"}).model.temporal == \
        "temrelation"


def test_class_names_in_nfc_match_folders_in_nfd(tmp_path, monkeypatch):
    """Row 14: a class 'café' (NFC in the task file) and its folder named in NFD: `data check`
    finds the class (no "missing classes: café / unexpected folders: café")."""
    import unicodedata

    text = imagefolder_task(tmp_path, '["café", b]', f"path: {tmp_path / 'user-data' / 'dom'}")
    (tmp_path / "user-data" / "dom" / "a").rename(
        tmp_path / "user-data" / "dom" / unicodedata.normalize("NFD", "café"))
    monkeypatch.setenv("DABENCH_TASK_PATH", user_tasks(tmp_path, text)[1])
    out = CliRunner().invoke(app, ["data", "check", "toyimg-task", "--data-root",
                                   str(tmp_path / "user-data")])
    assert "missing classes" not in out.stdout and "unexpected folders" not in out.stdout
    assert out.exit_code == 0, out.output
    assert "4 images" in out.stdout and "2/2 classes" in out.stdout


@pytest.mark.parametrize("name", ["/etc", "../x", "a/b", ""])
def test_class_names_are_plain_folder_names(name, tmp_path):
    """Row 15: a class name that is an absolute path (or climbs out) reads nothing."""
    from dabench.data.images.layout import scan_domain
    from dabench.errors import DabenchError

    with pytest.raises(DabenchError, match="is not a plain folder name"):
        scan_domain(tmp_path, [name, "b"])



@pytest.mark.parametrize("what", ["rejected image list", "empty domain"])
def test_data_check_does_not_call_a_rejected_list_folder_not_found(what, tmp_path, monkeypatch):
    """Row 16: a domain whose folder exists but whose image list is refused, or which holds no
    images, is not "folder not found"; the refused list's content is not printed."""
    extra = ", image_list: ../../../../../../etc/passwd" if what != "empty domain" else ""
    text = imagefolder_task(tmp_path, "[a, b]", f"path: {tmp_path / 'user-data' / 'dom'}{extra}")
    if what == "empty domain":
        for image in (tmp_path / "user-data" / "dom").rglob("*.jpg"):
            image.unlink()
    monkeypatch.setenv("DABENCH_TASK_PATH", user_tasks(tmp_path, text)[1])
    out = CliRunner().invoke(app, ["data", "check", "toyimg-task", "--data-root",
                                   str(tmp_path / "user-data")])
    assert out.exit_code == 1, out.output
    assert "cannot be used" in out.stdout and "folder not found" not in out.stdout
    assert "root:" not in out.output


def test_raw_seq_whose_header_size_mismatches_is_one_error_also_from_workers(tmp_path):
    """Row 13: a raw .seq whose header image size is not width*height*3 is a DabenchError at
    the header (not numpy's "cannot reshape"), and a decode worker hands it back as one message
    (the loader raises it once in the main process)."""
    import struct as _struct

    import numpy as np

    from dabench.data.video.frame_features import SampledClips
    from dabench.data.video.norpix import read_seq_frames
    from dabench.errors import DabenchError
    from test_olympic_seq import write_raw_bgr

    frames = [np.zeros((48, 64, 3), np.uint8) for _ in range(3)]
    path = write_raw_bgr(tmp_path / "clip.seq", frames)
    blob = bytearray(path.read_bytes())
    _struct.pack_into("<I", blob, 548 + 16, 64 * 48 * 3 - 3 * 64)  # one row short
    path.write_bytes(bytes(blob))
    with pytest.raises(DabenchError, match=r"header image size 9024 bytes is not width x height "
                                           r"x channels = 64x48x3 = 9216"):
        read_seq_frames(path, [0])
    got = SampledClips([path], segments=2, frame_size=16)[0]  # what a worker returns
    assert isinstance(got, str) and "header image size 9024" in got


def test_more_decode_workers_than_cores_are_capped_with_one_line(caplog, monkeypatch):
    """Row 19: more decode workers than cores -> capped at the cores, said in one line (no raw
    DataLoader UserWarning, which the cap avoids)."""
    from dabench.data.video.frame_features import cap_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    with caplog.at_level("WARNING", logger="dabench"):
        assert cap_workers(64) == 2 and cap_workers(2) == 2 and cap_workers(0) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "64 video decode workers asked for, but 2 CPU cores are usable here; using 2"]


def test_leaderboard_prefers_the_tasks_own_settings_and_marks_other_ones(tmp_path):
    """Row 18 on the leaderboard: a steps=20 run and one with the task's own settings -> the row
    uses the latter; with only the steps=20 run, the row says so and has no Δ."""
    runs = tmp_path / "runs"
    task = "ucf-to-olympic"
    _fake_finished_run(runs, {"steps": 20}, 0.10, task)

    def board_row() -> dict:
        out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--view",
                                       "leaderboard", "--format", "json"])
        assert out.exit_code == 0, out.output
        (row,) = [r for r in json.loads(out.stdout) if r["benchmark"] == task]
        return row

    row = board_row()
    assert row["value"] == 10.0 and row["delta"] is None and "(steps=20)" in row["note"]
    _fake_finished_run(runs, {}, 0.75, task)
    row = board_row()
    assert row["value"] == 75.0 and row["delta"] == round(75.0 - row["published"], 4)
    assert "other settings" not in row["note"]


# -- issue 26 (Robustness III): the rows that need more than one command ----------------------

def _stub_bin(tmp: Path) -> Path:
    """A bin folder whose `dabench` records its argv (one NUL-terminated word each) and whose
    `scontrol` records that it ran; nothing else is on PATH but the shell's own tools."""
    folder = tmp / "stub-bin"
    folder.mkdir()
    (folder / "dabench").write_text('#!/bin/bash\nprintf "%s\\0" "$@" >> "$STUB_LOG"\n')
    (folder / "scontrol").write_text('#!/bin/bash\necho scontrol "$@" >> "$STUB_LOG.scontrol"\n')
    for stub in folder.iterdir():
        stub.chmod(0o755)
    return folder


def test_emitted_sbatch_script_runs_nothing_injected(tmp_path, monkeypatch):
    """Row 1: paths full of shell syntax reach the script's command line; run under bash with a
    stub `dabench`, the script passes each one as one argument and runs nothing else (no marker
    file appears). A newline in a value written into an #SBATCH line is refused and no script
    is written."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "INJECTED"
    hostile = f"d $(touch {marker}) `touch {marker}`; touch {marker} #\n'\"x"
    runs = tmp_path / f"r $(touch {marker});`touch {marker}`"
    script = tmp_path / "array.sbatch"
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--launcher", "slurm",
                                   "--emit-sbatch", str(script), "--runs-dir", str(runs),
                                   "--data-root", hostile, "--partition", "gpu", "--account",
                                   "lab-1", "--qos", "normal"])
    assert out.exit_code == 0, out.output
    text = script.read_text()
    directives = [l for l in text.splitlines() if l.startswith("#SBATCH")]
    assert "#SBATCH --partition=gpu" in directives and "#SBATCH --qos=normal" in directives
    log = tmp_path / "argv.log"
    env = {"PATH": f"{_stub_bin(tmp_path)}:/usr/bin:/bin", "STUB_LOG": str(log),
           "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_JOB_ID": "7", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    argv = log.read_text().split("\0")[:-1]
    assert argv[:2] == ["run", "mnist5k-to-mnistm5k"] and argv[-4:-2] == ["--shard", "1/2"] or \
        argv[-2:] == ["--shard", "1/2"], argv
    assert argv[argv.index("--data-root") + 1] == str((tmp_path / hostile).resolve())
    assert argv[argv.index("--runs-dir") + 1] == str(runs.resolve())
    # the same command with a newline in --partition: refused, no script, nothing ran
    script.unlink()
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--launcher", "slurm",
                                   "--emit-sbatch", str(script), "--runs-dir", str(runs),
                                   "--partition", f"gpu\ntouch {marker} #"])
    assert out.exit_code == 2 and "is not a Slurm name" in out.stderr
    assert not script.exists() and not marker.exists()


def _script_lines(value_of: dict[str, str]) -> list[str]:
    from dabench.runs.launch.slurm import SlurmOptions, sbatch_script

    opts = SlurmOptions(**value_of)
    return sbatch_script(["dabench", "run", "x"], [0, 1], 2, opts,
                         Path("/runs/.slurm")).splitlines()




def test_every_sbatch_option_value_is_one_quoted_directive_or_refused():
    """Property (derandomized): any --partition/--account/--qos value either appears on its own
    #SBATCH line, exactly as shlex.quote writes it, with every other line of the script
    unchanged, or is refused with a one-line DabenchError naming the option."""
    import shlex

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from dabench.errors import DabenchError

    plain = _script_lines({})
    chars = st.sampled_from(list("ab-_.,:+@=/ \t\n\r'\"$`;&|<>(){}[]#*?!~\\%^\x00\x0b\x1b") +
                            ["é", "\u2028", "\u0085", "gpu", "--x"])

    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(option=st.sampled_from(["partition", "account", "qos"]),
           value=st.lists(chars, min_size=0, max_size=8).map("".join) | st.text(max_size=12))
    def check(option, value):
        try:
            lines = _script_lines({option: value})
        except DabenchError as exc:
            message = str(exc)
            assert "\n" not in message and f"--{option} " in message
            return
        line = f"#SBATCH --{option}={shlex.quote(value)}"
        assert line in lines and "\n" not in line and value.isprintable()
        rest = [l for l in lines if l != line]
        assert rest == plain  # no other line appeared, changed or disappeared
        assert lines.index(line) < lines.index("")  # among the directives, before any command

    check()


def _vec_run(tmp: Path, monkeypatch, a: str, b: str) -> object:
    args = vectors_task(tmp, a, b)
    monkeypatch.setenv("DABENCH_TASK_PATH", args[1])
    return CliRunner().invoke(app, [*args[2:], "-m", "revgrad", "--runs-dir", str(tmp / "runs")])


def test_svmlight_source_and_csv_target_train_under_revgrad(tmp_path, monkeypatch):
    """Row 5: a sparse source and a dense target are a legitimate task; revgrad's joint batch
    (source and target rows together) trains instead of failing in batches.py."""
    from test_vectors import write as write_vectors

    (tmp_path / "tasks").mkdir()
    write_vectors(tmp_path / "tasks" / "a.svmlight", "svmlight")
    out = _vec_run(tmp_path, monkeypatch, "train: a.svmlight, test: a.svmlight, labels: [-1, 1]",
                   "train: b.csv, test: b.csv, labels: [-1, 1]")
    assert out.exit_code == 0, out.output
    (result,) = (tmp_path / "runs").glob("vec-a-to-b/revgrad/*/result.json")
    assert 0.0 <= json.loads(result.read_text())["target_acc_last"] <= 1.0


LOCKS = {"binary garbage": bytes(range(256)) * 2,
         "pid 10^23": b'{"host": "HOST", "pid": 100000000000000000000000}',
         "text garbage": b"not a lock at all", "empty": b"", "a JSON list": b"[1, 2]",
         "pid -1": b'{"host": "HOST", "pid": -1}'}


def _locked_folder(runs: Path, content: bytes) -> Path:
    """An unfinished run folder (config.json only) whose lock holds `content` (HOST: ours)."""
    import socket

    directory = runs / "mnist5k-to-mnistm5k" / "revgrad" / "0123456789ab"
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"task": "mnist5k-to-mnistm5k", "seed": 0}))
    (directory / "lock").write_bytes(content.replace(b"HOST", socket.gethostname().encode()))
    return directory


@pytest.mark.parametrize("content", list(LOCKS))
def test_damaged_lock_is_pending_in_status(content, tmp_path):
    """Rows 9 and 10: a lock of garbage, empty, a JSON list, a pid of 10^23 or -1 (this host's):
    `status` says pending with a damaged lock and when it will be taken over (not "running on
    None pid None", not a crash; pid -1 is not taken as alive)."""
    runs = tmp_path / "runs"
    _locked_folder(runs, LOCKS[content])
    out = CliRunner().invoke(app, ["status", "--runs-dir", str(runs)])
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    assert "1 pending" in out.stdout and "an unreadable (damaged) lock file" in out.stdout
    assert "s old: a run takes it over once it is 300 s old, or delete" in out.stdout
    assert "None" not in out.stdout and " on " not in out.stdout, out.stdout


def test_damaged_lock_is_skipped_while_fresh_and_taken_over_once_old(tmp_path, monkeypatch):
    """Row 9: `run` on a run whose lock is binary garbage: no crash; it is skipped while the
    lock is fresh (a damaged lock is judged by age only, like a dead host's) and taken over,
    the run trained, once it is old."""
    runs = tmp_path / "runs"
    sets = ["--set", "steps=2", "--set", "eval_every=2", "--seed", "0"]
    assert _toy_run(tmp_path, monkeypatch, runs, *sets).exit_code == 0
    (directory,) = list(store.iter_run_dirs(runs))
    (directory / "done").unlink()
    (directory / "result.json").unlink()
    (directory / "lock").write_bytes(LOCKS["binary garbage"])
    fresh = _toy_run(tmp_path, monkeypatch, runs, *sets)
    assert fresh.exit_code == 0 and "running elsewhere (an unreadable (damaged) lock" in \
        fresh.stderr and not store.is_done(directory), fresh.output
    old = time.time() - 600
    os.utime(directory / "lock", (old, old))
    again = _toy_run(tmp_path, monkeypatch, runs, *sets)
    assert again.exit_code == 0, again.output
    assert store.is_done(directory) and not (directory / "lock").exists()


def test_binary_config_json_of_an_unfinished_run_crashes_neither_status_nor_run(tmp_path,
                                                                               monkeypatch):
    """Row 9: config.json of binary garbage in an unfinished run: `status` and `run` go on
    (run rewrites it and trains)."""
    runs = tmp_path / "runs"
    sets = ["--set", "steps=2", "--set", "eval_every=2", "--seed", "0"]
    assert _toy_run(tmp_path, monkeypatch, runs, *sets).exit_code == 0
    (directory,) = list(store.iter_run_dirs(runs))
    (directory / "done").unlink()
    (directory / "config.json").write_bytes(bytes(range(256)))
    out = CliRunner().invoke(app, ["status", "--runs-dir", str(runs)])
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    again = _toy_run(tmp_path, monkeypatch, runs, *sets)
    assert again.exit_code == 0, again.output
    assert json.loads((directory / "config.json").read_text())["task"] == "toy-digits"


def test_trainer_whose_lock_was_taken_over_stops_without_writing(tmp_path, monkeypatch):
    """Row 21: another process takes the lock over (our heartbeat was judged stale) while we
    train: at its next checkpoint (or the next step once the heartbeat thread has seen it) the
    trainer stops with one line naming the new owner, writes no checkpoint or result, and
    leaves the new owner's lock."""
    from dabench.atomic import write_atomic

    real_append = store.append_jsonl
    foreign = json.dumps({"host": "other-host", "pid": 4242, "token": "theirs",
                          "heartbeat": time.time(), "started": time.time()})

    def append_then_lose(path, record, sync=True):
        real_append(path, record, sync)
        if record.get("step") == 2 and record.get("kind") == "train":
            write_atomic(Path(path).parent / "lock", foreign)  # the new owner's lock

    monkeypatch.setattr(store, "append_jsonl", append_then_lose)
    runs = tmp_path / "runs"
    out = _toy_run(tmp_path, monkeypatch, runs, "--set", "steps=40", "--set", "eval_every=4",
                   "--set", "checkpoint_every=4", "--set", "log_every=1", "--seed", "0")
    assert out.exit_code == 1, out.output
    assert out.stderr.count("\n") == 1 and "was taken over by host other-host pid 4242" in \
        out.stderr
    (directory,) = list(store.iter_run_dirs(runs))
    assert not (directory / "result.json").exists() and not (directory / "done").exists()
    assert json.loads((directory / "lock").read_text())["token"] == "theirs"
    assert not (directory / "checkpoint.pt").exists()  # the new owner's checkpoint is safe
    steps = [r["step"] for r in store.read_jsonl(directory / "metrics.jsonl") if "step" in r]
    assert max(steps) == 4  # stopped at its first checkpoint after the takeover


def test_source_equal_to_target_is_accepted_with_a_warning(tmp_path, monkeypatch, caplog):
    """Row 19: a task whose target is its source measures no adaptation: `tasks validate`
    says so next to "ok", `run` logs it once, and both still succeed."""
    folder = user_tasks(tmp_path, YAML_OK)[1]
    out = CliRunner().invoke(app, ["tasks", "validate", f"{folder}/toy.yaml"])
    assert out.exit_code == 0, out.output
    assert "warning: task 'toy-task': the source domain 's' is also a target" in out.stdout
    (tmp_path / "d").mkdir()  # toy-digits (written by _toy_run): source d, targets [d]
    with caplog.at_level("WARNING", logger="dabench"):
        run = _toy_run(tmp_path / "d", monkeypatch, tmp_path / "runs", "--set", "steps=1",
                       "--set", "eval_every=1")
    assert run.exit_code == 0, run.output
    assert [r.getMessage() for r in caplog.records if "also a target" in r.getMessage()] == [
        "warning: task 'toy-digits': the source domain 'd' is also a target, so its target "
        "accuracy measures no domain adaptation (at most a sanity check); give another target "
        "domain in its task file"]


def test_set_device_is_not_replaced_by_the_device_default(tmp_path):
    """Row 20: `--set device=cpu` without --device is kept (it was silently replaced by
    --device's default `auto`): the emitted script's command line carries it."""
    script = tmp_path / "a.sbatch"
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--set", "device=cpu",
                                   "--launcher", "slurm", "--emit-sbatch", str(script),
                                   "--runs-dir", str(tmp_path / "runs")])
    assert out.exit_code == 0, out.output
    assert "--device cpu" in script.read_text() and "--device auto" not in script.read_text()


def test_failed_download_leaves_no_folder_and_claims_no_warning_file(tmp_path):
    """Row 15: an archive that cannot be unpacked, with --no-verify: no empty dataset folder is
    left, and no line says UNVERIFIED-DOWNLOAD.txt was written."""
    (tmp_path / "x").mkdir()
    bad = tmp_path / "x" / "domain_adaptation_images.tar.gz"
    bad.write_bytes(b"<html>not an archive</html>" * 10)
    data = tmp_path / "data"
    data.mkdir()
    out = CliRunner().invoke(app, ["data", "download", "office31", "--data-root", str(data),
                                   "--from-file", str(bad), "--no-verify", "--quiet"])
    assert out.exit_code == 2, out.output
    assert "UNVERIFIED" not in out.output and "Traceback" not in out.output
    assert list(data.iterdir()) == []


def test_internal_error_is_one_line_exit_70_and_debug_shows_the_traceback(monkeypatch):
    """Row 22: a bug (here a ValueError from inside `report`) is not dressed as a user error:
    one line saying internal error and --debug, exit 70; `--debug` and DABENCH_DEBUG=1 print the
    traceback."""
    def bug(*args, **kwargs):
        raise ValueError("an index went wrong")

    monkeypatch.setattr("dabench.runs.store.runs_root", bug)
    out = CliRunner().invoke(app, ["report"])
    assert out.exit_code == 70
    assert out.stderr.strip().splitlines() == [
        "dabench: error: internal error in dabench 0.1.0 (ValueError: an index went wrong); "
        "this is a bug, not a mistake in your input: rerun with --debug (or DABENCH_DEBUG=1) "
        "to see the traceback, and report it"]
    for args, env in ((["--debug", "report"], {}), (["report"], {"DABENCH_DEBUG": "1"})):
        out = CliRunner().invoke(app, args, env=env)
        assert out.exit_code == 70 and "Traceback (most recent call last)" in out.stderr
        assert "in bug" in out.stderr and out.stderr.strip().endswith("and report it")


def test_debug_shows_the_cause_a_user_error_hides(tmp_path):
    """`--debug` on a user error: the one line as before, after the traceback with the cause
    hidden by `raise ... from None` (here int()'s ValueError behind "needs an integer")."""
    out = CliRunner().invoke(app, ["--debug", "run", "mnist5k-to-mnistm5k", "--set", "steps=many",
                                   "--runs-dir", str(tmp_path)])
    assert out.exit_code == 2
    assert "ValueError: invalid literal for int()" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("dabench: error: ")
    plain = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--set", "steps=many"])
    assert "Traceback" not in plain.stderr and len(plain.stderr.splitlines()) == 1


@pytest.mark.parametrize("module,expected,code", [
    ("matplotlib", "install the 'plots' extra: pip install 'dabench[plots]'", 3),
    ("submitit.helpers", "install the 'slurm' extra: pip install 'dabench[slurm]'", 3),
    ("yaml", "dependency 'pyyaml' (module 'yaml') is missing", 3),
    ("PIL", "pip install 'pillow'", 3),
    ("sklearn", "pip install 'scikit-learn'", 3),
    ("dabench.no_such_module", "internal error in dabench", 70),
    ("nonexistent_pkg", "internal error in dabench", 70)])
def test_missing_module_names_the_extra_or_is_an_internal_error(module, expected, code,
                                                                monkeypatch):
    """Row 22: a ModuleNotFoundError names the right pip command only for the optional extras
    (dabench/extras.py) and base dependencies (by distribution: pyyaml, not yaml); any other
    missing module is a bug in dabench, not something to install."""
    def missing(*args, **kwargs):
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)

    monkeypatch.setattr("dabench.runs.store.runs_root", missing)
    out = CliRunner().invoke(app, ["report"])
    assert out.exit_code == code and len(out.stderr.splitlines()) == 1
    assert expected in out.stderr and f"pip install {module}" not in out.stderr


def test_os_error_names_the_option_of_the_typed_command(tmp_path, monkeypatch):
    """Row 22 / 4 / 14: an OSError names the option whose path failed (or the environment
    variable standing for it), never --runs-dir for another command; unknown paths get no
    option."""
    from dabench.cli.app import option_for_path

    argv = ["data", "download", "office31", "--data-root", str(tmp_path / "d"), "--from-file",
            str(tmp_path / "f.zip")]
    assert option_for_path(str(tmp_path / "d" / "office31" / "x"), argv) == "--data-root"
    assert option_for_path(str(tmp_path / "f.zip"), argv) == "--from-file"
    assert option_for_path("/elsewhere/x", argv) is None
    monkeypatch.setenv("DABENCH_RUNS", str(tmp_path / "r"))
    assert option_for_path(str(tmp_path / "r" / "t" / "x.json"), ["status"]) == "$DABENCH_RUNS"
    assert option_for_path(str(tmp_path / "r" / "x"), ["status", "--runs-dir=/o"]) is None
    monkeypatch.delenv("DABENCH_RUNS")

    def denied(path, text):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("dabench.runs.store.write_atomic", denied)
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--runs-dir", str(tmp_path / "r2"),
                                   "--set", "steps=1"])
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1
    assert "(from --runs-dir): Permission denied" in out.stderr
    assert "choose another --runs-dir" in out.stderr
