import pytest

from dabench.config import KEYS, RunConfig, coerce, parse_sets, resolve
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog


def task():
    return load_catalog().task("mnist-to-mnistm")


def test_typed_overrides():
    sets = parse_sets(["optim.lr=0.05", "steps=20", "optim.nesterov=true", "grl.schedule=constant"])
    assert sets == {"optim.lr": 0.05, "steps": 20, "optim.nesterov": True,
                    "grl.schedule": "constant"}
    cfg = resolve(task(), "revgrad", 3, sets)
    assert (cfg.optim.lr, cfg.steps, cfg.optim.nesterov, cfg.seed) == (0.05, 20, True, 3)


def test_precedence_defaults_task_set():
    assert RunConfig().backbone.name == "lenet" and RunConfig().steps == 1000
    cfg = resolve(task(), "revgrad", 0, {})
    assert cfg.steps == 3000 and cfg.optim.lr == 0.001  # from dabench/tasks/digits.yaml defaults
    assert (cfg.optim.name, cfg.model.domain_dropout, cfg.recipe) == ("adam", 0.5, "dann-adam")
    assert resolve(task(), "revgrad", 0, {"steps": 7}).steps == 7  # --set wins


@pytest.mark.parametrize("pair,message", [
    ("optim.lrr=1", "unknown setting 'optim.lrr'. Did you mean 'optim.lr'?"),
    ("steps=abc", "setting 'steps' needs an integer, got 'abc'"),
    ("steps=1.5", "needs an integer"),
    ("optim.nesterov=maybe", "needs a boolean"),
    ("grl.schedule=linear", "must be one of dann, constant"),
    ("optim.name=rmsprop", "must be one of sgd, adam"),
    ("optim.lr=-1", "must not be negative"),
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
