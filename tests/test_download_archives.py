"""Archive extraction for `dabench data download`: containment, RAR tools, crash safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archive_factory import make_rar, make_tar, make_zip, sha256
from dabench.cli import app
from dabench.data.download import archives, registry
from dabench.data.download.install import MARKER
from dabench.data.download.unpack import JOURNAL, PARTIAL, place
from dabench.data.download.registry import parse_sources
from dabench.errors import DabenchError

RAR_TOOLS = archives.available_rar_tools()
needs_rar = pytest.mark.skipif(
    not RAR_TOOLS, reason="no RAR extractor here (unar, bsdtar, unrar or libarchive-c); "
                          ".ci/run installs unar and libarchive-tools")
runner = CliRunner()


def source(expect=("payload",), fmt="auto", **extract):
    raw = {"d": {"display": "D", "dir": "d", "check": "d", "parts": {"p": {"sources": [
        {"file": "a", "format": fmt, "urls": [], "extract": {"expect": list(expect), **extract}}
    ]}}}}
    return parse_sources(raw)["d"].parts[0].sources[0]


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


# -- members that would land outside the target ---------------------------------------------------

@pytest.mark.parametrize("kind", ["zip", "tar", *[f"rar-{t}" for t in RAR_TOOLS]])
@pytest.mark.parametrize("name", ["../evil.txt", "payload/../../evil.txt", "/tmp/evil.txt"])
def test_members_escaping_the_target_are_refused(tmp_path, kind, name):
    members = {"payload/ok.txt": b"fine", name: b"bad"}
    if kind == "zip":
        archive = make_zip(tmp_path / "a.zip", members)
    elif kind == "tar":
        archive = make_tar(tmp_path / "a.tar.gz", members)
    else:
        archive = make_rar(tmp_path / "a.rar", members)
    dataset = tmp_path / "root" / "dataset"
    with pytest.raises(DabenchError, match="would land outside the target folder") as err:
        place(archive, source(), dataset, "p", ours=[],
              rar_tool=kind[4:] if kind.startswith("rar") else None, say=lambda m: None)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "root" / "evil.txt").exists()
    assert all_files(tmp_path / "root") == ["dataset"]  # no partial folder, nothing placed


def test_links_pointing_out_are_refused_and_links_inside_kept(tmp_path):
    bad = make_tar(tmp_path / "bad.tar.gz", {"payload/a.txt": b"a"},
                   links={"payload/passwd": "../../../etc/passwd"})
    with pytest.raises(DabenchError, match="link to ../../../etc/passwd"):
        place(bad, source(), tmp_path / "d1", "p", ours=[], say=lambda m: None)
    assert all_files(tmp_path / "d1") == []
    good = make_tar(tmp_path / "good.tar.gz", {"payload/a.txt": b"a"},
                    links={"payload/b.txt": "a.txt"})
    place(good, source(), tmp_path / "d2", "p", ours=[], say=lambda m: None)
    assert (tmp_path / "d2" / "payload" / "b.txt").read_bytes() == b"a"


@pytest.mark.parametrize("kind", ["tar", *[f"rar-{t}" for t in RAR_TOOLS]])
def test_members_stored_under_a_link_are_refused(tmp_path, kind):
    members = {"payload/a.txt": b"a", "payload/etc/cron.d/evil": b"bad"}
    links = {"payload/etc": "/etc"}
    archive = (make_tar(tmp_path / "a.tar.gz", members, links) if kind == "tar"
               else make_rar(tmp_path / "a.rar", members, links))
    with pytest.raises(DabenchError, match="stored under a link"):
        place(archive, source(), tmp_path / "d", "p", ours=[],
              rar_tool=kind[4:] if kind.startswith("rar") else None, say=lambda m: None)
    assert all_files(tmp_path / "d") == []


@needs_rar
@pytest.mark.parametrize("tool", RAR_TOOLS)
def test_rar_links_pointing_out_are_refused_and_inside_kept(tmp_path, tool):
    bad = make_rar(tmp_path / "bad.rar", {"payload/a.txt": b"a"},
                   links={"payload/passwd": "/etc/passwd"})
    with pytest.raises(DabenchError, match="would land outside the target folder"):
        place(bad, source(), tmp_path / "d1", "p", ours=[], rar_tool=tool, say=lambda m: None)
    assert all_files(tmp_path / "d1") == []
    good = make_rar(tmp_path / "good.rar", {"payload/a.txt": b"a"},
                    links={"payload/b.txt": "a.txt"})
    place(good, source(), tmp_path / "d2", "p", ours=[], rar_tool=tool, say=lambda m: None)
    assert (tmp_path / "d2" / "payload" / "b.txt").read_bytes() == b"a"


def test_a_web_page_saved_as_the_archive_is_named(tmp_path):
    page = tmp_path / "a.zip"
    page.write_bytes(b"<!DOCTYPE html><html>Google Drive - quota exceeded</html>")
    with pytest.raises(DabenchError, match="not a zip, tar or RAR archive"):
        place(page, source(fmt="zip"), tmp_path / "d", "p", ours=[], say=lambda m: None)


# -- RAR ------------------------------------------------------------------------------------------

@needs_rar
@pytest.mark.parametrize("tool", RAR_TOOLS)
def test_nested_rar_archives_are_unpacked_like_hmdb51(tmp_path, tool):
    inner = {"golf": make_rar(tmp_path / "golf.rar", {"golf": None, "golf/golf_v1 (x)&.avi": b"v"}),
             "climb": make_rar(tmp_path / "climb.rar", {"climb_v1 (x)&.avi": b"v"})}  # loose
    outer = make_rar(tmp_path / "hmdb51_org.rar",
                     {f"{c}.rar": p.read_bytes() for c, p in inner.items()})
    items = place(outer, source(expect=["golf", "climb"], fmt="rar", nested="*.rar"),
                  tmp_path / "hmdb51", "videos", ours=[], rar_tool=tool, say=lambda m: None)
    assert items == ["climb", "golf"]
    assert all_files(tmp_path / "hmdb51") == [
        "climb", "climb/climb_v1 (x)&.avi", "golf", "golf/golf_v1 (x)&.avi"]


def test_no_rar_extractor_is_one_line_naming_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "available_rar_tools", lambda: [])
    archive = make_rar(tmp_path / "a.rar", {"payload/x": b"x"})
    with pytest.raises(DabenchError) as err:
        place(archive, source(), tmp_path / "d", "p", ours=[], say=lambda m: None)
    message = str(err.value)
    assert "\n" not in message and "no RAR extractor" in message
    assert all(name in message for name in ("unar", "bsdtar", "unrar", "libarchive-c"))


# -- crash safety ---------------------------------------------------------------------------------

def test_interrupted_extraction_leaves_no_half_folder_and_a_rerun_completes(tmp_path,
                                                                            monkeypatch):
    archive = make_zip(tmp_path / "a.zip", {f"payload/{i}.txt": b"x" for i in range(20)})
    real = archives.extract

    def half_then_interrupt(path, dest, *args, **kwargs):
        real(path, dest, *args, **kwargs)  # files are on disk (in the temporary folder) ...
        assert len(list((dest / "payload").iterdir())) == 20
        raise KeyboardInterrupt  # ... when the user presses Ctrl-C

    monkeypatch.setattr(archives, "extract", half_then_interrupt)
    dataset = tmp_path / "dataset"
    with pytest.raises(KeyboardInterrupt):
        place(archive, source(), dataset, "p", ours=[], say=lambda m: None)
    assert all_files(dataset) == []
    monkeypatch.setattr(archives, "extract", real)
    # A killed process (no clean-up at all) leaves its temporary folder: the rerun removes it.
    (dataset / f"{PARTIAL}p" / "payload").mkdir(parents=True)
    (dataset / f"{PARTIAL}p" / "payload" / "junk").write_bytes(b"half")
    assert place(archive, source(), dataset, "p", ours=[], say=lambda m: None) == ["payload"]
    assert all_files(dataset) == ["payload", *[f"payload/{i}.txt" for i in sorted(
        range(20), key=str)]]


def test_a_run_killed_while_moving_is_completed_by_the_next(tmp_path):
    dataset = tmp_path / "dataset"
    tmp = dataset / f"{PARTIAL}p" / "wrapper"
    for name in ("a", "b", "c"):
        (tmp / name).mkdir(parents=True)
        (tmp / name / "f").write_bytes(name.encode())
    (tmp / "a").rename(dataset / "a")  # 'a' was moved before the process died
    (dataset / f"{JOURNAL}p.json").write_text(json.dumps({"root": "wrapper",
                                                          "items": ["a", "b", "c"]}))
    archive = make_zip(tmp_path / "unused.zip", {"payload/x": b"x"})
    assert place(archive, source(), dataset, "p", ours=[], say=lambda m: None) == ["a", "b", "c"]
    assert all_files(dataset) == ["a", "a/f", "b", "b/f", "c", "c/f"]


def test_existing_user_folders_are_never_overwritten(tmp_path):
    dataset = tmp_path / "dataset"
    (dataset / "payload").mkdir(parents=True)
    (dataset / "payload" / "mine.txt").write_bytes(b"keep")
    archive = make_zip(tmp_path / "a.zip", {"payload/x": b"x"})
    with pytest.raises(DabenchError, match="already exists and was not put there"):
        place(archive, source(), dataset, "p", ours=[], say=lambda m: None)
    assert all_files(dataset) == ["payload", "payload/mine.txt"]


def test_too_little_disk_space_is_said_before_unpacking(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from dabench.data.download import unpack

    archive = make_zip(tmp_path / "a.zip", {"payload/x": b"x" * 5000})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 4000, 4000))
    with pytest.raises(DabenchError, match=r"not enough disk space for unpacking a.zip: it "
                                           r"needs 0.00 GB and .* has 0.00 GB free") as err:
        place(archive, source(), tmp_path / "d", "p", ours=[], say=lambda m: None)
    assert unpack.unpacked_size(archive) == 5000 and "\n" not in str(err.value)
    assert not (tmp_path / "d").exists()


# -- recipes --------------------------------------------------------------------------------------

def test_flat_ucf_zip_is_grouped_by_class_with_the_official_spelling(tmp_path):
    archive = make_zip(tmp_path / "UCF101_videos.zip", {
        "UCF101/v_Biking_g01_c01.avi": b"1", "UCF101/v_HandstandPushups_g08_c02.avi": b"2",
        "UCF101/readme.txt": b"?"})
    spec = {"folder": "UCF101", "into": "UCF-101",
            "pattern": r"^v_(?P<cls>[A-Za-z]+)_g\d+_c\d+\.avi$",
            "file_renames": {"v_HandstandPushups_": "v_HandStandPushups_"}}
    place(archive, source(expect=["UCF-101"], group_by_class=spec), tmp_path / "ucf101", "p",
          ours=[], say=lambda m: None)
    assert "UCF-101/HandstandPushups/v_HandStandPushups_g08_c02.avi" in all_files(
        tmp_path / "ucf101")
    assert (tmp_path / "ucf101" / "UCF-101" / "Biking" / "v_Biking_g01_c01.avi").exists()


# -- HMDB51 from RAR files given with --from-file, to split files and the video check -------------

@needs_rar
def test_hmdb51_from_files_to_split_lists_and_data_check(tmp_path, monkeypatch):
    from dabench.tasks.catalog import builtin_task_dir

    classes = ["golf", "pullup", "ride_bike", "ride_horse", "shoot_ball"]
    names = {c: [f"{c}_clip_{k}.avi" for k in range(4)] for c in classes}
    (tmp_path / "in").mkdir()
    inner = {c: make_rar(tmp_path / "in" / f"{c}.rar", {f"{c}/{n}": b"avi" for n in names[c]})
             for c in classes}
    videos = make_rar(tmp_path / "hmdb51_org.rar",
                      {f"{c}.rar": p.read_bytes() for c, p in inner.items()})
    flags = ["1", "1", "2", "0"]  # two train, one test, one unused per class
    splits = make_rar(tmp_path / "test_train_splits.rar", {
        f"testTrainMulti_7030_splits/{c}_test_split1.txt":
            "".join(f"{n} {f} \r\n" for n, f in zip(names[c], flags)).encode()
        for c in classes})
    raw = yaml.safe_load((registry.SOURCES_FILE).read_text())["hmdb51"]
    raw["parts"]["videos"]["sources"][0].update(sha256=sha256(videos.read_bytes()))
    raw["parts"]["videos"]["sources"][0]["extract"]["expect"] = classes
    raw["parts"]["splits"]["sources"][0].update(sha256=sha256(splits.read_bytes()), md5=None)
    table = parse_sources({"hmdb51": raw})
    monkeypatch.setattr(registry, "load_sources", lambda: table)
    task = yaml.safe_load((builtin_task_dir() / "ucf_hmdbsmall.yaml").read_text())
    task["family"] = "tiny-hmdb"
    task["domains"]["hmdb"]["options"]["expected"] = {"train": 10, "test": 5}
    task["tasks"] = {f"tiny-{k}": v for k, v in task["tasks"].items()}
    task["suites"] = {}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(task))
    monkeypatch.setenv("DABENCH_TASK_PATH", str(tmp_path / "tiny.yaml"))
    data = tmp_path / "data"
    out = runner.invoke(app, ["data", "download", "hmdb51", "--data-root", str(data), "--quiet",
                              "--from-file", str(splits), "--from-file", str(videos)])
    assert "tiny-hmdb hmdb  ok" in out.stdout, out.output
    assert "train 10 videos, test 5 videos" in out.stdout
    assert out.exit_code == 1  # the built-in HMDB benchmarks need the real 51 classes
    assert "ucf-hmdbfull hmdb  PROBLEM" in out.stdout
    hmdb = data / "hmdb51"
    assert sorted(p.name for p in hmdb.iterdir() if not p.name.startswith(".")) == sorted(
        [*classes, "splits", "testTrainMulti_7030_splits"])
    assert not list(hmdb.glob("*.rar")) and not list(hmdb.glob(f"{PARTIAL}*"))
    train = (hmdb / "splits" / "tiny-hmdb" / "hmdb_train.txt").read_text().splitlines()
    assert len(train) == 10 and train[0] == "golf/golf_clip_0.avi 0"
    marker = json.loads((hmdb / MARKER).read_text())
    assert marker["parts"]["videos"]["sha256"] == sha256(videos.read_bytes())
    assert marker["parts"]["splits"]["items"] == ["testTrainMulti_7030_splits"]
