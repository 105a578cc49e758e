"""Find, list and check Office-31 / Office-Home image folders on disk (no torch here).

Every label comes from an image's class FOLDER NAME looked up in the caller's class order (from
the task YAML). Integers found in files are never used as labels: three incompatible label
orders circulate for Office-Home (codepoint sort, thuml's lists, AMEAN's lists).

One module past ~300 lines on purpose: locating a domain, scanning it, reading image lists and
checking counts share the same class-order and error-message helpers, and `data check` (which
must stay torch-free) needs all of them together.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dabench.data.images.class_folders import (check_class_name, check_inside, class_folders,
                                               nfc)
from dabench.data.images.size_limit import quiet_bomb_warnings, too_large
from dabench.errors import DabenchError
from dabench.userfiles import limit_bytes, read_bounded

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
OFFICE31_URL = "https://faculty.cc.gatech.edu/~judy/domainadapt/"
OFFICEHOME_URL = "https://www.hemanthdv.org/officeHomeDataset.html"

# Where to get the data, keyed by lower-cased domain folder name (for the "not found" message).
_DOWNLOADS = {
    **dict.fromkeys(["amazon", "dslr", "webcam"],
                    f"the 'Office' archive domain_adaptation_images.tar.gz from {OFFICE31_URL}"),
    **dict.fromkeys(["art", "clipart", "product", "real_world", "real world"],
                    f"the Office-Home zip from {OFFICEHOME_URL}"),
}
_MAX_LISTED = 8  # longer name lists are cut to keep messages on one readable line


def class_index(classes: list[str]) -> dict[str, int]:
    """Class name -> label, in the caller's order; refuses empty or duplicated class lists."""
    if not classes:
        raise DabenchError("the class list is empty; fix: give the task's classes in its YAML")
    index: dict[str, int] = {}
    for i, name in enumerate(classes):
        check_class_name(name)
        if index.setdefault(name, i) != i:
            raise DabenchError(f"class '{name}' appears twice in the class list; "
                               "fix: list each class once")
    return index


def _quoted(names, limit: int = _MAX_LISTED) -> str:
    names = list(names)
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _candidates(dataset_dir: Path, name: str) -> list[tuple[Path, str]]:
    """Where a domain's class folders may sit, most specific first ("images" is no class name)."""
    return [
        (dataset_dir / name / "images", "tllib"),  # also the Office-31 archive extracted in place
        (dataset_dir / name, "flat"),
        (dataset_dir / "domain_adaptation_images" / name / "images", "office31-archive"),
        (dataset_dir / "OfficeHomeDataset_10072016" / name, "officehome-archive"),
    ]


def locate_domain(dataset_dir: Path, domain_folder_names: list[str]) -> tuple[Path, str]:
    """Return (directory whose children are the class folders, layout name) for one domain.

    `domain_folder_names` are alternatives tried in order, e.g. ["Real_World", "Real World"].
    """
    dataset_dir = Path(dataset_dir)
    for name in domain_folder_names:
        for path, layout in _candidates(dataset_dir, name):
            if path.is_dir():
                return path, layout
    raise DabenchError(_not_found_message(dataset_dir, list(domain_folder_names)))


