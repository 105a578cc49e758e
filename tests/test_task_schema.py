"""Task files: the pydantic schema, the safe YAML reader, `include:` and `dabench tasks ...`."""

import json
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dabench.cli import app
from dabench.config import resolve
from dabench.errors import DabenchError, clip
from dabench.tasks.catalog import build_catalog, builtin_task_dir, parse_task_file, task_files
from dabench.tasks.schema import task_file_schema

REPO = Path(__file__).resolve().parents[1]
GOOD = {
    "family": "toy", "dataset": "Toy", "version": 1, "modality": "image", "classes": ["a", "b"],
    "domains": {"s": {"name": "S", "loader": "mnist5k"}, "t": {"name": "T", "loader": "mnistm5k"}},
    "defaults": {"steps": 10},
    "tasks": {"s-to-t": {"title": "S-to-T", "source": "s", "targets": ["t"]}},
}


def write(folder: Path, body, name: str = "toy.yaml") -> Path:
    path = folder / name
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(DabenchError) as info:
        parse_task_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


# -- schema ------------------------------------------------------------------------------------

@pytest.mark.parametrize("change,message", [
    ({"tasks": {"../../escape": GOOD["tasks"]["s-to-t"]}}, "task name '../../escape' is not allowed"),
    ({"tasks": {"A/B": GOOD["tasks"]["s-to-t"]}}, "task name 'A/B' is not allowed"),
    ({"tasks": {123: GOOD["tasks"]["s-to-t"]}}, "tasks.123: the task name 123 must be text"),
    ({"suites": {"My Suite": ["s-to-t"]}}, "suite name 'My Suite' is not allowed"),
    ({"recipes": {"../r": {}}}, "recipe name '../r' is not allowed"),
    ({"methods": ["rev grad"]}, "methods[0]: the method name 'rev grad' is not allowed"),
    ({"methods": ["revgard"]}, "methods[0]: unknown method 'revgard'. Did you mean 'revgrad'?"),
    ({"defaults": {"seed": 7}}, "defaults: 'seed' cannot be set by a task file"),
    ({"defaults": {"method": "target-only"}}, "'method' cannot be set by a task file"),
    ({"defaults": {"stepz": 3}}, "unknown setting 'stepz'. Did you mean 'steps'?"),
    ({"defaults": {"steps": "many"}}, "setting 'steps' needs an integer"),
    ({"defaults": {"backbone.name": ["lenet"]}}, "setting 'backbone.name' needs one value"),
    ({"defaults": {"recipe": "nope"}}, "defaults.recipe: unknown recipe 'nope'"),
    ({"recipes": {"mine": {}}}, "the default 'dann-paper' is not among the file's recipes"),
    ({"version": "3"}, "version: expected int, got str '3'"),
    ({"version": 0}, "version: Input should be greater than or equal to 1"),
    ({"modality": "audio"}, "'audio' is not one of image, video"),
    ({"colour": "red"}, "top level: unknown key 'colour'"),
    ({"clases": ["a"]}, "unknown key 'clases'. Did you mean 'classes'?"),
])
def test_schema_errors_name_the_place_and_problem(tmp_path, change, message):
    body = {**GOOD, **change}
    if "tasks" in change or "recipes" in change and "defaults" not in change:
        body["defaults"] = {}
    assert message in error_of(write(tmp_path, body))


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_published_value_is_refused(tmp_path, value):
    text = yaml.safe_dump(GOOD).replace(
        "title: S-to-T", f"title: S-to-T\n    published: [{{method: revgrad, value: {value}, "
                         "source: x}]")
    assert "published[0].value: must be a finite number" in error_of(write(tmp_path, text))


def test_published_integer_value_becomes_a_float(tmp_path):
    body = {**GOOD, "tasks": {"s-to-t": {**GOOD["tasks"]["s-to-t"],
                                         "published": [{"method": "revgrad", "value": 76,
                                                        "source": "x"}]}}}
    (spec,), _ = parse_task_file(write(tmp_path, body))
    assert spec.published[0].value == 76.0 and isinstance(spec.published[0].value, float)


