"""`dabench data download` against a loopback HTTP server serving generated archives."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archive_factory import Server, make_tar, make_zip, sha256
from dabench.cli import app
from dabench.data.download import registry
from dabench.data.download.fetch import MirrorFailed, fetch
from dabench.data.download.install import MARKER, WARNING_FILE
from dabench.data.download.registry import load_sources, parse_sources
from dabench.tasks.catalog import load_catalog

runner = CliRunner()
PAYLOAD = bytes(range(256)) * 4000  # 1 MB: the body cut in half by 'drop-once'


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def office31_counts() -> dict[str, int]:
    """The complete domains' image counts, as the task file states them."""
    task = load_catalog().task("office31-a-to-dw")
    return {d.key: d.options["expected_images"] for d in (task.source, *task.targets)}


def office31_members(counts: dict[str, int]) -> dict[str, bytes]:
    """An Office-31 style archive: <domain>/images/<class>/frame_NNNN.jpg, spread over classes."""
    classes = list(load_catalog().task("office31-a-to-w").classes)
    jpeg = _jpeg()
    return {f"{d}/images/{classes[n % 31]}/frame_{n:04d}.jpg": jpeg
            for d, total in counts.items() for n in range(total)}


def one_source(urls: list[str], *, file: str = "data.zip", fmt: str = "zip", size=None,
               sha=None, md5=None, expect=("payload",), **extract) -> dict:
    return {"file": file, "format": fmt, "size": size, "sha256": sha, "md5": md5,
            "urls": [{"url": u, "from": "test"} for u in urls],
            "extract": {"expect": list(expect), **extract}}


def use_registry(monkeypatch, name: str, parts: dict[str, list[dict]], directory=None) -> None:
    """Replace the committed registry by one dataset whose mirrors are on the test server."""
    table = parse_sources({name: {"display": name.title(), "dir": directory or name,
                                  "check": name, "homepage": "https://example.org/home",
                                  "parts": {p: {"sources": s} for p, s in parts.items()}}})
    monkeypatch.setattr(registry, "load_sources", lambda: table)


def download(*args: str):
    return runner.invoke(app, ["data", "download", *args, "--quiet"])


# -- the committed registry -----------------------------------------------------------------------

def test_committed_registry_lists_every_dataset_with_provenance():
    table = load_sources()
    assert set(table) == {"office31", "officehome", "ucf101", "hmdb51", "olympic-sports", "mnist",
                          "usps", "svhn", "mnistm", "syndigits", "synsigns", "gtsrb"}
    raw = yaml.safe_load(registry.SOURCES_FILE.read_text())
    for name, entry in raw.items():
        for part in entry["parts"].values():
            for source in part["sources"]:
                assert source["hash_from"], (name, source["file"])
                for url in source["urls"]:
                    assert url["url"].startswith(("https://", "http://")) and url["from"]
                    assert url["verified"] is False  # nothing could be downloaded from here
    ucf = {s.file: s for p in table["ucf101"].parts for s in p.sources}
    assert ucf["UCF101TrainTestSplits-RecognitionTask.zip"].size == 113943
    assert ucf["UCF101.rar"].sha256.startswith("ca8dfadb")
    hmdb = {s.file: s for p in table["hmdb51"].parts for s in p.sources}
    assert hmdb["test_train_splits.rar"].md5 == "15e67781e70dcfbdce2d7dbb9b3344b5"
    assert hmdb["hmdb51_org.rar"].extract["nested"] == "*.rar"
    assert table["office31"].parts[0].sources[0].sha256 is None  # trusted on first use


def test_registry_rejects_malformed_hashes_and_formats():
    from dabench.errors import DabenchError

    bad = {"x": {"display": "X", "dir": "x", "check": "x",
                 "parts": {"p": {"sources": [one_source([], sha="abc")]}}}}
    with pytest.raises(DabenchError, match="sha256: expected 64"):
        parse_sources(bad)
    bad["x"]["parts"]["p"]["sources"] = [one_source([], fmt="7z")]
    with pytest.raises(DabenchError, match="'7z' is not one of"):
        parse_sources(bad)


def test_unknown_dataset_suggests_a_name():
    out = download("hmdb50")
    assert out.exit_code == 2
    assert "Did you mean 'hmdb51'?" in out.stderr and len(out.stderr.splitlines()) == 1


# -- mirrors, hashes, resume ----------------------------------------------------------------------

