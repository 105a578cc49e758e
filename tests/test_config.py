import dataclasses

import pytest

from dabench.config import KEYS, RunConfig, coerce, parse_sets, resolve
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog


def task():
    return load_catalog().task("mnist5k-to-mnistm5k")


def test_typed_overrides():
    sets = parse_sets(["optim.lr=0.05", "steps=20", "optim.nesterov=true", "grl.schedule=constant"])
    assert sets == {"optim.lr": 0.05, "steps": 20, "optim.nesterov": True,
                    "grl.schedule": "constant"}
    cfg = resolve(task(), "revgrad", 3, sets)
    assert (cfg.optim.lr, cfg.steps, cfg.optim.nesterov, cfg.seed) == (0.05, 20, True, 3)


def test_precedence_defaults_task_set():
    assert RunConfig().backbone.name == "lenet" and RunConfig().steps == 1000
    cfg = resolve(task(), "revgrad", 0, {})
    flat, base = cfg.flat(), RunConfig().flat()
    assert {k: flat[k] for k in task().config} == task().config  # the task file's defaults apply
    assert {k for k, v in task().config.items() if base[k] != v} >= {"steps", "optim.lr"}
    assert resolve(task(), "revgrad", 0, {"steps": 7}).steps == 7  # --set wins


@pytest.mark.parametrize("pair,message", [
    ("optim.lrr=1", "unknown setting 'optim.lrr'. Did you mean 'optim.lr'?"),
    ("steps=abc", "setting 'steps' needs an integer, got 'abc'"),
    ("steps=1.5", "needs an integer"),
    ("optim.nesterov=maybe", "needs a boolean"),
    ("grl.schedule=linear", "must be one of dann, constant"),
    ("optim.name=rmsprop", "must be one of sgd, adam"),
    ("optim.lr=-1", "setting 'optim.lr' must be > 0, got -1"),
    ("optim.lr=0", "setting 'optim.lr' must be > 0, got 0"),
    ("optim.weight_decay=-0.5", "setting 'optim.weight_decay' must be >= 0, got -0.5"),
    ("steps=0", "setting 'steps' must be >= 1, got 0"),
    ("eval_every=0", "setting 'eval_every' must be >= 1"),
    ("log_every=0", "setting 'log_every' must be >= 1"),
    ("batch_size=0", "setting 'batch_size' must be >= 1"),
    ("model.domain_dropout=5", "setting 'model.domain_dropout' must be in [0, 1), got 5"),
    ("video.dropout=1", "setting 'video.dropout' must be in [0, 1), got 1"),
    ("optim.lr=nan", "setting 'optim.lr' must be a finite number, got nan"),
    ("optim.lr=inf", "must be a finite number, got inf"),
    ("optim.lr=1e309", "must be a finite number, got 1e309"),
    ("grl.gamma=-inf", "setting 'grl.gamma' must be a finite number"),
    ("steps", "not of the form key=value"),
    ("seed=3", "use --method / --seed"),
])
def test_bad_overrides(pair, message):
    with pytest.raises(DabenchError) as info:
        parse_sets([pair])
    assert message in str(info.value)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(DabenchError) as info:
        coerce("nope", 1)
    assert "Valid keys:" in str(info.value) and "optim.lr" in str(info.value)
    assert "grl.gamma" in KEYS


def test_unknown_recipe():
    with pytest.raises(DabenchError, match="unknown recipe 'tlib'"):
        resolve(task(), "revgrad", 0, {"recipe": "tlib"})


def test_run_id_is_a_hash_of_the_config_without_execution_keys():
    a = resolve(task(), "revgrad", 0, {})
    assert a.run_id() == resolve(task(), "revgrad", 0, {}).run_id()
    assert a.run_id() == resolve(task(), "revgrad", 0, {"device": "cpu"}).run_id()
    assert a.run_id() != resolve(task(), "revgrad", 1, {}).run_id()
    assert a.run_id() != resolve(task(), "revgrad", 0, {"optim.lr": 0.02}).run_id()
    assert len(a.run_id()) == 12


def test_ranges_accept_their_bounds_and_apply_to_task_files():
    ok = parse_sets(["steps=1", "model.domain_dropout=0", "optim.momentum=0.99", "optim.lr=1e-9"])
    assert ok == {"steps": 1, "model.domain_dropout": 0.0, "optim.momentum": 0.99,
                  "optim.lr": 1e-9}
    spec = task()
    bad = dataclasses.replace(spec, config={**spec.config, "eval_every": 0})
    with pytest.raises(DabenchError, match=r"task 'mnist5k-to-mnistm5k' .*'eval_every' must be >= 1"):
        resolve(bad, "revgrad", 0, {})


@pytest.mark.parametrize("seed", [-1, 2**32, True])
def test_seed_range(seed):
    with pytest.raises(DabenchError, match=r"seeds are integers from 0 to 4294967295"):
        resolve(task(), "revgrad", seed, {})
    assert resolve(task(), "revgrad", 2**32 - 1, {}).seed == 2**32 - 1


def test_long_values_are_cut_in_errors():
    with pytest.raises(DabenchError) as info:
        parse_sets(["steps=" + "x" * 100_000])
    assert len(str(info.value)) < 200 and "(100000 characters)" in str(info.value)
