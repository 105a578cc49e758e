"""Torch side of the Office-31 / Office-Home data layer: Dataset and transforms (blended
targets are scored by `dabench.training.evaluate.group_accuracy`).

Locating, scanning and checking folders lives in `layout` (no torch) and is re-exported
here so callers can import everything image-related from one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from dabench.data.images.layout import (  # noqa: F401  (re-exported API)
    IMAGE_SUFFIXES,
    OFFICE31_URL,
    OFFICEHOME_URL,
    DomainCheck,
    check_dataset,
    check_domain,
    class_index,
    format_check,
    locate_domain,
    read_image_list,
    scan_domain,
    verify_images,
)
from dabench.data.images.augment import AUGMENTATIONS
from dabench.data.images.size_limit import quiet_bomb_warnings, too_large
from dabench.errors import DabenchError

Item = tuple[Path, int]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_rgb(path: Path) -> Image.Image:
    """Fully decoded RGB image; any decoder failure becomes a DabenchError naming the file."""
    quiet_bomb_warnings()
    try:
        with Image.open(path) as image:
            problem = too_large(image)
            if problem:
                raise DabenchError(f"image {path} is {problem}")
            return image.convert("RGB")  # convert() forces the full decode inside the `with`
    except DabenchError:
        raise
    except Exception as exc:  # OSError, SyntaxError, DecompressionBombError, ...
        raise DabenchError(
            f"cannot decode image {path} ({type(exc).__name__}: {exc}); "
            "fix: re-extract the dataset or delete the file, then run the data check"
        ) from exc


class ImageListDataset(Dataset):
    """(path, label) pairs -> (transform(RGB image), label); a [3, H, W] float tensor with the
    transforms of `build_transforms`."""

    def __init__(self, items: Sequence[Item], transform: Callable | None = None) -> None:
        self.items = [(Path(p), int(label)) for p, label in items]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label = self.items[i]
        image = load_rgb(path)
        return (self.transform(image) if self.transform is not None else image), label

    @property
    def labels(self) -> list[int]:
        """Labels in item order, e.g. for class-balanced sampling, without decoding images."""
        return [label for _, label in self.items]

    def subset(self, index) -> "ImageListDataset":
        """The items `index` (a held-out split), same transform."""
        return ImageListDataset([self.items[i] for i in index.tolist()], self.transform)


def build_transforms(train: bool, augmentation: str, image_size: int = 224,
                     resize: int = 256) -> T.Compose:
    """PIL image -> normalised [3, image_size, image_size] tensor.

    train, "tllib":      Resize((resize, resize)) + RandomResizedCrop(image_size) + flip
    train, "dann-paper": Resize(resize) (short side) + RandomCrop(image_size) + flip
    test, "tllib":       Resize((resize, resize)) (squash) + CenterCrop(image_size)
    test, "dann-paper":  Resize(resize) (short side) + CenterCrop(image_size)

    TLlib squashes every image to 256x256 before either crop (thuml/Transfer-Learning-Library at
    c4aa59e: examples/domain_adaptation/image_classification/utils.py 154-157 and 203-207, its
    ResizeImage in tllib/vision/transforms/__init__.py 9-26), which keeps the whole width of a
    non-square image (Office-Home, webcam) at test time.
    """
    if augmentation not in AUGMENTATIONS:
        raise DabenchError(f"unknown augmentation '{augmentation}'; "
                           f"fix: use one of {', '.join(AUGMENTATIONS)}")
    if not 0 < image_size <= resize:
        raise DabenchError(f"image_size {image_size} must be positive and at most resize "
                           f"{resize}; fix: adjust the task")
    if not train:
        side = (resize, resize) if augmentation == "tllib" else resize
        head = [T.Resize(side), T.CenterCrop(image_size)]
    elif augmentation == "tllib":
        head = [T.Resize((resize, resize)), T.RandomResizedCrop(image_size),
                T.RandomHorizontalFlip()]
    else:
        head = [T.Resize(resize), T.RandomCrop(image_size), T.RandomHorizontalFlip()]
    return T.Compose(head + [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