def test_404_and_corrupted_mirrors_fall_through_to_the_good_one(tmp_path):
    src_data = PAYLOAD
    with Server() as srv:
        srv.routes = {"/bad.bin": (src_data[:-1] + b"X", "ok"), "/good.bin": (src_data, "ok")}
        table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
            "p": {"sources": [one_source([f"{srv.url}/gone.bin", f"{srv.url}/bad.bin",
                                          f"{srv.url}/good.bin"], file="f.bin",
                                         size=len(src_data), sha=sha256(src_data))]}}}})
        res = fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None)
    assert res.url.endswith("/good.bin")
    assert (tmp_path / "f.bin").read_bytes() == src_data
    assert not (tmp_path / "f.bin.part").exists()
    assert "HTTP 404" in res.failures[0] and "sha256" in res.failures[1]
    assert srv.sent == {"/bad.bin": len(src_data), "/good.bin": len(src_data)}


def test_dropped_connection_is_resumed_not_restarted(tmp_path):
    with Server() as srv:
        srv.routes = {"/f.bin": (PAYLOAD, "drop-once")}
        table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
            "p": {"sources": [one_source([f"{srv.url}/f.bin"], file="f.bin",
                                         sha=sha256(PAYLOAD))]}}}})
        res = fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None)
    half = len(PAYLOAD) // 2
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert srv.ranges["/f.bin"] == [None, f"bytes={half}-"]  # second request asks for the rest
    assert srv.sent["/f.bin"] == len(PAYLOAD)  # half + half: nothing sent twice
    assert res.bytes_received == len(PAYLOAD)


def test_server_ignoring_range_gives_a_full_clean_download(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1000])  # left by an interrupted run
    with Server() as srv:
        srv.routes = {"/f.bin": (PAYLOAD, "ignore-range")}
        table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
            "p": {"sources": [one_source([f"{srv.url}/f.bin"], file="f.bin",
                                         size=len(PAYLOAD), sha=sha256(PAYLOAD))]}}}})
        res = fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None)
    assert srv.ranges["/f.bin"] == ["bytes=1000-"]  # asked, but got the whole file (200)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD  # not the old 1000 bytes + everything
    assert res.bytes_received == len(PAYLOAD)


def test_without_a_known_hash_bytes_of_two_mirrors_are_not_mixed(tmp_path):
    with Server() as srv:
        srv.routes = {"/a.bin": (PAYLOAD, "drop-once"), "/b.bin": (PAYLOAD, "ok")}
        table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
            "p": {"sources": [one_source([f"{srv.url}/a.bin", f"{srv.url}/b.bin"],
                                         file="f.bin")]}}}})
        res = fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None,
                    retries=1)
    assert res.url.endswith("/b.bin") and srv.ranges["/b.bin"] == [None]  # restarted at 0
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_all_mirrors_failing_is_one_line_with_urls_and_the_folder(tmp_path, monkeypatch):
    with Server() as srv:
        urls = [f"{srv.url}/a.zip", f"{srv.url}/b.zip"]
        use_registry(monkeypatch, "thing", {"files": [one_source(urls, sha="0" * 64)]})
        out = download("thing", "--data-root", str(tmp_path))
    assert out.exit_code == 1
    line = out.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("dabench: error: could not get")
    assert all(u in line for u in urls) and "HTTP 404" in line
    assert str(tmp_path / "downloads" / "data.zip") in line and "--from-file" in line
    assert not (tmp_path / "thing").exists()  # no dataset folder for a failed download


def test_missing_gdown_is_named(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_gdown(name, *args, **kwargs):
        if name == "gdown":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gdown)
    table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
        "p": {"sources": [one_source(["https://drive.google.com/file/d/XYZ/view"])]}}}})
    with pytest.raises(MirrorFailed, match=r"pip install 'dabench\[download\]'"):
        fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None)


def test_progress_bar_shows_size_and_speed(tmp_path, capsys):
    with Server() as srv:
        srv.routes = {"/f.bin": (PAYLOAD, "drop-once")}
        table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
            "p": {"sources": [one_source([f"{srv.url}/f.bin"], file="f.bin",
                                         sha=sha256(PAYLOAD))]}}}})
        fetch(table["d"].parts[0].sources[0], tmp_path, say=lambda m: None)
    err = capsys.readouterr().err
    assert "0.5/1.0 MB" in err  # the resumed attempt starts at the bytes already there
    # the speed column: a rate, or '?' when the transfer ended before rich could sample one
    assert re.search(r"1\.0/1\.0 MB (\?|[\d.]+ [kMG]?B/s) ", err)


