"""Plugins from outside the package: a file (`--plugin`), an installed distribution (entry
points), the example package examples/dabench-dan; identity in the run id; broken plugins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dabench-dan"
TINY = ["--set", "steps=4", "--set", "batch_size=16", "--set", "eval_every=2",
        "--set", "log_every=2", "--set", "eval_batch_size=250",
        "--set", "proxy_a_distance_items=0"]

TOY = '''
from dataclasses import dataclass
from dabench.methods import Method, register_method

VERSION = {version}

@dataclass
class ToyConfig:
    alpha: float = 0.5

@register_method("toy", label="Toy method", order=30, config={{"toy": ToyConfig}})
class Toy(Method):
    """Source cross-entropy times alpha (a test method). https://example.org"""

    def loss(self, src, tgt, lam):
        import torch.nn.functional as F
        x, y = src
        return {{"cls": self.cfg.toy.alpha * F.cross_entropy(self.net(x), y)}}
'''


def dabench(*args: str, env: dict | None = None, cwd: Path | None = None):
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dabench", *args], capture_output=True,
                          text=True, env=full, cwd=cwd)


def fake_install(site: Path, dist: str, version: str, entry_points: str,
                 packages: dict[str, Path | str] = {}) -> dict:
    """A distribution as pip leaves it (dist-info with entry_points.txt) in folder `site`;
    returns the environment that puts `site` on the path."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, source in packages.items():
        if isinstance(source, Path):
            shutil.copytree(source, site / name)
        else:
            (site / f"{name}.py").write_text(source)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                         str(site)]))}


def run_ids(runs: Path, method: str) -> dict[str, str]:
    """run id -> the plugin identity its config.json records."""
    return {p.parent.name: json.loads(p.read_text())["config"]["plugins"]
            for p in runs.glob(f"*/{method}/*/config.json")}


@pytest.mark.slow
def test_two_versions_of_a_file_plugin_give_two_run_ids(tmp_path):
    plugin, runs = tmp_path / "toy.py", tmp_path / "runs"
    for version in (1, 2):
        plugin.write_text(TOY.format(version=version))
        done = dabench("run", "mnist5k-to-mnistm5k", "-m", "toy", "--plugin", str(plugin),
                       "--runs-dir", str(runs), *TINY)
        assert done.returncode == 0, done.stderr
    ids = run_ids(runs, "toy")
    assert len(ids) == 2, ids
    assert all(v.startswith("toy.py@sha256:") for v in ids.values()) and len(set(ids.values())) == 2
    for run_id, identity in ids.items():
        result = json.loads((runs / "mnist5k-to-mnistm5k" / "toy" / run_id / "result.json").read_text())
        assert result["config"]["plugins"] == identity and result["run_id"] == run_id
    # the same file again (through the environment variable): finished, skipped, no third id
    again = dabench("run", "mnist5k-to-mnistm5k", "-m", "toy", "--runs-dir", str(runs), *TINY,
                    env={"DABENCH_PLUGINS": str(plugin)})
    assert again.returncode == 0 and "skipped" in again.stderr and len(run_ids(runs, "toy")) == 2
    # its config section is a --set key; a report with the plugin labels the rows
    report = dabench("--plugin", str(plugin), "report", "--runs-dir", str(runs), "-f", "csv")
    assert report.returncode == 0 and "Toy method" in report.stdout, report.stderr


def test_a_file_plugin_method_gets_its_settings_and_label(tmp_path):
    plugin = tmp_path / "toy.py"
    plugin.write_text(TOY.format(version=1))
    bad = dabench("run", "mnist5k-to-mnistm5k", "-m", "toy", "--plugin", str(plugin),
                  "--set", "toy.alpa=2", "--runs-dir", str(tmp_path / "runs"))
    assert bad.returncode == 2 and "Did you mean 'toy.alpha'" in bad.stderr, bad.stderr
    code = ("import dabench.config as c, dabench.plugins as p, sys\n"
            f"p.load_files([{str(plugin)!r}])\n"
            "assert 'toy.alpha' in c.KEYS and c.parse_sets(['toy.alpha=2'])['toy.alpha'] == 2.0\n"
            "from dabench.methods import method_label; print(method_label('toy'))\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "Toy method", done.stderr
    # a sweep over the plugin's setting: one run each, the key recorded as swept
    code = ("import dabench\n"
            f"plan = dabench.plan('mnist5k-to-mnistm5k', 'toy', sweep=['toy.alpha=0.1,0.3'], "
            f"plugins=[{str(plugin)!r}])\n"
            "print(sorted((e.cfg.toy.alpha, e.cfg.sweep) for e in plan), "
            "len({e.cfg.run_id() for e in plan}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[(0.1, ('toy.alpha',)), (0.3, ('toy.alpha',))] 2", done.stderr


@pytest.mark.parametrize("source, says", [
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    (TOY.format(version=1).replace('"toy", label', '"revgrad", label'),
     "method 'revgrad' is already taken"),
    (TOY.format(version=1).replace("def loss(self, src, tgt, lam)", "def loss(self, batch)"),
     "must take (self, src, tgt, lam)"),
])
def test_a_broken_plugin_file_is_one_line(tmp_path, source, says):
    plugin = tmp_path / "broken.py"
    plugin.write_text(source)
    listed = dabench("--plugin", str(plugin), "list-tasks", "-f", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout)  # the command still works
    assert listed.stderr.count("\n") == 1 and listed.stderr.startswith(
        f"dabench: warning: plugin file {plugin}: ") and says in listed.stderr, listed.stderr
    run = dabench("run", "mnist5k-to-mnistm5k", "--plugin", str(plugin), "--runs-dir",
                  str(tmp_path / "runs"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and says in run.stderr
    assert run.stderr.startswith(f"dabench: error: plugin file {plugin}: ")
    assert not (tmp_path / "runs").exists()
    # a clash leaves the built-in as it was
    if "already taken" in says:
        code = ("import dabench.plugins as p; from dabench.methods import METHODS\n"
                f"p.load_files([{str(plugin)!r}]); print(METHODS.get('revgrad').__module__)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.strip() == "dabench.methods.revgrad", out.stderr


def test_a_missing_plugin_file_is_an_error(tmp_path):
    done = dabench("--plugin", str(tmp_path / "nope.py"), "list-tasks")
    assert done.returncode == 2 and "plugin file" in done.stderr and "does not exist" in \
        done.stderr and done.stderr.count("\n") == 1


def test_a_broken_entry_point_is_one_line_and_report_stays_torch_free(tmp_path):
    env = fake_install(tmp_path / "site", "broken-plugin", "1.0",
                       "[dabench.methods]\nbad = broken_plugin_mod\n",
                       {"broken_plugin_mod": "raise RuntimeError('boom at import')\n"})
    listed = dabench("list-tasks", "-f", "json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)
    assert listed.stderr == ("dabench: warning: plugin 'broken-plugin' (entry point "
                             "dabench.methods: bad = broken_plugin_mod): RuntimeError: boom at "
                             "import\n"), listed.stderr
    unknown = dabench("run", "mnist5k-to-mnistm5k", "-m", "bad", "--runs-dir", str(tmp_path / "r"),
                      env=env)
    assert unknown.returncode == 2 and "plugin 'broken-plugin'" in unknown.stderr
    code = ("import sys; from dabench.cli import app\n"
            f"sys.argv = ['dabench', 'report', '--runs-dir', {str(tmp_path / 'none')!r}]\n"
            "try: app()\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert "no finished runs" in done.stderr and "plugin 'broken-plugin'" in done.stderr


def test_a_plugin_task_folder_is_listed(tmp_path):
    folder = tmp_path / "site" / "my_tasks"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    text = (REPO / "tasks" / "digits.yaml").read_text()
    assert "mnist5k-to-mnistm5k:" in text
    # one of the built-in files under new names: a task family a plugin ships
    (folder / "mine.yaml").write_text(text.replace("mnist5k-to-mnistm5k", "my-mnist5k-to-mnistm5k")
                                      .replace("mnist-to-digits", "my-mnist-to-digits")
                                      .replace("suites:\n  digits:", "suites:\n  my-digits:"))
    env = fake_install(tmp_path / "site2", "my-tasks", "0.3", "[dabench.tasks]\nmine = my_tasks\n")
    env["PYTHONPATH"] += os.pathsep + str(tmp_path / "site")
    listed = dabench("list-tasks", "-f", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "my-mnist5k-to-mnistm5k" in {r["name"] for r in json.loads(listed.stdout)}


def _example_env(tmp_path: Path) -> dict:
    """The example plugin as installed: the real install when CI pip-installed it, else the
    same files as a distribution on the path."""
    try:
        metadata.distribution("dabench-dan")
        return {}
    except metadata.PackageNotFoundError:
        return fake_install(tmp_path / "site", "dabench-dan", "0.1.0",
                            "[dabench.methods]\ndan = dabench_dan\n",
                            {"dabench_dan": EXAMPLE / "dabench_dan"})


@pytest.mark.slow
def test_the_example_plugin_runs_beside_revgrad_in_one_report(tmp_path):
    env, runs = _example_env(tmp_path), tmp_path / "runs"
    done = dabench("run", "mnist5k-to-mnistm5k", "-m", "revgrad", "-m", "dan", "--runs-dir",
                   str(runs), *TINY, "--set", "mmd.weight=0.5", env=env)
    assert done.returncode == 0, done.stderr
    assert set(run_ids(runs, "dan").values()) == {"dabench-dan==0.1.0"}
    assert set(run_ids(runs, "revgrad").values()) == {""}  # runs without a plugin: no change
    metrics = [json.loads(line) for line in next(runs.glob("*/dan/*/metrics.jsonl")).open()]
    train = [m for m in metrics if m["kind"] == "train"]
    assert {"cls", "mmd", "mmd_logits"} <= set(train[0]) and train[0]["lambda"] == 0.5
    report = dabench("report", "--runs-dir", str(runs), "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)
    labels = [r["model"] for r in rows if r["benchmark"] == "mnist5k-to-mnistm5k"]
    assert any(m.startswith("RevGrad") for m in labels) and any(m.startswith("DAN") for m in labels)
    assert labels.index(next(m for m in labels if m.startswith("RevGrad"))) < labels.index(
        next(m for m in labels if m.startswith("DAN")))  # order 10 before 20


def test_mk_mmd_is_zero_for_one_sample_and_grows_with_a_shift():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(EXAMPLE))
    try:
        from dabench_dan import mk_mmd
    finally:
        sys.path.remove(str(EXAMPLE))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    assert abs(float(mk_mmd(x, x, 5, 2.0))) < 1e-6
    near = float(mk_mmd(x, torch.randn(64, 8, generator=g), 5, 2.0))
    far = float(mk_mmd(x, torch.randn(64, 8, generator=g) + 3, 5, 2.0))
    assert 0 <= near < far


@pytest.mark.slow
def test_launcher_workers_load_the_same_plugin_file(tmp_path):
    plugin, runs = tmp_path / "toy.py", tmp_path / "runs"
    plugin.write_text(TOY.format(version=1))
    done = dabench("run", "mnist5k-to-mnistm5k", "-m", "toy", "--plugin", str(plugin), "--runs-dir",
                   str(runs), *TINY, "--launcher", "local", "--workers", "1")
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.glob("mnist5k-to-mnistm5k/toy/*")
    assert (run_dir / "done").exists()
    assert json.loads((run_dir / "result.json").read_text())["config"]["plugins"].startswith(
        "toy.py@sha256:")


def test_a_slurm_script_passes_the_plugin_files_on(tmp_path):
    plugin, script = tmp_path / "toy.py", tmp_path / "job.sbatch"
    plugin.write_text(TOY.format(version=1))
    done = dabench("run", "mnist5k-to-mnistm5k", "-m", "toy", "--plugin", str(plugin), "--runs-dir",
                   str(tmp_path / "runs"), "--launcher", "slurm", "--emit-sbatch", str(script))
    assert done.returncode == 0, done.stderr
    assert f"--plugin {plugin}" in script.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("page", ["docs/plugins.md", "README.md"])
def test_the_docs_walkthrough_plugin_runs(tmp_path, page):
    """docs/plugins.md step 1 and 2 (and the README's short version), as a researcher would copy
    them."""
    text = (REPO / page).read_text()
    if page == "README.md":
        text = text.split("## Benchmark your own method", 1)[1]
    source = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert source.startswith("# my_method.py")
    (tmp_path / "my_method.py").write_text(source)
    done = dabench("run", "mnist5k-to-mnistm5k", "-m", "minent", "--plugin", "my_method.py",
                   "--set", "minent.weight=0.3", "--runs-dir", "runs", *TINY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (config,) = (tmp_path / "runs").glob("mnist5k-to-mnistm5k/minent/*/config.json")
    saved = json.loads(config.read_text())["config"]
    assert saved["minent.weight"] == 0.3 and saved["plugins"].startswith("my_method.py@sha256:")
    report = dabench("--plugin", "my_method.py", "report", "--runs-dir", "runs", "-f", "md",
                     cwd=tmp_path)
    assert report.returncode == 0 and "MinEnt" in report.stdout, report.stderr


def test_a_method_that_builds_its_own_heads_and_optimizers_resumes_exactly(tmp_path):
    """The hooks: an extra head and two optimizers (SGD with momentum: their state matters),
    interrupted after step 4 and resumed == one uninterrupted run; both optimizers are in the
    checkpoint."""
    import signal

    torch = pytest.importorskip("torch")
    from conftest import TINY as SETS
    from dabench.config import resolve
    from dabench.methods import METHODS, Method, register_method
    from dabench.tasks.catalog import load_catalog
    from dabench.training import loop as train

    class TwoHeads(Method):
        """Two classifiers on one feature extractor (a test of the hooks). https://example.org"""

        @classmethod
        def build_network(cls, num_classes, cfg, input_dim=None):
            net = super().build_network(num_classes, cfg, input_dim)
            net.domain_heads = torch.nn.ModuleDict()
            net.second = torch.nn.Linear(net.classifier[-1].in_features, num_classes)
            return net

        def build_optimizers(self):
            second = {id(p) for p in self.net.second.parameters()}
            rest = [p for p in self.net.parameters() if id(p) not in second]
            return {"main": self.make_optimizer([{"params": rest}]),
                    "second": self.make_optimizer([{"params": list(self.net.second.parameters())}],
                                                  lr=self.cfg.optim.lr / 2)}

        def loss(self, src, tgt, lam):
            import torch.nn.functional as F

            x, y = src
            hidden = self.net.classifier[:-1](self.net.embed(x))  # (B, H)
            return {"cls": F.cross_entropy(self.net(x), y),
                    "cls2": F.cross_entropy(self.net.second(hidden), y)}

    register_method("two-heads-test", label="Two heads", order=40)(TwoHeads)
    try:
        spec = load_catalog().task("mnist5k-to-mnistm5k")
        cfg = resolve(spec, "two-heads-test", 0, {**SETS, "optim.name": "sgd",
                                                  "optim.momentum": 0.9})
        reference = train.run(spec, cfg, tmp_path / "reference").record

        def interrupt(step, total, numbers):
            if step == 4:
                signal.raise_signal(signal.SIGINT)

        runs = tmp_path / "runs"
        with pytest.raises(KeyboardInterrupt):
            train.run(spec, cfg, runs, on_progress=interrupt)
        saved = torch.load(runs / "mnist5k-to-mnistm5k" / "two-heads-test" / cfg.run_id() /
                           "checkpoint.pt", weights_only=True)
        assert set(saved["optimizers"]) == {"main", "second"}
        assert saved["optimizers"]["second"]["param_groups"][0]["lr"] < \
            saved["optimizers"]["main"]["param_groups"][0]["lr"]
        assert any(k.startswith("second.") for k in saved["net"])
        resumed = train.run(spec, cfg, runs).record
        for key in ("target_acc_last", "source_acc_last", "target_acc_best"):
            assert resumed[key] == reference[key]
        assert resumed["config"]["plugins"] == "test_plugins==unversioned" or \
            resumed["config"]["plugins"].endswith("==unversioned")
    finally:
        METHODS.remove("two-heads-test")