def test_schema_export_matches_the_committed_copy_and_forbids_extra_keys():
    schema = task_file_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"family", "dataset", "version", "modality", "classes",
                                       "domains", "tasks"}
    assert schema["properties"]["tasks"]["propertyNames"]["pattern"] == "^[a-z0-9][a-z0-9._-]*$"
    committed = json.loads((REPO / "docs" / "task-file.schema.json").read_text())
    assert committed == schema, "regenerate: dabench tasks schema > docs/task-file.schema.json"


# -- the YAML reader ---------------------------------------------------------------------------

def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("data,message", [
    (billion_laughs().encode(), "values once its aliases (*name) are expanded"),
    (b"a: &a [*a]\n", "recursive alias"),
    (b"[" * 100_000, "nested more than 50 levels deep"),
    ("family: café\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 11)"),
    (b"tasks:\n  t: {}\n  t: {}\n", "line 3: the key 't' appears twice in one mapping"),
    (b"a: 2020-13-45\n", "cannot read a value: month must be in 1..12"),
    (b"a: 1\n---\nb: 2\n", "expected a single document"),
    (b"a: \"\x00\"\n", "unacceptable character #x0000"),
])
def test_hostile_yaml_fails_fast_with_one_line(tmp_path, data, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    start = time.perf_counter()
    assert message in error_of(path)
    assert time.perf_counter() - start < 2.0


def test_aliases_within_the_cap_still_work(tmp_path):
    text = "notes: &n [shared]\n" + yaml.safe_dump(GOOD)
    text = text.replace("title: S-to-T", "title: S-to-T\n    notes: *n")
    (spec,), _ = parse_task_file(write(tmp_path, text))
    assert spec.notes == ("shared", "shared")


def test_clip_caps_echoed_values():
    assert clip("x" * 100_000) == "x" * 80 + "... (100000 characters)"
    assert clip("a\nb") == "a\\nb" and clip("short") == "short"


# -- include: ----------------------------------------------------------------------------------

def test_include_merges_mappings_and_replaces_other_values(tmp_path):
    write(tmp_path, {"defaults": {"steps": 5, "optim.lr": 0.5},
                     "recipes": {"dann-paper": {"grl.gamma": 3.0, "batch_size": 8}},
                     "notes": ["shared note"]}, "_shared.yaml")
    body = {**GOOD, "include": "_shared.yaml", "defaults": {"steps": 7},
            "recipes": {"dann-paper": {"batch_size": 16}}, "notes": ["own note"]}
    (spec,), _ = parse_task_file(write(tmp_path, body))
    assert spec.config == {"steps": 7, "optim.lr": 0.5}
    assert spec.recipes == {"dann-paper": {"grl.gamma": 3.0, "batch_size": 16}}
    assert spec.notes == ("own note",)


def test_include_errors(tmp_path):
    write(tmp_path, {**GOOD, "include": "toy2.yaml"}, "toy2.yaml")
    assert "must name a shared file" in error_of(write(tmp_path, {**GOOD, "include": "toy2.yaml"}))
    write(tmp_path, {"include": "_b.yaml"}, "_a.yaml")
    write(tmp_path, {"include": ["_a.yaml"]}, "_b.yaml")
    with pytest.raises(DabenchError, match="_a.yaml' includes itself"):
        parse_task_file(write(tmp_path, {**GOOD, "include": "_a.yaml"}))
    assert "was not found" in error_of(write(tmp_path, {**GOOD, "include": "_nope.yaml"}))
    write(tmp_path, {"defaults": {"seed": 1}}, "_seed.yaml")
    assert "'seed' cannot be set" in error_of(write(tmp_path, {**GOOD, "include": "_seed.yaml"}))


def test_user_file_can_include_a_builtin_shared_file(tmp_path):
    body = {**GOOD, "include": "_office.yaml", "defaults": {}}
    (spec,), _ = parse_task_file(write(tmp_path, body))
    assert set(spec.recipes) == {"dann-paper", "tllib", "cdan"}
    assert spec.config["backbone.name"] == "resnet50"
    assert resolve(spec, "revgrad", 0, {"recipe": "tllib"}).model.bottleneck_bn is True


def test_builtin_families_share_their_recipes_through_include():
    office = {name: yaml.safe_load((builtin_task_dir() / name).read_text())
              for name in ("office31.yaml", "officehome.yaml")}
    for raw in office.values():
        assert raw["include"] == "_office.yaml" and set(raw["recipes"]) == {"tllib"}
    for name in ("ucf_hmdbsmall.yaml", "ucf_hmdbfull.yaml", "ucf_olympic.yaml"):
        raw = yaml.safe_load((builtin_task_dir() / name).read_text())
        assert raw["include"] == "_ta3n.yaml" and "defaults" not in raw and "recipes" not in raw


# -- which files are task files ----------------------------------------------------------------

def test_shared_files_are_not_task_files_and_yml_is_read(tmp_path, monkeypatch):
    assert not [p for p in task_files() if p.name.startswith("_")]
    write(tmp_path, {"defaults": {"steps": 3}}, "_shared.yaml")
    write(tmp_path, {**GOOD, "include": "_shared.yaml"}, "toy.yml")
    files = task_files(str(tmp_path))
    assert [p.name for p in files if p.parent == tmp_path] == ["toy.yml"]
    assert build_catalog(files).task("s-to-t").config == {"steps": 10}
    with pytest.raises(DabenchError, match="neither a file nor a folder"):
        task_files("/dev/null")
    with pytest.raises(DabenchError, match="a shared file"):
        task_files(str(tmp_path / "_shared.yaml"))


def test_reserved_and_repeated_names(tmp_path):
    a = write(tmp_path, {**GOOD, "suites": {"leaderboard": ["s-to-t"]}})
    with pytest.raises(DabenchError, match="'leaderboard' is reserved"):
        build_catalog(task_files(str(a)))
    b = write(tmp_path, {**GOOD, "suites": {"digits": ["s-to-t"]}}, "b.yaml")
    with pytest.raises(DabenchError, match="suite name 'digits' is defined twice"):
        build_catalog(task_files(str(b)))
    alias = {**GOOD["tasks"]["s-to-t"], "aliases": ["digits"]}
    c = write(tmp_path, {**GOOD, "tasks": {"s-to-t": alias}}, "c.yaml")
    with pytest.raises(DabenchError, match="task name 'digits' is defined twice"):
        build_catalog([*task_files(), c])


# -- dabench tasks validate | schema | list ---------------------------------------------------

def test_tasks_validate_command(tmp_path):
    good, bad = write(tmp_path, GOOD), write(tmp_path, {**GOOD, "version": "x"}, "bad.yaml")
    out = CliRunner().invoke(app, ["tasks", "validate", str(good)])
    assert out.exit_code == 0 and f"{good}: ok, 1 task(s): s-to-t" in out.stdout
    out = CliRunner().invoke(app, ["tasks", "validate", str(good), str(bad)])
    assert out.exit_code == 2 and out.stderr.count("\n") == 1
    assert "bad.yaml: version: expected int" in out.stderr and "Traceback" not in out.output
    clash = write(tmp_path, {**GOOD, "tasks": {"mnist5k-to-mnistm5k": GOOD["tasks"]["s-to-t"]}},
                  "clash.yaml")
    out = CliRunner().invoke(app, ["tasks", "validate", str(clash)])
    assert out.exit_code == 2 and "'mnist5k-to-mnistm5k' is defined twice" in out.stderr
    builtin = sorted(str(p) for p in builtin_task_dir().glob("*.yaml"))
    out = CliRunner().invoke(app, ["tasks", "validate", *builtin])
    assert out.exit_code == 0 and out.stdout.count(": ok") == len(builtin)
    out = CliRunner().invoke(app, ["tasks", "validate", str(tmp_path / "nope.yaml")])
    assert out.exit_code == 2 and "does not exist" in out.stderr


def test_tasks_schema_and_list_commands():
    out = CliRunner().invoke(app, ["tasks", "schema"])
    assert out.exit_code == 0 and json.loads(out.stdout) == task_file_schema()
    out = CliRunner().invoke(app, ["tasks", "list", "--format", "json"])
    old = CliRunner().invoke(app, ["list-tasks", "--format", "json"])
    assert out.exit_code == 0 and out.stdout == old.stdout
    assert "mnist5k-to-mnistm5k" in {t["name"] for t in json.loads(out.stdout)}


def test_docs_task_file_example_is_valid(tmp_path):
    import re

    section = (REPO / "docs" / "task-files.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    (spec,), suites = parse_task_file(write(tmp_path, example))
    assert spec.name == "my-mnist-to-mnistm" and suites == {"my-digits": ("my-mnist-to-mnistm",)}
    assert resolve(spec, "revgrad", 0, {}).steps == 3000