def test_google_drive_quota_falls_through_to_the_next_mirror(tmp_path, monkeypatch):
    import sys
    import types

    calls = []

    def fake_download(url, output, quiet, resume):  # gdown 6's names (no `fuzzy` any more)
        assert resume and not Path(output).exists()
        calls.append(url)
        if "QUOTA" in url:
            return None  # what gdown returns when Drive refuses (quota, permission)
        Path(output).write_bytes(PAYLOAD)
        return output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=fake_download))
    urls = ["https://drive.google.com/file/d/QUOTA/view", "https://drive.google.com/file/d/OK/view"]
    table = parse_sources({"d": {"display": "D", "dir": "d", "check": "d", "parts": {
        "p": {"sources": [one_source(urls, file="f.bin", md5=hashlib.md5(PAYLOAD).hexdigest())]}}}})
    res = fetch(table["d"].parts[0].sources[0], tmp_path, quiet=True, say=lambda m: None)
    assert calls == urls and res.url == urls[1]
    assert "quota exceeded" in res.failures[0]
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


# -- the command: from download to data check -----------------------------------------------------

def office31_registry(monkeypatch, urls, sha=None):
    use_registry(monkeypatch, "office31", {"images": [one_source(
        urls, file="domain_adaptation_images.tar.gz", fmt="tar", sha=sha,
        expect=["amazon/images", "dslr/images", "webcam/images"])]})


def test_download_extract_and_data_check_verdict_incomplete(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "o31.tar.gz",
                       office31_members({"amazon": 40, "dslr": 31, "webcam": 31}))
    data = tmp_path / "data"
    with Server() as srv:
        srv.routes = {"/o31.tar.gz": (archive.read_bytes(), "ok")}
        office31_registry(monkeypatch, [f"{srv.url}/o31.tar.gz"])
        out = download("office31", "--data-root", str(data))
    assert out.exit_code == 1, out.output  # downloaded, but the counts are not the real ones
    full = office31_counts()["amazon"]
    assert re.search(rf"amazon\s+PROBLEM\s+40 images \(expected {full}\), 31/31 classes", out.stdout)
    assert "INCOMPLETE" in out.stdout and "found the problems above" in out.stdout
    marker = json.loads((data / "office31" / MARKER).read_text())
    assert marker["parts"]["images"]["sha256"] == sha256(archive.read_bytes())
    # Issue 26 row 13: an archive whose data fails `data check` does not become the reference
    # (trust on first use) that would then refuse the real archive.
    assert "domain_adaptation_images.tar.gz" not in marker.get("first_use", {})
    assert "is not kept as the reference (trust on first use)" in out.stdout
    lists = (data / "office31" / "image_list" / "amazon.txt").read_text().splitlines()
    assert len(lists) == 40 and lists[0] == "amazon/images/back_pack/frame_0000.jpg 0"
    # So another archive under the same name (the real one, here a different small one) is
    # taken and checked, not refused by the small one's hash.
    other = make_tar(tmp_path / "x" / "domain_adaptation_images.tar.gz",
                     office31_members({"amazon": 1, "dslr": 1, "webcam": 1}))
    out = download("office31", "--data-root", str(data), "--from-file", str(other))
    assert out.exit_code == 1 and "is none of the files" not in out.stderr, out.output
    assert re.search(r"amazon\s+PROBLEM\s+1 images", out.stdout)


@pytest.mark.slow
def test_download_of_a_complete_dataset_passes_data_check(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "o31.tar.gz",
                       office31_members(office31_counts()))
    data = tmp_path / "data"
    with Server() as srv:
        srv.routes = {"/o31.tar.gz": (archive.read_bytes(), "ok")}
        office31_registry(monkeypatch, [f"{srv.url}/o31.tar.gz"], sha=sha256(archive.read_bytes()))
        out = download("office31", "--data-root", str(data))
        assert out.exit_code == 0, out.output
        n = office31_counts()["dslr"]
        assert re.search(rf"dslr\s+ok\s+{n} images \(expected {n}\)", out.stdout)
        assert out.stdout.strip().endswith("Office31: downloaded and complete")
        # Again: nothing downloaded, nothing extracted.
        sent = dict(srv.sent)
        out = download("office31", "--data-root", str(data))
        assert out.exit_code == 0 and "already in place" in out.stdout and srv.sent == sent


