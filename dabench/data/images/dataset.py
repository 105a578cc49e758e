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
    transforms of `build_transforms`. `eval_transform` (the test transform) is what
    `for_evaluation()` scores with: a held-out split of a training domain is evaluated with it,
    never with the training augmentation."""

    def __init__(self, items: Sequence[Item], transform: Callable | None = None,
                 eval_transform: Callable | None = None) -> None:
        self.items = [(Path(p), int(label)) for p, label in items]
        self.transform = transform
        self.eval_transform = eval_transform if eval_transform is not None else transform

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
        """The items `index` (a held-out split), same transforms."""
        return ImageListDataset([self.items[i] for i in index.tolist()], self.transform,
                                self.eval_transform)

    def for_evaluation(self) -> "ImageListDataset":
        """The same items read with the test transform (deterministic)."""
        return ImageListDataset(self.items, self.eval_transform, self.eval_transform)


def ten_crop_boxes(width: int, height: int, crop: int) -> list[tuple[int, int, bool]]:
    """(left, top, flipped) of CDAN's ten test crops of a width x height image, in its order:
    the five flipped crops, then the same five unflipped (thuml/CDAN at c904cd3, pytorch/
    pre_process.py 169-240: corners at 0 and side - crop - 1, the centre at (side - crop - 1)
    / 2, which Pillow's crop rounds)."""
    def starts(side: int) -> tuple[int, int, int]:
        last = max(0, side - crop - 1)
        return 0, last, int(round(last / 2))

    (x0, x1, xc), (y0, y1, yc) = starts(width), starts(height)
    corners = [(x0, y0), (x1, y1), (x1, y0), (x0, y1), (xc, yc)]
    return [(x, y, flip) for flip in (True, False) for x, y in corners]


class TenCrop:
    """PIL image -> (10, 3, crop, crop) tensor: `ten_crop_boxes`, each crop through `finish`
    (ToTensor + normalisation). A flipped crop is the crop of the mirrored image."""

    def __init__(self, crop: int, finish: Callable) -> None:
        self.crop, self.finish = crop, finish

    def __call__(self, image: Image.Image) -> torch.Tensor:
        mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        c = self.crop
        return torch.stack([self.finish((mirrored if flip else image).crop((x, y, x + c, y + c)))
                            for x, y, flip in ten_crop_boxes(*image.size, c)])


def build_transforms(train: bool, augmentation: str, image_size: int = 224,
                     resize: int = 256, ten_crop: bool = False) -> T.Compose:
    """PIL image -> normalised [3, image_size, image_size] tensor.

    train, "tllib":      Resize((resize, resize)) + RandomResizedCrop(image_size) + flip
    train, "dann-paper": Resize(resize) (short side) + RandomCrop(image_size) + flip
    test, "tllib":       Resize((resize, resize)) (squash) + CenterCrop(image_size)
    test, "dann-paper":  Resize(resize) (short side) + CenterCrop(image_size)

    TLlib squashes every image to 256x256 before either crop (thuml/Transfer-Learning-Library at
    c4aa59e: examples/domain_adaptation/image_classification/utils.py 154-157 and 203-207, its
    ResizeImage in tllib/vision/transforms/__init__.py 9-26), which keeps the whole width of a
    non-square image (Office-Home, webcam) at test time.
    test, `ten_crop`: the test resize, then `TenCrop` -> (10, 3, image_size, image_size).
    """
    if augmentation not in AUGMENTATIONS:
        raise DabenchError(f"unknown augmentation '{augmentation}'; "
                           f"fix: use one of {', '.join(AUGMENTATIONS)}")
    if not 0 < image_size <= resize:
        raise DabenchError(f"image_size {image_size} must be positive and at most resize "
                           f"{resize}; fix: adjust the task")
    finish = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if not train:
        side = (resize, resize) if augmentation == "tllib" else resize
        if ten_crop:
            return T.Compose([T.Resize(side), TenCrop(image_size, T.Compose(finish))])
        head = [T.Resize(side), T.CenterCrop(image_size)]
    elif augmentation == "tllib":
        head = [T.Resize((resize, resize)), T.RandomResizedCrop(image_size),
                T.RandomHorizontalFlip()]
    else:
        head = [T.Resize(resize), T.RandomCrop(image_size), T.RandomHorizontalFlip()]
    return T.Compose(head + finish)
