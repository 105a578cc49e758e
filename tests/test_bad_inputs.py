"""The catalogue of bad inputs, each through the real CLI (typer's CliRunner).

Every case must: exit non-zero; print exactly one line on stderr, starting `dabench: error:`,
that names the problem; print no traceback; and leave what was already in the runs folder
untouched (a finished run is present before and compared byte for byte after). The README's
"Bad input" table lists the same cases; the video cases live in tests/test_video_tasks.py.
"""

from __future__ import annotations

import errno
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
    return ["run", "mnist-to-mnistm", "-m", "source-only", "--set", "backbone.name=resnet18",
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
    "unknown method": (lambda t: ["run", "mnist-to-mnistm", "-m", "dann"], "unknown method"),
    "unknown recipe": (lambda t: ["run", "mnist-to-mnistm", "--set", "recipe=tlib"],
                       "unknown recipe 'tlib'"),
    "unknown option": (lambda t: ["run", "mnist-to-mnistm", "--colour", "red"],
                       "No such option: --colour"),
    "bad --set key": (lambda t: ["run", "mnist-to-mnistm", "--set", "optim.lrr=1"],
                      "Did you mean 'optim.lr'"),
    "bad --set type": (lambda t: ["run", "mnist-to-mnistm", "--set", "steps=many"],
                       "needs an integer"),
    "bad --set value": (lambda t: ["run", "mnist-to-mnistm", "--set", "grl.schedule=linear"],
                        "must be one of dann, constant"),
    "YAML syntax": (lambda t: case_task_yaml(t, YAML_OK + "  broken: [\n"), "YAML syntax error"),
    "YAML unknown key": (lambda t: case_task_yaml(t, YAML_OK + "colour: red\n"),
                         "unknown key 'colour'"),
    "YAML wrong type": (lambda t: case_task_yaml(t, YAML_OK.replace("version: 1", "version: x")),
                        "version: expected int"),
    "YAML duplicate name": (lambda t: case_task_yaml(
        t, YAML_OK.replace("toy-task:", "mnist-to-mnistm:")), "defined twice"),
    "unwritable runs folder": (lambda t: ["run", "mnist-to-mnistm", "--runs-dir",
                                          str(_file(t) / "runs")], "cannot write to the runs"),
    "weights file missing": (lambda t: case_weights(t, None), "does not exist"),
    "weights file corrupt": (lambda t: case_weights(t, b"not a torch file"), "is corrupt"),
    "CUDA without a GPU": (lambda t: ["run", "mnist-to-mnistm", "--device", "cuda"],
                           "no CUDA GPU"),
    "report on an empty folder": (lambda t: ["report", "--runs-dir", str(t / "empty")],
                                  "no finished runs"),
}


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
    "100 kB --set value": (lambda t: ["run", "mnist-to-mnistm", "--set", "optim.lr=" + "9x" * 50_000],
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
    out = CliRunner().invoke(app, ["run", "mnist-to-mnistm", "--runs-dir", str(runs),
                                   "--set", "steps=2"])
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and "No space left on device" in out.stderr
    assert snapshot(runs) == before


def test_catalogue_has_at_least_20_cases():
    assert len(CASES) + 1 >= 20