def test_from_file_is_hash_checked_and_needs_no_network(tmp_path, monkeypatch):
    members = {"payload/a.txt": b"a", "payload/b.txt": b"b"}
    good = make_zip(tmp_path / "mine.zip", members)
    wrong = make_zip(tmp_path / "data.zip", {"payload/a.txt": b"tampered"})
    use_registry(monkeypatch, "thing", {"files": [one_source(
        ["http://127.0.0.1:9/none.zip"], sha=sha256(good.read_bytes()))]})
    data = tmp_path / "data"
    out = download("thing", "--data-root", str(data), "--from-file", str(wrong), "--no-check")
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1
    assert f"sha256 {sha256(wrong.read_bytes())}" in out.stderr and "is none of" in out.stderr
    assert not (data / "thing").exists()
    out = download("thing", "--data-root", str(data), "--from-file", str(good), "--no-check")
    assert out.exit_code == 0, out.output
    assert (data / "thing" / "payload" / "b.txt").read_bytes() == b"b"


def test_no_verify_uses_the_file_and_records_a_warning(tmp_path, monkeypatch):
    wrong = make_zip(tmp_path / "data.zip", {"payload/a.txt": b"tampered"})
    use_registry(monkeypatch, "thing", {"files": [one_source([], sha="1" * 64)]})
    out = download("thing", "--data-root", str(tmp_path / "data"), "--from-file", str(wrong),
                   "--no-verify", "--no-check")
    assert out.exit_code == 0, out.output
    assert "warning: --no-verify" in out.stderr and "NOT verified" in out.stdout
    warning = (tmp_path / "data" / "thing" / WARNING_FILE).read_text()
    assert "--no-verify" in warning and sha256(wrong.read_bytes()) in warning
    # A verified download replaces the unverified one and removes the warning.
    good = make_zip(tmp_path / "good" / "data.zip", {"payload/a.txt": b"genuine"})
    use_registry(monkeypatch, "thing", {"files": [one_source([], sha=sha256(good.read_bytes()))]})
    out = download("thing", "--data-root", str(tmp_path / "data"), "--from-file", str(good),
                   "--no-check")
    assert out.exit_code == 0, out.output
    assert (tmp_path / "data" / "thing" / "payload" / "a.txt").read_bytes() == b"genuine"
    assert not (tmp_path / "data" / "thing" / WARNING_FILE).exists()


def test_olympic_sports_comes_only_from_a_file_and_is_trusted_on_first_use(tmp_path):
    data = tmp_path / "data"
    out = download("olympic-sports", "--data-root", str(data))
    assert out.exit_code == 1 and len(out.stderr.splitlines()) == 1
    assert "vision.stanford.edu/Datasets/OlympicSports" in out.stderr
    assert "--from-file PATH" in out.stderr
    members = {"OlympicSports/train_test_split/train/bowling.txt": b"bowling_1\n",
               "OlympicSports/train_test_split/test/bowling.txt": b"bowling_2\n",
               "OlympicSports/bowling/bowling_1.seq": b"seq",
               "OlympicSports/bowling/bowling_2.seq": b"seq"}
    first = make_zip(tmp_path / "olympic.zip", members)
    out = download("olympic-sports", "--data-root", str(data), "--from-file", str(first),
                   "--no-check")
    assert out.exit_code == 0, out.output
    root = data / "olympic_sports"
    assert (root / "bowling" / "bowling_1.seq").exists()  # the wrapper folder is dropped
    assert (root / "train_test_split" / "test" / "bowling.txt").exists()
    marker = json.loads((root / MARKER).read_text())
    assert marker["first_use"]["*"]["sha256"] == sha256(first.read_bytes())
    other = make_zip(tmp_path / "other.zip", {**members, "OlympicSports/extra.txt": b"?"})
    out = download("olympic-sports", "--data-root", str(data), "--from-file", str(other))
    assert out.exit_code == 2 and "is none of the files of Olympic Sports" in out.stderr


def test_ctrl_c_says_how_to_resume(tmp_path, monkeypatch):
    from dabench.data.download import install

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(install, "install", interrupted)
    out = download("ucf101", "--data-root", str(tmp_path))
    assert out.exit_code == 130 and len(out.stderr.splitlines()) == 1
    assert f"dabench data download ucf101 --data-root {tmp_path}` again to resume" in out.stderr


def test_the_installed_gdown_accepts_our_call_and_writes_the_file(tmp_path):
    pytest.importorskip("gdown", reason="gdown is the optional [download] extra")
    from dabench.data.download.fetch import _gdrive

    with Server() as srv:  # gdown downloads plain URLs too: the call itself is what is tested
        srv.routes = {"/f.bin": (PAYLOAD, "ok")}
        _gdrive(f"{srv.url}/f.bin", tmp_path / "f.bin.part", quiet=True)
    assert (tmp_path / "f.bin.part").read_bytes() == PAYLOAD
