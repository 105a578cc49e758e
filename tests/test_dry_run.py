"""`dabench run ... --dry-run [--format json]`: the plan with every resolved setting, no data
read, nothing written; and the recipes it shows (the reference code's settings, asserted
without training)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from dabench.cli import app

runner = CliRunner()


def dry(*args: str, fmt: str = "json"):
    out = runner.invoke(app, ["run", *args, "--dry-run", "--format", fmt])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if fmt == "json" else out.stdout


def test_dry_run_json_lists_every_planned_run_with_its_resolved_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default runs folder would be ./runs
    plan = dry("books-to-dvd", "--seeds", "0,1", "--sweep", "grl.weight=0.02,2.0",
               "-m", "revgrad", "--set", "steps=28", "--runs-dir", str(tmp_path / "r"))
    assert [(p["seed"], p["settings"]["grl.weight"]) for p in plan] == \
        [(0, 0.02), (0, 2.0), (1, 0.02), (1, 2.0)]
    first = plan[0]
    assert first["task"] == "books-to-dvd" and first["method"] == "revgrad"
    assert first["recipe"] == "paper" and first["sweep"] == {"grl.weight": 0.02}
    assert first["settings"]["steps"] == 28 and first["changed"]["steps"] == 28  # --set
    assert first["settings"]["optim.lr"] == 0.128  # the task file
    assert len({p["run_id"] for p in plan}) == 4
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()  # nothing written


def test_dry_run_run_ids_are_the_ids_a_run_writes(tmp_path):
    from dabench.config import resolve
    from dabench.tasks.catalog import load_catalog

    plan = dry("mnist5k-to-mnistm5k", "-m", "revgrad", "--set", "recipe=dann-adam")
    cfg = resolve(load_catalog().task("mnist5k-to-mnistm5k"), "revgrad", 0,
                  {"recipe": "dann-adam", "device": "auto"})
    assert plan[0]["run_id"] == cfg.run_id() and plan[0]["recipe"] == "dann-adam"


def test_dry_run_reads_no_data_and_honours_the_shard(tmp_path):
    # Office-31 is not on disk here: the plan is shown all the same
    plan = dry("office31", "--data-root", str(tmp_path / "absent"), "--shard", "1/4")
    full = dry("office31")
    assert [p["run_id"] for p in plan] == [p["run_id"] for p in full[1::4]]
    text = dry("office31-a-to-w", "-m", "revgrad", fmt="text")
    assert text.splitlines()[0] == "1 run(s) planned; nothing was run (--dry-run)"
    assert "office31-a-to-w revgrad seed 0 run " in text and "backbone.name = resnet50" in text


def test_format_without_dry_run_is_a_one_line_error():
    out = runner.invoke(app, ["run", "books-to-dvd", "--format", "json"])
    assert out.exit_code != 0 and "--format applies to --dry-run" in out.output


def test_cdan_recipe_is_the_cdan_release():
    """thuml/CDAN c904cd3: base lr 0.0003 for Office-31 A->D and D->W (train_image.py 259-261),
    0.001 otherwise; two forward passes; Xavier init, linear bottleneck; ten-crop test; fp32."""
    got = {}
    for task in ("office31-a-to-d", "office31-d-to-w", "office31-a-to-w", "officehome-ar-to-cl"):
        got[task] = dry(task, "-m", "revgrad", "--set", "recipe=cdan")[0]
    a_to_d = got["office31-a-to-d"]
    assert a_to_d["learning_rates"] == {"backbone": 0.0003, "new_layers": 0.003}
    assert got["office31-d-to-w"]["learning_rates"]["backbone"] == 0.0003
    assert got["office31-a-to-w"]["learning_rates"]["backbone"] == 0.001
    assert got["officehome-ar-to-cl"]["learning_rates"]["backbone"] == 0.001
    s = a_to_d["settings"]
    assert (s["model.forward"], s["test_crops"], s["amp"]) == ("per-domain", "ten", False)
    assert (s["model.init"], s["model.bottleneck_relu"]) == ("xavier", False)
    tllib = dry("office31-a-to-d", "-m", "revgrad", "--set", "recipe=tllib")[0]
    assert tllib["learning_rates"]["backbone"] == 0.001  # the per-task lr is cdan's only
    assert (tllib["settings"]["model.forward"], tllib["settings"]["test_crops"]) == \
        ("joint", "centre")


def test_ta3n_settings_apply_to_every_video_task():
    for task in ("ucf-to-hmdbsmall", "hmdbfull-to-ucf", "ucf-to-olympic"):
        s = dry(task, "-m", "revgrad")[0]["settings"]
        assert (s["model.domain_output"], s["optim.lr_update"]) == ("softmax", "after")
    s = dry("mnist5k-to-mnistm5k", "-m", "revgrad")[0]["settings"]
    assert (s["model.domain_output"], s["optim.lr_update"]) == ("logit", "before")


def test_dry_run_does_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from dabench.cli import app; "
            "r = CliRunner().invoke(app, ['run', 'books-to-dvd', '--dry-run']); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
