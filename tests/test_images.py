"""Image data layer: layouts, label mapping by name, image lists, checks, Dataset, blending.

Every tree is built in tmp_path from real (tiny) JPEGs written by Pillow.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from dabench.data.images.dataset import (
    OFFICE31_URL,
    OFFICEHOME_URL,
    ImageListDataset,
    build_transforms,
    check_dataset,
    check_domain,
    format_check,
    locate_domain,
    read_image_list,
    scan_domain,
    verify_images,
)
from dabench.errors import DabenchError

OFFICE31_CLASSES = (
    "back_pack bike bike_helmet bookcase bottle calculator desk_chair desk_lamp desktop_computer "
    "file_cabinet headphones keyboard laptop_computer letter_tray mobile_phone monitor mouse mug "
    "paper_notebook pen phone printer projector punchers ring_binder ruler scissors speaker stapler "
    "tape_dispenser trash_can"
).split()
OFFICEHOME_CLASSES = (
    "Alarm_Clock Backpack Batteries Bed Bike Bottle Bucket Calculator Calendar Candles Chair Clipboards "
    "Computer Couch Curtains Desk_Lamp Drill Eraser Exit_Sign Fan File_Cabinet Flipflops Flowers Folder "
    "Fork Glasses Hammer Helmet Kettle Keyboard Knives Lamp_Shade Laptop Marker Monitor Mop Mouse Mug "
    "Notebook Oven Pan Paper_Clip Pen Pencil Postit_Notes Printer Push_Pin Radio Refrigerator Ruler "
    "Scissors Screwdriver Shelf Sink Sneakers Soda Speaker Spoon TV Table Telephone ToothBrush Toys "
    "Trash_Can Webcam"
).split()
OFFICE31_DOMAINS = ["amazon", "dslr", "webcam"]
REAL_WORLD = ["Real_World", "Real World"]


# ---------------------------------------------------------------- helpers (tree builders)

def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (12, 10)) -> Path:
    """A real, decodable JPEG of one random colour."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3))).save(path, "JPEG")
    return path


