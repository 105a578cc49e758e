"""--shard i/N slices the plan; tickets rebuild the same run in another process."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.runs.plan import from_ticket, parse_shard, plan_entries, shard
from dabench.tasks.catalog import load_catalog


def test_shards_partition_the_plan():
    entries = plan_entries(load_catalog(), ["digits"], [], [0, 1, 2], {"steps": 7})
    assert len(entries) == 12  # 2 tasks x 2 default methods x 3 seeds
    slices = [shard(entries, i, 5) for i in range(5)]
    ids = [e.cfg.run_id() for s in slices for e in s]
    assert sorted(ids) == sorted(e.cfg.run_id() for e in entries)  # each run in exactly one
    assert [len(s) for s in slices] == [3, 3, 2, 2, 2]
    assert shard(entries, 1, 5)[0] is entries[1] and shard(entries, 1, 5)[1] is entries[6]


@pytest.mark.parametrize("text", ["3", "3/3", "-1/4", "a/b", "1/0", ""])
def test_bad_shard_is_one_clear_error(text):
    with pytest.raises(DabenchError, match="must be i/N"):
        parse_shard(text)


def test_ticket_round_trip_and_drift():
    catalog = load_catalog()
    entry = plan_entries(catalog, ["mnist5k-to-mnistm5k"], ["revgrad"], [4],
                         {"steps": 9, "optim.lr": 0.002})[0]
    again = from_ticket(catalog, entry.ticket())
    assert again.cfg.run_id() == entry.cfg.run_id() and again.cfg.optim.lr == 0.002
    drifted = {**entry.ticket(), "overrides": {"steps": 10}}
    with pytest.raises(DabenchError, match="plan it again"):
        from_ticket(catalog, drifted)


@pytest.mark.parametrize("args,message", [
    (["--shard", "4/4"], "--shard '4/4' must be i/N"),
    (["--launcher", "local", "--gpus", "0,0"], "names a GPU twice"),
    (["--launcher", "local", "--gpus", "0,1", "--workers", "3"], "with --gpus, set runs per GPU"),
    (["--workers", "2"], "belong to --launcher local"),
    (["--launcher", "local", "--wait"], "--wait belongs to --launcher slurm"),
    (["--max-parallel", "3", "--qos", "high"], "--max-parallel, --qos belong to --launcher slurm"),
    (["--launcher", "local", "--force"], "--force works with the serial launcher only"),
    (["--launcher", "slurm", "--emit-sbatch", "x.sh", "--shard", "0/2"], "leave --shard out"),
])
def test_bad_launcher_options_are_one_line_errors_before_anything_runs(tmp_path, args, message):
    from typer.testing import CliRunner

    from dabench.cli import app

    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--runs-dir", str(tmp_path / "r"),
                                   *args])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dabench: error:") and message in lines[0]
    assert not list((tmp_path / "r").rglob("*.json"))  # nothing planned or trained
