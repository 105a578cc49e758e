"""Sharded feature extraction: `extract-features --shard i/N` writes only its own videos' cache
entries, `--verify` is the final completeness pass, `--launcher local` runs the shards as
processes and verifies."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from conftest import REPO
from test_video_tasks import count_extractions, tiny_task_file, tree  # noqa: F401 (fixture)


def app():
    from dabench import cli
    from dabench.cli import features as features_cli

    main = typer.Typer(cls=cli._Group)  # mounted as dabench.cli mounts it
    main.command("list-tasks")(lambda: None)
    main.add_typer(features_cli.app)
    return main


def base_args(tree, cache) -> list[str]:  # noqa: F811
    return ["extract-features", "tiny-video", "--data-root", str(tree), "--device", "cpu",
            "--workers", "0", "--batch-size", "4",
            "--set", "backbone.name=resnet18", "--set", "backbone.weights=none",
            "--set", "video.frame_size=16", "--set", f"video.cache_dir={cache}"]


def test_shards_write_their_own_videos_and_verify_checks_the_whole_cache(tree, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("DABENCH_TASK_PATH", str(tiny_task_file(tmp_path)))
    cache = tmp_path / "cache"
    args = base_args(tree, cache)
    calls = count_extractions(monkeypatch)
    files_before = set()
    for k in range(3):
        out = CliRunner().invoke(app(), [*args, "--shard", f"{k}/3"])
        assert out.exit_code == 0, out.output
        assert f"total: 10 videos, 0 cached, 10 extracted (shard {k}/3)" in out.output
        files = {p for p in cache.rglob("shard-*.pt")}
        assert len(files - files_before) == 2  # one new cache file per dataset, nothing rewritten
        files_before = files
        if k == 1:
            early = CliRunner().invoke(app(), [*args, "--verify"])
            assert early.exit_code == 1
            assert "10 video(s) have no cached features" in early.output
    assert sorted(calls) == [5] * 6  # every shard decoded only its 5 videos per dataset
    done = CliRunner().invoke(app(), [*args, "--verify"])
    assert done.exit_code == 0 and "feature cache complete" in done.output
    assert "15 of 15 videos cached" in done.output
    whole = CliRunner().invoke(app(), args)
    assert "total: 30 videos, 30 cached, 0 extracted" in whole.output and len(calls) == 6


@pytest.mark.slow
def test_local_launcher_runs_shards_as_processes_then_verifies(tree, tmp_path):  # noqa: F811
    cache = tmp_path / "cache"
    env = {**os.environ, "DABENCH_TASK_PATH": str(tiny_task_file(tmp_path)),
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "dabench", *base_args(tree, cache),
                          "--launcher", "local", "--shards", "2"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "2 run(s): 2 done" in out.stderr and "feature cache complete" in out.stdout
    logs = sorted(p.name for p in (cache / "logs").iterdir())
    assert logs == ["shard-0-of-2.log", "shard-1-of-2.log"]
    # 15 videos per dataset, sorted and dealt out: 8 to shard 0 and 7 to shard 1, per dataset
    assert "total: 14 videos, 0 cached, 14 extracted (shard 1/2)" in \
        (cache / "logs" / "shard-1-of-2.log").read_text()