def write_truncated_jpeg(path: Path) -> Path:
    """A noisy 64x64 JPEG cut to half its bytes: the header parses, the pixels do not."""
    noise = Image.frombytes("RGB", (64, 64), random.Random(7).randbytes(64 * 64 * 3))
    noise.save(path, "JPEG", quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def fill_domain(domain_dir: Path, classes: list[str], offset: int = 0) -> int:
    """Class i gets (i + offset) % 3 + 1 images; returns the number written."""
    total = 0
    for i, name in enumerate(classes):
        for j in range((i + offset) % 3 + 1):
            write_jpeg(domain_dir / name / f"frame_{j:04d}.jpg", seed=1000 * i + j + offset)
            total += 1
    return total


OFFICE31_LAYOUT_DIRS = {
    "office31-archive": lambda root, d: root / "domain_adaptation_images" / d / "images",
    "tllib": lambda root, d: root / d / "images",
    "flat": lambda root, d: root / d,
}


def make_office31(root: Path, layout: str) -> dict[str, int]:
    return {d: fill_domain(OFFICE31_LAYOUT_DIRS[layout](root, d), OFFICE31_CLASSES, k)
            for k, d in enumerate(OFFICE31_DOMAINS)}


# ---------------------------------------------------------------- locating and scanning

@pytest.mark.parametrize("layout", ["office31-archive", "tllib", "flat"])
def test_office31_layouts_are_located_scanned_and_checked(tmp_path, layout):
    counts = make_office31(tmp_path, layout)
    # 31 classes, i % 3 + 1 images: 11 classes x1, 10 x2, 10 x3 = 61 (offsets shift the pattern).
    assert counts == {"amazon": 61, "dslr": 62, "webcam": 63}
    for domain in OFFICE31_DOMAINS:
        found, found_layout = locate_domain(tmp_path, [domain])
        assert (found, found_layout) == (OFFICE31_LAYOUT_DIRS[layout](tmp_path, domain), layout)
        items = scan_domain(found, OFFICE31_CLASSES)
        assert len(items) == counts[domain]
        assert [p for p, _ in items] == sorted((p for p, _ in items), key=lambda p: p.as_posix())
        assert all(OFFICE31_CLASSES[label] == p.parent.name for p, label in items)
        check = check_domain(found, OFFICE31_CLASSES, counts[domain])
        assert check.ok and check.total == counts[domain] and check.unreadable == []
    amazon = scan_domain(locate_domain(tmp_path, ["amazon"])[0], OFFICE31_CLASSES)
    assert sum(label == OFFICE31_CLASSES.index("trash_can") for _, label in amazon) == 30 % 3 + 1 == 1
    assert sum(label == 1 for _, label in amazon) == 2  # bike


@pytest.mark.parametrize("nest", ["", "OfficeHomeDataset_10072016"])
def test_officehome_real_world_with_a_space_is_found(tmp_path, nest):
    domain_dir = tmp_path / nest / "Real World" if nest else tmp_path / "Real World"
    assert fill_domain(domain_dir, OFFICEHOME_CLASSES) == 22 * 1 + 22 * 2 + 21 * 3
    found, layout = locate_domain(tmp_path, REAL_WORLD)
    assert found == domain_dir
    assert layout == ("officehome-archive" if nest else "flat")
    assert len(scan_domain(found, OFFICEHOME_CLASSES)) == 129
    assert check_domain(found, OFFICEHOME_CLASSES, 129).ok


def test_labels_follow_the_given_class_order_not_codepoint_sort(tmp_path):
    fill_domain(tmp_path / "Art", OFFICEHOME_CLASSES)
    tv, table = tmp_path / "Art" / "TV", tmp_path / "Art" / "Table"

    def label_of(items, folder):
        return {label for p, label in items if p.parent == folder}

    given = scan_domain(tmp_path / "Art", OFFICEHOME_CLASSES)  # codepoint order: TV before Table
    assert label_of(given, tv) == {58} and label_of(given, table) == {59}
    case_insensitive = sorted(OFFICEHOME_CLASSES, key=str.lower)  # Table ... Trash_Can, TV
    other = scan_domain(tmp_path / "Art", case_insensitive)
    assert label_of(other, table) == {58} and label_of(other, tv) == {63}
    assert [p for p, _ in other] == [p for p, _ in given]  # same samples, only labels differ


def test_scan_skips_hidden_and_non_images_and_ignores_suffix_case(tmp_path):
    folder = tmp_path / "dslr" / "mug"
    write_jpeg(folder / "b.JPG", 1)
    Image.new("RGB", (5, 5), (1, 2, 3)).save(folder / "a.png")
    (folder / "._b.JPG").write_bytes(b"\x00\x05\x16\x07 AppleDouble junk")
    (folder / "notes.txt").write_text("not an image")
    items = scan_domain(tmp_path / "dslr", OFFICE31_CLASSES)
    assert [(p.name, label) for p, label in items] == [("a.png", 17), ("b.JPG", 17)]


def test_scan_of_an_empty_domain_and_duplicate_classes_are_errors(tmp_path):
    (tmp_path / "dslr").mkdir()
    with pytest.raises(DabenchError, match="no images found"):
        scan_domain(tmp_path / "dslr", OFFICE31_CLASSES)
    with pytest.raises(DabenchError, match="'mug' appears twice"):
        scan_domain(tmp_path / "dslr", ["mug", "pen", "mug"])


def test_missing_domain_message_names_wrong_folder_and_download(tmp_path):
    write_jpeg(tmp_path / "Webcam" / "mug" / "x.jpg", 1)
    with pytest.raises(DabenchError) as err:
        locate_domain(tmp_path, ["webcam"])
    msg = str(err.value)
    assert "wrong folder name 'Webcam'" in msg and "rename it to 'webcam'" in msg
    assert "domain_adaptation_images/<name>/images" in msg and OFFICE31_URL in msg
    assert "\n" not in msg
    (tmp_path / "Art").mkdir()
    with pytest.raises(DabenchError, match=r"found instead: 'Art', 'Webcam'.*hemanthdv"):
        locate_domain(tmp_path, REAL_WORLD)
    with pytest.raises(DabenchError, match="does not exist"):
        locate_domain(tmp_path / "nowhere", ["amazon"])


# ---------------------------------------------------------------- image lists

def make_real_world_list(tmp_path: Path, order: list[str]) -> tuple[Path, Path]:
    root = tmp_path / "office-home"
    fill_domain(root / "Real World", OFFICEHOME_CLASSES)
    lines = [
        f"{p.relative_to(root).as_posix()} {order.index(p.parent.name)}"
        for p, _ in scan_domain(root / "Real World", OFFICEHOME_CLASSES)
    ]
    list_file = root / "image_list" / "Real_World.txt"
    list_file.parent.mkdir()
    list_file.write_text("\n".join(lines) + "\n\n")
    return list_file, root


def test_image_list_in_another_label_order_maps_by_folder_name(tmp_path):
    head = ["Drill", "Exit_Sign", "Bottle"]  # thuml-like numbering: Drill=0, Exit_Sign=1, Bottle=2
    thuml = head + [c for c in OFFICEHOME_CLASSES if c not in head]
    list_file, root = make_real_world_list(tmp_path, thuml)
    assert list_file.read_text().startswith("Real World/Alarm_Clock/frame_0000.jpg 3\n")
    items = read_image_list(list_file, root, OFFICEHOME_CLASSES)
    assert len(items) == 129
    assert all(" " in str(p) and p.is_file() for p, _ in items)
    by_folder = {p.parent.name: label for p, label in items}
    got = [by_folder[c] for c in ("Drill", "Exit_Sign", "Bottle", "Alarm_Clock", "TV", "Webcam")]
    assert got == [16, 18, 5, 0, 58, 64]
    assert sorted(items) == sorted(scan_domain(root / "Real World", OFFICEHOME_CLASSES))


def write_list(tmp_path: Path, lines: list[str]) -> Path:
    list_file = tmp_path / "list.txt"
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


def test_image_list_with_inconsistent_numbers_is_rejected(tmp_path):
    a = write_jpeg(tmp_path / "amazon" / "mug" / "1.jpg", 1)
    b = write_jpeg(tmp_path / "amazon" / "pen" / "1.jpg", 2)
    write_jpeg(tmp_path / "amazon" / "mug" / "2.jpg", 3)
    same_number = write_list(tmp_path, ["amazon/mug/1.jpg 4", "amazon/pen/1.jpg 4"])
    message = r"list.txt:2: label 4 is given to folder 'pen' but earlier to 'mug'"
    with pytest.raises(DabenchError, match=message):
        read_image_list(same_number, tmp_path, OFFICE31_CLASSES)
    two_numbers = write_list(tmp_path, ["amazon/mug/1.jpg 4", "amazon/mug/2.jpg 5"])
    with pytest.raises(DabenchError, match=r"list.txt:2: folder 'mug' has label 5 but earlier 4"):
        read_image_list(two_numbers, tmp_path, OFFICE31_CLASSES)
    fine = write_list(tmp_path, ["amazon/mug/1.jpg 4", "amazon/pen/1.jpg 9"])
    assert read_image_list(fine, tmp_path, OFFICE31_CLASSES) == [(a, 17), (b, 19)]


def test_image_list_paths_escaping_the_root_are_rejected(tmp_path):
    root = tmp_path / "data"
    inside = write_jpeg(root / "amazon" / "mug" / "1.jpg", 1)
    outside = write_jpeg(tmp_path / "mug" / "x.jpg", 2)
    for line in ["../mug/x.jpg 0", "amazon/../../mug/x.jpg 0", f"{outside} 0"]:
        with pytest.raises(DabenchError, match="points outside the dataset folder"):
            read_image_list(write_list(tmp_path, [line]), root, OFFICE31_CLASSES)
    # An absolute path that stays inside the root, and a harmless '..', are fine.
    ok = write_list(tmp_path, [f"{inside} 3", "amazon/pen/../mug/1.jpg 3"])
    assert read_image_list(ok, root, OFFICE31_CLASSES) == [(inside, 17), (inside, 17)]


def test_image_list_bad_lines_unknown_folders_and_missing_files(tmp_path):
    write_jpeg(tmp_path / "amazon" / "cat" / "1.jpg", 1)
    cases = {
        "amazon/cat/1.jpg 0": "folder 'cat' is not a class",
        "amazon/mug/1.jpg": "expected '<image path> <integer label>'",
        "amazon/mug/1.jpg x": "expected '<image path> <integer label>'",
        "amazon/mug/none.jpg 0": r"1 image\(s\) in .*list.txt do not exist",
    }
    for line, message in cases.items():
        with pytest.raises(DabenchError, match=message):
            read_image_list(write_list(tmp_path, [line]), tmp_path, OFFICE31_CLASSES)
    with pytest.raises(DabenchError, match="has no entries"):
        read_image_list(write_list(tmp_path, ["", "  "]), tmp_path, OFFICE31_CLASSES)
    with pytest.raises(DabenchError, match="cannot read image list"):
        read_image_list(tmp_path / "absent.txt", tmp_path, OFFICE31_CLASSES)


# ---------------------------------------------------------------- checks

def test_check_names_missing_class_corrupt_and_truncated_jpegs_and_wrong_domain_folder(tmp_path):
    counts = make_office31(tmp_path, "flat")
    for p in (tmp_path / "amazon" / "bike").iterdir():  # class 1: two images
        p.unlink()
    (tmp_path / "amazon" / "bike").rmdir()
    (tmp_path / "amazon" / "mug" / "corrupt.jpg").write_bytes(b"this is not a JPEG at all" * 10)
    write_truncated_jpeg(tmp_path / "amazon" / "pen" / "truncated.jpg")
    (tmp_path / "amazon" / "Bike").mkdir()
    (tmp_path / "webcam").rename(tmp_path / "Webcam")

    domains = {d: [d] for d in OFFICE31_DOMAINS}
    expected = {"amazon": counts["amazon"], "dslr": 62, "webcam": 63}
    checks = check_dataset(tmp_path, domains, OFFICE31_CLASSES, expected)
    amazon, dslr, webcam = checks
    assert amazon.missing_classes == ["bike"] and amazon.class_counts["bike"] == 0
    assert amazon.unexpected_folders == ["Bike"]
    assert amazon.total == 61 - 2 + 2 and amazon.expected == 61 and len(amazon.class_counts) == 31
    unreadable = [(p.name, "truncated" in reason) for p, reason in amazon.unreadable]
    assert unreadable == [("corrupt.jpg", False), ("truncated.jpg", True)]
    assert (amazon.ok, dslr.ok, webcam.ok) == (False, True, False)
    assert dslr.layout == "flat" and dslr.total == 62 and dslr.verified
    assert webcam.domain_dir is None and "wrong folder name 'Webcam'" in webcam.error

    text = format_check(checks)
    for needle in ["missing classes: bike", "unexpected folders: Bike", "corrupt.jpg", "truncated.jpg",
                   "wrong folder name 'Webcam'", "61 images (expected 61), 30/31 classes", "2 with problems"]:
        assert needle in text
    dslr_line = next(line for line in text.splitlines() if line.startswith("dslr"))
    assert dslr_line.startswith(
        "dslr    ok       62 images (expected 62), 31/31 classes, images decoded  [flat]")


def test_check_counts_mismatch_and_skipping_decoding(tmp_path):
    fill_domain(tmp_path / "Art", OFFICEHOME_CLASSES)
    (tmp_path / "Art" / "Mug" / "bad.jpg").write_bytes(b"garbage")
    fast = check_domain(tmp_path / "Art", OFFICEHOME_CLASSES, 2427, verify_images=False)
    assert (fast.total, fast.unreadable, fast.verified, fast.ok) == (130, [], False, False)
    assert "130 images (expected 2427), 65/65 classes, decoding skipped" in format_check([fast])
    full = check_domain(tmp_path / "Art", OFFICEHOME_CLASSES, 130)
    assert [p.name for p, _ in full.unreadable] == ["bad.jpg"] and not full.ok
    with pytest.raises(DabenchError, match="does not exist"):
        check_domain(tmp_path / "Clipart", OFFICEHOME_CLASSES, None)


def test_verify_images_keeps_order_and_gives_reasons(tmp_path):
    good = [write_jpeg(tmp_path / f"{i}.jpg", i) for i in range(5)]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    trunc = write_truncated_jpeg(tmp_path / "t.jpg")
    problems = verify_images([good[0], trunc, *good[1:], bad], workers=3)
    assert [p for p, _ in problems] == [trunc, bad]
    assert all(reason.startswith(("OSError", "UnidentifiedImageError", "SyntaxError")) for _, reason in problems)
    assert verify_images(good) == []


# ---------------------------------------------------------------- dataset and transforms

def test_dataset_yields_normalised_tensors_and_names_broken_files(tmp_path):
    a = write_jpeg(tmp_path / "a.jpg", 1, size=(40, 30))
    gray = tmp_path / "gray.png"  # ImageNet mean colour -> ~0 after normalisation
    Image.new("RGB", (300, 300), (124, 116, 104)).save(gray)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    ds = ImageListDataset([(a, 3), (gray, 7), (broken, 1)], build_transforms(False, "tllib"))
    assert len(ds) == 3 and ds.labels == [3, 7, 1]
    x, y = ds[0]
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and y == 3
    x, _ = ds[1]
    assert x.abs().max().item() < 0.02
    with pytest.raises(DabenchError, match=r"cannot decode image .*broken\.jpg"):
        ds[2]
    batch, labels = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch.shape == (2, 3, 224, 224) and labels.tolist() == [3, 7]
    assert ImageListDataset([(a, 0)])[0][0].size == (40, 30)  # no transform: the PIL image


@pytest.mark.parametrize(
    ("train", "recipe", "kinds", "resize_size"),
    [
        (True, "tllib",
         [T.Resize, T.RandomResizedCrop, T.RandomHorizontalFlip, T.ToTensor, T.Normalize], (256, 256)),
        (True, "dann-paper",
         [T.Resize, T.RandomCrop, T.RandomHorizontalFlip, T.ToTensor, T.Normalize], 256),
        (False, "tllib", [T.Resize, T.CenterCrop, T.ToTensor, T.Normalize], (256, 256)),
        (False, "dann-paper", [T.Resize, T.CenterCrop, T.ToTensor, T.Normalize], 256),
    ],
)
def test_build_transforms_recipes(train, recipe, kinds, resize_size):
    tf = build_transforms(train, recipe)
    assert [type(t) for t in tf.transforms] == kinds
    assert tf.transforms[0].size in (resize_size, [resize_size])
    assert list(tf.transforms[-1].mean) == [0.485, 0.456, 0.406]
    assert list(tf.transforms[-1].std) == [0.229, 0.224, 0.225]
    torch.manual_seed(0)
    assert tf(Image.new("RGB", (90, 40), (10, 200, 30))).shape == (3, 224, 224)


def test_tllib_test_transform_squashes_before_the_centre_crop():
    """TLlib's ResizeImage(256) + CenterCrop(224): a wide image keeps its left and right edges
    (squashed); the short-side resize of dann-paper crops them away."""
    wide = np.zeros((256, 512, 3), dtype=np.uint8)
    wide[:, :64] = (255, 0, 0)  # red left edge band
    wide[:, 64:448] = (0, 255, 0)
    wide[:, 448:] = (0, 0, 255)  # blue right edge band
    image = Image.fromarray(wide)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    tllib = build_transforms(False, "tllib")(image) * std + mean  # (3, 224, 224) in [0, 1]
    paper = build_transforms(False, "dann-paper")(image) * std + mean
    assert tllib.shape == paper.shape == (3, 224, 224)
    # squashed 512 -> 256 wide: the red band is columns 0-31, the crop starts at column 16
    assert float(tllib[0, :, :10].mean()) > 0.9 and float(tllib[2, :, -10:].mean()) > 0.9
    assert float(paper[1].mean()) > 0.95  # the short-side crop sees only the green middle
    assert float(tllib[1, :, 100:124].mean()) > 0.95


def test_build_transforms_rejects_unknown_augmentation_and_bad_sizes():
    with pytest.raises(DabenchError, match="unknown augmentation 'imagenet'"):
        build_transforms(True, "imagenet")
    with pytest.raises(DabenchError, match="at most resize"):
        build_transforms(False, "tllib", image_size=300, resize=256)
    small = build_transforms(False, "dann-paper", image_size=32, resize=40)
    assert small(Image.new("RGB", (50, 80))).shape == (3, 32, 32)


# ---------------------------------------------------------------- blended targets

def test_per_subtarget_accuracy_of_a_blended_target():
    """A blended target is scored pooled and per sub-target (each weighted equally)."""
    from dabench.training.evaluate import group_accuracy

    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    pred = torch.tensor([0, 9, 2, 3, 9, 5])  # correct: Clipart 1/2, Product 2/3, Real_World 1/1
    groups = torch.tensor([0, 0, 1, 1, 1, 2])
    acc = group_accuracy(pred, labels, groups, ("Clipart", "Product", "Real_World"))
    assert acc["pooled"] == pytest.approx(4 / 6)
    assert acc["per_target"] == pytest.approx({"Clipart": 0.5, "Product": 2 / 3,
                                               "Real_World": 1.0})
    assert acc["mean_of_targets"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)  # 0.722, not 0.667


def test_layout_module_imports_without_torch():
    # `dabench check` / `list-tasks` paths may import the layout module; it must stay torch-free.
    code = "import sys, dabench.data.images.layout; print('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]
