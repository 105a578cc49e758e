"""Sharded feature extraction: `extract-features --shard i/N` writes only its own videos' cache
entries, `--verify` is the final completeness pass, `--launcher local` runs the shards as
processes and verifies, `--launcher slurm` runs them as one job array (submitit against the fake
sbatch/sacct of tests/fake_slurm) and verifies, or writes a plain array script (golden file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert "2 shard(s): 2 done" in out.stderr and "feature cache complete" in out.stdout
    logs = sorted(p.name for p in (cache / "logs").iterdir())
    assert logs == ["shard-0-of-2.log", "shard-1-of-2.log"]
    # 15 videos per dataset, sorted and dealt out: 8 to shard 0 and 7 to shard 1, per dataset
    assert "total: 14 videos, 0 cached, 14 extracted (shard 1/2)" in \
        (cache / "logs" / "shard-1-of-2.log").read_text()


FAKE = Path(__file__).resolve().parent / "fake_slurm"
GOLDEN = Path(__file__).resolve().parent / "golden" / "emit-sbatch-features.sh"


@pytest.mark.parametrize("args,message", [
    (["--launcher", "slurm", "--shards", "2", "--shard", "0/2"],
     "--launcher slurm makes its own shards and verifies the cache after them; leave --shard"),
    (["--launcher", "local", "--verify"], "leave --verify out"),
    (["--verify", "--shard", "0/2"], "--verify checks the whole cache; leave --shard out"),
    (["--launcher", "slurm"], "--launcher slurm needs --shards N"),
    (["--shards", "3"], "--shards belongs to --launcher local or slurm"),
    (["--launcher", "local", "--max-parallel", "4"], "--max-parallel belongs to --launcher slurm"),
    (["--emit-sbatch", "x.sh", "--mem-gb", "8"],
     "--mem-gb, --emit-sbatch belong to --launcher slurm"),
    (["--launcher", "slurm", "--shards", "2", "--gpus", "0"],
     "--gpus and --jobs-per-gpu belong to --launcher local (on Slurm: --gpus-per-job)"),
    (["--launcher", "local", "--gpus", "0", "--shards", "2"], "leave --shards out"),
])
def test_bad_launcher_options_are_one_line_errors(tmp_path, args, message):
    out = CliRunner().invoke(app(), ["extract-features", "video", "--data-root", str(tmp_path),
                                     *args])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dabench: error: ") and message in lines[0]
    assert not list(tmp_path.iterdir())  # nothing written


def test_slurm_without_submitit_is_one_line_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import fails as if not installed
    out = CliRunner().invoke(app(), ["extract-features", "video", "--data-root", str(tmp_path),
                                     "--launcher", "slurm", "--shards", "2"])
    assert out.exit_code == 3
    assert out.stderr.strip().splitlines() == [
        "dabench: error: --launcher slurm needs the 'submitit' package; run: pip install "
        "'dabench[slurm]' (or write a plain script with --emit-sbatch FILE)"]


def test_emit_sbatch_matches_the_golden_script_and_leaves_complete_shards_out(tree, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("DABENCH_TASK_PATH", str(tiny_task_file(tmp_path)))
    cache = tmp_path / "cache"
    args = base_args(tree, cache)
    assert CliRunner().invoke(app(), [*args, "--shard", "1/4"]).exit_code == 0  # shard 1 done
    target = tmp_path / "features.sbatch"
    out = CliRunner().invoke(app(), [*args, "--launcher", "slurm", "--shards", "4",
                                     "--emit-sbatch", str(target), "--max-parallel", "2",
                                     "--gpus-per-job", "1", "--cpus-per-job", "8", "--mem-gb",
                                     "24", "--time-min", "90", "--partition", "gpu",
                                     "--account", "proj"])
    assert out.exit_code == 0, out.output
    assert f"wrote {target} (3 array task(s))" in out.stderr
    text = target.read_text().replace(str(cache.resolve()), "CACHE") \
        .replace(str(tree.resolve()), "DATA")
    if os.environ.get("DABENCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert "#SBATCH --array=0,2-3%2\n" in text  # shard 1 had nothing left to extract
    assert (cache / "logs" / "slurm").is_dir()  # sbatch needs the --output folder to exist
    assert not list((cache / "logs").glob("shard-*.log"))  # a script: nothing was run

    assert CliRunner().invoke(app(), args).exit_code == 0  # the rest: nothing left to script
    again = CliRunner().invoke(app(), [*args, "--launcher", "slurm", "--shards", "4",
                                       "--emit-sbatch", str(tmp_path / "none.sbatch")])
    assert again.exit_code == 2 and "every video has cached features already" in again.stderr
    assert not (tmp_path / "none.sbatch").exists()


def submitted(slurm_dir: Path, job: str) -> list[dict]:
    """The tickets submitit pickled for job `job`'s tasks (folders `<job>` or `<job>_<task>`)."""
    from submitit.core.utils import DelayedSubmission

    pickles = sorted(slurm_dir.glob(f"{job}*/*_submitted.pkl"))
    return [DelayedSubmission.load(p).args[0] for p in pickles]