def _squash(name: str) -> str:
    """Spelling-insensitive key: 'Real World', 'real_world' and 'RealWorld' all collide."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _not_found_message(dataset_dir: Path, names: list[str]) -> str:
    looked = ", ".join(str(p.relative_to(dataset_dir))
                       for p, _ in _candidates(dataset_dir, "<name>"))
    where = (f"domain folder {' or '.join(repr(n) for n in names)} not found under {dataset_dir} "
             f"(looked for {looked})")
    source = _DOWNLOADS.get(names[0].lower(), "the dataset")
    fix = (f"fix: put the images at {dataset_dir / names[0]}/<class>/*.jpg, "
           f"or extract {source} into {dataset_dir}")
    return f"{where}; {_found_instead(dataset_dir, names)}; {fix}"


def _found_instead(dataset_dir: Path, names: list[str]) -> str:
    """What is there instead: a near-miss spelling ('Webcam' for 'webcam') or the folder list."""
    if not dataset_dir.is_dir():
        return f"the folder {dataset_dir} does not exist"
    archives = ("domain_adaptation_images", "OfficeHomeDataset_10072016")
    parents = [p for p in [dataset_dir, *(dataset_dir / a for a in archives)] if p.is_dir()]
    seen = [p for parent in parents for p in sorted(parent.iterdir()) if p.is_dir()]
    wanted = {_squash(n) for n in names}
    near = [p.name for p in seen if _squash(p.name) in wanted]
    if near:
        return f"found wrong folder name {_quoted(near)} (rename it to '{names[0]}')"
    if seen:
        top = _quoted(p.name for p in seen if p.parent == dataset_dir)
        return f"found instead: {top or 'only archive folders'}"
    return "the folder has no sub-folders"


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted; hidden files (macOS '._x.jpg' junk) skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _files_by_class(domain_dir: Path, classes: list[str],
                    boundary: Path | None = None) -> dict[str, list[Path]]:
    """Images per class; folder names matched in NFC, links kept inside `boundary`."""
    class_index(classes)  # validate before touching the disk
    folders = class_folders(domain_dir)
    out = {}
    for name in classes:
        folder = folders.get(nfc(name))
        files = _image_files(folder) if folder is not None else []
        check_inside([folder, *files] if folder is not None else [], boundary, "class folder")
        out[name] = files
    return out


def scan_domain(domain_dir: Path, classes: list[str],
                boundary: Path | None = None) -> list[tuple[Path, int]]:
    """All (image, label) pairs under `domain_dir/<class>/`, sorted by path.

    Sorting by path (not by label) keeps the sample order identical whatever class order the
    task uses, so seeded shuffles pick the same images. Missing classes are tolerated here;
    `check_domain` reports them.
    """
    index = class_index(classes)
    by_class = _files_by_class(domain_dir, classes, boundary)
    items = [(p, index[name]) for name, files in by_class.items() for p in files]
    if not items:
        raise DabenchError(
            f"no images found in the class folders under {domain_dir} (expected e.g. "
            f"{Path(domain_dir) / classes[0]}/*.jpg); fix: check the dataset folder and layout"
        )
    return sorted(items, key=lambda item: item[0].as_posix())


MAX_LIST_MB = 64  # an image list names each image once: a few MB for the largest dataset


def read_image_list(list_file: Path, root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """Parse a Transfer-Learning-Library list (`<path relative to root> <label>` per line).

    The label is the image's parent folder name; the file's integer is only cross-checked so
    that one integer always goes with one folder (and back). Paths may contain spaces.
    """
    index = class_index(classes)
    list_file = Path(list_file)
    try:
        lines = read_bounded(list_file, "image list", limit_bytes(MAX_LIST_MB)).decode(
            "utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DabenchError(f"cannot read image list {list_file} ({exc}); "
                           "fix: check the image list path") from exc
    root_abs = Path(os.path.normpath(os.path.abspath(root)))
    items: list[tuple[Path, int]] = []
    folder_of: dict[int, str] = {}
    number_of: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{list_file}:{lineno}"
        path, number = _parse_line(line.strip(), where, root_abs)
        folder = path.parent.name
        if folder not in index:
            raise DabenchError(f"{where}: folder '{folder}' is not a class of this task; "
                               "fix: use a list made for this dataset")
        if folder_of.setdefault(number, folder) != folder:
            raise DabenchError(f"{where}: label {number} is given to folder '{folder}' but earlier "
                               f"to '{folder_of[number]}'; fix: regenerate the list")
        if number_of.setdefault(folder, number) != number:
            raise DabenchError(f"{where}: folder '{folder}' has label {number} but earlier "
                               f"{number_of[folder]}; fix: regenerate the list")
        items.append((path, index[folder]))
    _check_listed_files(items, list_file, root_abs)
    return items


def _parse_line(line: str, where: str, root_abs: Path) -> tuple[Path, int]:
    parts = line.rsplit(maxsplit=1)  # the label is the last token; the path keeps its spaces
    if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
        raise DabenchError(f"{where}: expected '<image path> <integer label>' (the line's "
                           "text is not repeated here); fix: correct the list")
    # Lexical check (normpath, not resolve) so symlinked data folders inside the root still work;
    # an absolute path replaces the root when joined, so it is caught here too.
    path = Path(os.path.normpath(root_abs / parts[0]))
    if not path.is_relative_to(root_abs) or path == root_abs:
        raise DabenchError(f"{where}: path '{parts[0]}' points outside the dataset folder "
                           f"{root_abs}; fix: use paths relative to it")
    return path, int(parts[1])


def _check_listed_files(items: list[tuple[Path, int]], list_file: Path, root_abs: Path) -> None:
    if not items:
        raise DabenchError(f"image list {list_file} has no entries; fix: regenerate the list")
    missing = [p for p, _ in items if not p.is_file()]
    if missing:
        raise DabenchError(
            f"{len(missing)} image(s) in {list_file} do not exist under {root_abs} "
            f"(first: {missing[0]}); "
            "fix: pass the folder the list's paths are relative to"
        )


def _decode_problem(path: Path) -> str | None:
    from PIL import Image  # lazy: keep `dabench list-tasks` light

    try:
        with Image.open(path) as image:
            problem = too_large(image)
            if problem:
                return problem
            image.convert("RGB")  # open() reads only the header; convert() decodes every pixel
    except Exception as exc:  # any decoder failure (OSError, SyntaxError, bomb, ...) = unreadable
        return f"{type(exc).__name__}: {exc}"
    return None


def verify_images(paths, workers: int = 8) -> list[tuple[Path, str]]:
    """(file, reason) for every image that does not fully decode; input order is kept."""
    quiet_bomb_warnings()  # before the threads: the size is checked by too_large()
    from PIL import ImageFile

    paths = [Path(p) for p in paths]
    strict = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must count as broken here
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # PIL decodes without the GIL
            reasons = list(pool.map(_decode_problem, paths))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = strict
    return [(p, r) for p, r in zip(paths, reasons) if r is not None]


@dataclass
class DomainCheck:
    """What `check_domain` found for one domain; `error` is set when the folder was not found."""

    name: str
    domain_dir: Path | None
    class_counts: dict[str, int]  # in the task's class order
    expected: int | None
    missing_classes: list[str]  # no folder, or a folder without images
    unexpected_folders: list[str]
    unreadable: list[tuple[Path, str]]
    verified: bool = False  # were images decoded, or only counted?
    layout: str | None = None
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.class_counts.values())

    @property
    def ok(self) -> bool:
        counts_ok = self.total > 0 and (self.expected is None or self.total == self.expected)
        problems = self.missing_classes or self.unexpected_folders or self.unreadable
        return self.error is None and counts_ok and not problems


def _display_name(domain_dir: Path) -> str:
    return domain_dir.parent.name if domain_dir.name == "images" else domain_dir.name


def check_domain(domain_dir: Path, classes: list[str], expected_count: int | None,
                 verify_images: bool = True, *, name: str | None = None,
                 layout: str | None = None, boundary: Path | None = None) -> DomainCheck:
    """Count images per class, list missing classes and stray folders, optionally decode all."""
    domain_dir = Path(domain_dir)
    if not domain_dir.is_dir():
        raise DabenchError(f"domain folder {domain_dir} does not exist; "
                           "fix: check the dataset path")
    files = _files_by_class(domain_dir, classes, boundary)
    known = {nfc(c) for c in classes}
    stray = sorted(p.name for name, p in class_folders(domain_dir).items() if name not in known)
    all_files = [p for paths in files.values() for p in paths]
    return DomainCheck(
        name=name or _display_name(domain_dir), domain_dir=domain_dir,
        class_counts={c: len(paths) for c, paths in files.items()}, expected=expected_count,
        missing_classes=[c for c, paths in files.items() if not paths], unexpected_folders=stray,
        unreadable=_verify(all_files) if verify_images else [], verified=verify_images,
        layout=layout,
    )


_verify = verify_images  # check_domain's flag shadows the function's name


def check_dataset(dataset_dir: Path, domains: dict[str, list[str]], classes: list[str],
                  expected: dict[str, int | None] | None = None,
                  verify_images: bool = True) -> list[DomainCheck]:
    """check_domain per domain (key -> alternative folder names); unfound ones carry `error`."""
    checks = []
    for key, folder_names in domains.items():
        count = (expected or {}).get(key)
        try:
            domain_dir, layout = locate_domain(dataset_dir, folder_names)
        except DabenchError as exc:
            checks.append(DomainCheck(key, None, {}, count, [], [], [], error=str(exc)))
            continue
        checks.append(check_domain(domain_dir, classes, count, verify_images,
                                   name=key, layout=layout))
    return checks


def format_check(checks: list[DomainCheck]) -> str:
    """Plain-text report, one header line per domain and indented detail lines for problems."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        head = f"{c.name:<{width}}  {'ok     ' if c.ok else 'PROBLEM'}"
        if c.error is not None:
            missing = "not found" in c.error or "does not exist" in c.error
            lines += [f"{head}  {'folder not found' if missing else 'cannot be used'}",
                      f"    {c.error}"]
            continue
        expected = "" if c.expected is None else f" (expected {c.expected})"
        present = len(c.class_counts) - len(c.missing_classes)
        decoded = "images decoded" if c.verified else "decoding skipped"
        lines.append(f"{head}  {c.total} images{expected}, {present}/{len(c.class_counts)} "
                     f"classes, {decoded}  [{c.layout or '?'}] {c.domain_dir}")
        if c.missing_classes:
            lines.append(f"    missing classes: {', '.join(c.missing_classes)}")
        if c.unexpected_folders:
            lines.append(f"    unexpected folders: {', '.join(c.unexpected_folders)}")
        if c.unreadable:
            lines.append(f"    unreadable images ({len(c.unreadable)}):")
            lines += [f"      {path}: {reason}" for path, reason in c.unreadable]
    bad = sum(not c.ok for c in checks)
    lines.append(f"{len(checks)} domain(s) checked, {bad} with problems" if bad
                 else f"all {len(checks)} domain(s) ok")
    return "\n".join(lines)
