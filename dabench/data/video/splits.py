"""Benchmark splits of the video tasks, rebuilt from the datasets' OFFICIAL split files.

Readers return `(train, test)` lists of `(relpath, dataset_class)`, relpath relative to the
dataset root with "/" separators; `apply_class_map` then keeps the classes a benchmark shares and
numbers them by the benchmark's class order. Pure functions: no torch, no globbing of video names
(HMDB51 names contain `( ) & ! # + [ ]`), no shell splitting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from dabench.errors import DabenchError
from dabench.userfiles import limit_bytes, read_bounded

Pair = tuple[str, str]  # (relpath, dataset class folder)
UCF_DIR = "ucfTrainTestlist"
HMDB_DIR = "testTrainMulti_7030_splits"
OLYMPIC_DIR = "train_test_split"
_LAST_TOKEN = re.compile(r"^(.*\S)[ \t]+(\S+)$")
MAX_SPLIT_MB = 16  # official split files are well under 1 MB (UCF101: 9,537 lines of about 40 bytes)


@dataclass(frozen=True)
class VideoItem:
    relpath: str      # e.g. "Biking/v_Biking_g08_c01.avi", relative to the dataset root
    label: int        # index in the benchmark's shared class order
    class_name: str   # the shared class name


def _locate(split_dir: Path, folder: str, probe: str) -> Path:
    """`split_dir/folder` if present, else `split_dir` itself when it already holds `probe`."""
    split_dir = Path(split_dir)
    if (split_dir / folder).is_dir():
        return split_dir / folder
    if (split_dir / probe).exists():
        return split_dir
    raise DabenchError(f"split folder {split_dir / folder} not found; unpack the official split "
                       f"files there (expected {split_dir / folder / probe})")


def _lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text) of the non-blank lines; CRLF or LF, surrounding blanks cut."""
    if not path.exists():
        raise DabenchError(f"split file {path} is missing; it should be in {path.parent} "
                           "(unpack the official split archive there)")
    try:  # a FIFO would block forever, /dev/zero never end: regular files of bounded size only
        raw = read_bounded(path, "split file", limit_bytes(MAX_SPLIT_MB))
    except PermissionError:
        raise DabenchError(f"split file {path} cannot be read (permission denied); make it "
                           "readable (chmod a+r)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # byte-for-byte, so names still match the files on disk
    return [(n, line.strip(" \t\r\n")) for n, line in enumerate(text.splitlines(), 1)
            if line.strip(" \t\r\n")]


def _split_last(line: str) -> tuple[str, str]:
    """("everything before the last blank run", "last token"); ("", line) without blanks."""
    match = _LAST_TOKEN.match(line)
    return (match.group(1), match.group(2)) if match else ("", line)


def _check_split(split: int) -> None:
    if split not in (1, 2, 3):
        raise DabenchError(f"split must be 1, 2 or 3, got {split}")


def read_ucf101_split(split_dir: Path, split: int = 1) -> tuple[list[Pair], list[Pair]]:
    """UCF101 `trainlist0N.txt` ("Class/v_Class_gXX_cYY.avi <id>") and `testlist0N.txt` (path)."""
    _check_split(split)
    root = _locate(split_dir, UCF_DIR, f"trainlist0{split}.txt")
    return (_ucf_list(root / f"trainlist0{split}.txt"),
            _ucf_list(root / f"testlist0{split}.txt"))


def _ucf_list(path: Path) -> list[Pair]:
    pairs = []
    for n, line in _lines(path):
        name, last = _split_last(line)
        relpath = name if name and last.isdigit() else line  # train lines end in an id
        folder, sep, file = relpath.partition("/")
        if not sep or not folder or not file or "/" in file:
            raise DabenchError(f"{path}, line {n}: expected 'Class/file.avi', got {line!r}; "
                               "is this the official UCF101 split file?")
        pairs.append((relpath, folder))
    return pairs


def read_hmdb51_split(split_dir: Path, split: int = 1) -> tuple[list[Pair], list[Pair]]:
    """HMDB51 `<class>_test_split<N>.txt`, lines "<file>.avi <id>": 1 train, 2 test, 0 unused."""
    _check_split(split)
    suffix = f"_test_split{split}.txt"
    root = Path(split_dir)
    root = root / HMDB_DIR if (root / HMDB_DIR).is_dir() else root
    files = sorted(p for p in root.iterdir() if p.name.endswith(suffix)) if root.is_dir() else []
    if not files:
        raise DabenchError(f"no HMDB51 split files '*{suffix}' in {root}; unpack "
                           f"test_train_splits.rar so that {Path(split_dir) / HMDB_DIR} holds "
                           f"'<class>{suffix}'")
    train: list[Pair] = []
    test: list[Pair] = []
    for path in files:
        cls = path.name[: -len(suffix)]
        for n, line in _lines(path):
            name, flag = _split_last(line)  # the last token is the id; the rest is the name
            if not name or flag not in ("0", "1", "2"):
                raise DabenchError(f"{path}, line {n}: expected '<file>.avi <0|1|2>', got "
                                   f"{line!r}; is this the official HMDB51 split file?")
            if flag != "0":
                (train if flag == "1" else test).append((f"{cls}/{name}", cls))
    return train, test


def read_olympic_split(split_dir: Path) -> tuple[list[Pair], list[Pair]]:
    """Olympic Sports `train_test_split/{train,test}/<class>.txt`, one video id per line.

    Lines are taken with or without a `.seq` suffix (and with or without a leading
    `<class>/`): which form the official files use could not be confirmed from public sources.
    """
    root = _locate(split_dir, OLYMPIC_DIR, "train")
    return _olympic_part(root / "train"), _olympic_part(root / "test")


def _olympic_part(folder: Path) -> list[Pair]:
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt") if folder.is_dir() else []
    if not files:
        raise DabenchError(f"no Olympic Sports split files '<class>.txt' in {folder}; unpack the "
                           "official train_test_split folder there")
    pairs = []
    for path in files:
        cls = path.stem
        for _, line in _lines(path):
            vid = line.rsplit("/", 1)[-1]
            vid = vid[:-4] if vid.lower().endswith(".seq") else vid
            pairs.append((f"{cls}/{vid}.seq", cls))
    return pairs


def apply_class_map(items: Iterable[Pair], class_map: Mapping[str, Sequence[str]],
                    class_order: Sequence[str], *, require_all: bool = True) -> list[VideoItem]:
    """Keep the items whose class folder is mapped; label = position of the shared class.

    class_map: shared class name -> dataset folder names (e.g. "climb" -> ["RockClimbingIndoor",
    "RopeClimbing"]). With `require_all`, a mapped folder that no item uses is an error (a typo in
    the task file would otherwise silently drop a class).
    """
    folder_to_shared = _invert(class_map, class_order)
    items = list(items)
    out = [VideoItem(rel, class_order.index(folder_to_shared[cls]), folder_to_shared[cls])
           for rel, cls in items if cls in folder_to_shared]
    if require_all:
        seen = {cls for _, cls in items}
        missing = sorted(set(folder_to_shared) - seen)
        if missing:
            raise DabenchError(f"class folders {missing} from the class map have no videos in the "
                               "split; check their spelling in the task file")
    return out


def _invert(class_map: Mapping[str, Sequence[str]], class_order: Sequence[str]) -> dict[str, str]:
    if sorted(class_map) != sorted(class_order) or len(set(class_order)) != len(class_order):
        raise DabenchError(f"class map names {sorted(class_map)} and class order "
                           f"{list(class_order)} must list the same classes once each")
    inverse: dict[str, str] = {}
    for shared, folders in class_map.items():
        if isinstance(folders, str):
            raise DabenchError(f"class map entry {shared!r} must be a list of folder names")
        for folder in folders:
            if folder in inverse:
                raise DabenchError(f"class folder {folder!r} is mapped to both "
                                   f"{inverse[folder]!r} and {shared!r}")
            inverse[folder] = shared
    return inverse
