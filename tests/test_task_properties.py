"""Property tests: generated task files (YAML text and structures) and `--set` values thrown at
the parser end in a valid config or one `DabenchError` line, never another exception.

Derandomized with fixed example counts, so each run tries the same inputs in a few seconds.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dabench import config
from dabench.config import KEYS, parse_sets, resolve
from dabench.errors import DabenchError
from dabench.tasks.catalog import build_catalog, load_catalog, parse_task_file

SETTINGS = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
GOOD = {
    "family": "toy", "dataset": "Toy", "version": 1, "modality": "image", "classes": ["a", "b"],
    "domains": {"s": {"name": "S", "loader": "mnist5k", "options": {"test_size": 10}},
                "t": {"name": "T", "loader": "mnistm5k"}},
    "defaults": {"steps": 10, "optim.lr": 0.01, "recipe": "r"},
    "recipes": {"r": {"batch_size": 8}},
    "tasks": {"s-to-t": {"title": "S-to-T", "source": "s", "targets": ["t"], "config": {},
                         "published": [{"method": "revgrad", "value": 50.5, "source": "x"}]}},
    "suites": {"toy": ["s-to-t"]},
}
YAML_CHARS = st.sampled_from(list("ab1:-_ []{},&*!|>'\"#?.\n\t%@`~=") + ["  ", "\n  ", ": ",
                                                                         "- ", "\x00", "é"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=12) | st.sampled_from(["steps", "revgrad", "s", "t", "r", ".nan"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3),
                      max_leaves=8)


def expect_config_or_one_line(call):
    """Run `call`; a DabenchError must be one short line; anything else fails the test."""
    try:
        return call()
    except DabenchError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 2000, message
        return None


def resolve_all(path):
    """Parse a task file into a catalogue and resolve every task for each of its methods."""
    catalog = build_catalog([path])
    for spec in catalog.tasks.values():
        for method in spec.methods:
            cfg = resolve(spec, method, 0, {})
            # the class as of now: RunConfig is rebuilt when a method registers (an installed
            # plugin's, on first read of the registry), so a name imported earlier can be stale
            assert isinstance(cfg, config.RunConfig) and len(cfg.run_id()) == 12
    return catalog


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@SETTINGS
@given(text=st.lists(YAML_CHARS, max_size=120).map("".join))
def test_generated_yaml_text(folder, text):
    path = folder / "text.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    expect_config_or_one_line(lambda: resolve_all(path))


def _paths(obj, prefix=()):
    """Every (path) to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


@SETTINGS
@given(data=st.data())
def test_generated_task_structures(folder, data):
    body = copy.deepcopy(GOOD)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        where = data.draw(st.sampled_from(list(_paths(body))[1:]), label="path")
        parent = body
        for part in where[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        if action == "replace":
            parent[where[-1]] = data.draw(VALUES, label="value")
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8) | st.integers(), label="key")] = data.draw(VALUES)
        else:
            parent.append(data.draw(VALUES, label="item"))
        if not body:
            break
    path = folder / "structure.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True))
    expect_config_or_one_line(lambda: resolve_all(path))


def test_the_unmutated_structure_is_valid(folder):
    path = folder / "good.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    (spec,), _ = parse_task_file(path)
    assert resolve(spec, "revgrad", 0, {}).batch_size == 8


SET_KEYS = st.sampled_from([*KEYS, "recipe", "seed", "method", "nope", "", "optim..lr"]) | st.text(
    max_size=10)
SET_VALUES = (st.sampled_from(["nan", "inf", "-1", "0", "1e309", "true", "dann-adam", "tlib",
                               "x" * 5000, "1.5", "", "=", "none"])
              | st.text(max_size=20) | st.integers().map(str) | st.floats().map(repr))


@SETTINGS
@given(pairs=st.lists(st.tuples(SET_KEYS, SET_VALUES).map("=".join) | st.text(max_size=10),
                      max_size=4))
def test_generated_set_values(pairs):
    spec = load_catalog().task("mnist5k-to-mnistm5k")

    def parse_and_resolve():
        cfg = resolve(spec, "revgrad", 0, parse_sets(pairs))
        assert len(cfg.run_id()) == 12
        return cfg

    expect_config_or_one_line(parse_and_resolve)