@pytest.mark.slow
def test_slurm_launcher_runs_an_array_of_shards_names_the_failed_one_and_resumes(tree, tmp_path):
    pytest.importorskip("submitit")
    data = tmp_path / "data"
    shutil.copytree(tree, data)
    # The tiny task's UCF videos, sorted: 15 of them; GolfSwing g01 is the 7th (index 6), so it
    # belongs to shard 6 % 2 = 0. An empty file cannot be decoded: that shard fails.
    broken = data / "ucf101" / "UCF-101" / "GolfSwing" / "v_GolfSwing_g01_c01.avi"
    broken.write_bytes(b"")
    cache = tmp_path / "cache"
    fake = tmp_path / "slurm"
    env = {**os.environ, "PATH": f"{FAKE}{os.pathsep}{os.environ['PATH']}",
           "FAKE_SLURM": str(fake), "PYTHONPATH": str(REPO),
           "DABENCH_TASK_PATH": str(tiny_task_file(tmp_path))}
    args = [sys.executable, "-m", "dabench", *base_args(data, cache), "--launcher", "slurm",
            "--shards", "2", "--max-parallel", "2", "--cpus-per-job", "1", "--mem-gb", "2",
            "--time-min", "5", "--partition", "debug", "--qos", "high"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert "2 shard(s): 0 cached before, 2 to extract" in out.stderr
    assert "submitted Slurm array job 4242 (2 task(s))" in out.stderr
    script = (fake / "job-4242.sh").read_text()
    for flag in ("--array=0-1%2", "--cpus-per-task=1", "--mem=2GB", "--time=5",
                 "--partition=debug", "--qos=high", "--requeue", "--signal=USR2@120"):
        assert f"#SBATCH {flag}\n" in script, flag
    logs = cache / "logs"
    tickets = submitted(logs / "slurm", "4242")
    sets_ = base_args(data, cache)[10:]  # the --set options, cache_dir absolute already
    assert [t["argv"] for t in tickets] == [
        ["extract-features", "tiny-video", "--device", "cpu", "--batch-size", "4", "--workers",
         "0", *sets_, "--data-root", str(data.resolve()), "--shard", f"{k}/2"]
        for k in range(2)]  # one array task per shard, each its own --shard k/2
    # shard 1 holds videos 1, 3, ..., 13 of each dataset's 15: 7 + 7
    assert "total: 14 videos, 0 cached, 14 extracted (shard 1/2)" in \
        (logs / "shard-1-of-2.log").read_text()
    assert "2 shard(s): 1 done, 1 error" in out.stderr
    assert "ERROR: extract-features shard 0/2: cannot decode video" in out.stderr
    assert "file is empty" in (logs / "shard-0-of-2.log").read_text()
    assert "7 of 15 videos cached" in out.stdout  # the verify pass, per dataset
    assert out.stderr.strip().splitlines()[-1] == (
        "dabench: error: 1 of 2 shard(s) did not finish: 0/2 (see above; 16 video(s) not cached "
        "yet); run the same command again: what is cached is kept")

    shutil.copyfile(tree / broken.relative_to(data), broken)  # repaired: run the same again
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "2 shard(s): 1 cached before, 1 to extract" in again.stderr
    assert "submitted Slurm array job 4342 (1 task(s))" in again.stderr  # shard 0 alone
    assert [t["argv"][-1] for t in submitted(logs / "slurm", "4342")] == ["0/2"]
    assert "total: 16 videos, 0 cached, 16 extracted (shard 0/2)" in \
        (logs / "shard-0-of-2.log").read_text()
    assert "1 shard(s): 1 done" in again.stderr
    assert "feature cache complete" in again.stdout and "15 of 15 videos cached" in again.stdout
