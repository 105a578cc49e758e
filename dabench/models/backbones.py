"""Feature extractors, by name: `backbone.name` in the run config.

Each builder takes the backbone section of the config and returns `(module, out_dim)`; the
module maps an image batch (B, 3, H, W) to features (B, out_dim).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dabench.errors import DabenchError
from dabench.registry import Registry

BACKBONES: Registry[Callable[..., tuple[nn.Module, int]]] = Registry(
    "backbone", group="dabench.backbones")


class LeNet(nn.Module):
    """The DANN paper's MNIST feature extractor: conv5x5(32)-pool-conv5x5(48)-pool.

    Ganin & Lempitsky 2015 (https://arxiv.org/abs/1409.7495), appendix / Caffe release.
    """

    def __init__(self, image_size: int = 28, bn: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(((3, 32), (32, 48))):
            layers.append(nn.Conv2d(c_in, c_out, 5))
            if bn:
                layers.append(nn.BatchNorm2d(c_out))
            if dropout > 0 and i == 1:
                layers.append(nn.Dropout2d(dropout))  # drops whole feature maps of conv2
            # Pool before ReLU: the same function (max commutes with a monotone ReLU) with the
            # ReLU on a 4x smaller tensor.
            layers += [nn.MaxPool2d(2), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        side = ((image_size - 4) // 2 - 4) // 2
        self.out_dim = 48 * side * side  # 768 for 28x28 inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 28, 28) -> (B, 768)
        return self.net(x)


def _lenet(name: str, weights: str, bn: bool = False, dropout: float = 0.0) -> tuple[nn.Module, int]:
    if weights != "none":
        raise DabenchError(f"backbone '{name}' has no pretrained weights; use --set backbone.weights=none")
    net = LeNet(bn=bn, dropout=dropout)
    return net, net.out_dim


BACKBONES.add("lenet", lambda weights="none", **_: _lenet("lenet", weights, bn=False))
BACKBONES.add("lenet-bn", lambda weights="none", **_: _lenet("lenet-bn", weights, bn=True))
BACKBONES.add("lenet-drop", lambda weights="none", **_: _lenet("lenet-drop", weights, dropout=0.5))
BACKBONES.add("lenet-bn-drop", lambda weights="none", **_: _lenet("lenet-bn-drop", weights, bn=True, dropout=0.5))


def _paper_cnn(name: str, weights: str) -> tuple[nn.Module, int]:
    from dabench.models.paper_cnns import paper_cnn

    return paper_cnn(name, weights)


for _net in ("dann-mnist", "dann-svhn", "dann-gtsrb"):  # JMLR 2016 Figure 4: paper_cnns.py
    BACKBONES.add(_net, lambda weights="none", _n=_net, **_: _paper_cnn(_n, weights))


def _resnet(arch: str, weights: str) -> tuple[nn.Module, int]:
    import torchvision

    builder = getattr(torchvision.models, arch)
    if weights == "imagenet":
        enum = torchvision.models.get_model_weights(arch).IMAGENET1K_V1
        try:
            net = builder(weights=enum)
        except Exception as exc:  # network errors come in many types (URLError, OSError, ...)
            raise DabenchError(
                f"cannot fetch {arch} ImageNet weights ({type(exc).__name__}: {exc}); download "
                f"{enum.url} on a machine with a network and pass it with "
                "--set backbone.weights=/path/to/file.pth"
            ) from None
    else:
        net = builder(weights=None)
        if weights != "none":
            state = load_weights_file(weights)
            _check_matches(state, net, arch, weights)
            net.load_state_dict(state, strict=False)  # every key but fc.* checked above
    out_dim = net.fc.in_features
    net.fc = nn.Identity()  # (B, 3, H, W) -> (B, 2048) for ResNet-50/101
    return net, out_dim


def load_weights_file(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a local file, loaded safely (tensors only, no pickled code)."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise DabenchError(f"weights file '{file}' is a folder, not a file; pass a .pth file "
                           "with --set backbone.weights=PATH, or 'imagenet' or 'none'")
    if file.exists():
        from dabench.userfiles import check_regular

        check_regular(file, "weights file")  # a FIFO or /dev/zero would never end
    if not file.is_file():
        raise DabenchError(f"weights file '{file}' does not exist; pass an existing .pth file "
                           "with --set backbone.weights=PATH, or 'imagenet' or 'none'")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DabenchError(f"weights file '{file}' is corrupt or not a PyTorch state dict "
                           f"({type(exc).__name__}); download it again") from None
    if not isinstance(state, dict):
        raise DabenchError(f"weights file '{file}' does not hold a state dict")
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def _check_matches(state: dict, net: nn.Module, arch: str, path: str) -> None:
    """One line naming the file and the architecture when the state dict's keys or shapes are
    not those of `arch` (the classifier `fc.*` is replaced, so it is not compared)."""
    want = {k: v.shape for k, v in net.state_dict().items() if not k.startswith("fc.")}
    extra, missing = sorted(set(state) - set(want)), sorted(set(want) - set(state))
    if extra or missing:
        parts = [f"it lacks {len(missing)} of {arch}'s {len(want)} keys (e.g. '{missing[0]}')"
                 if missing else "", f"{len(extra)} keys are not {arch}'s (e.g. '{extra[0]}')"
                 if extra else ""]
        raise DabenchError(f"weights file '{path}' does not match the {arch} architecture: "
                           f"{'; '.join(p for p in parts if p)}; pass a state dict saved from "
                           f"torchvision's {arch}, or set backbone.name to its architecture")
    for key, shape in want.items():
        got = getattr(state[key], "shape", None)
        if got != shape:
            raise DabenchError(f"weights file '{path}' does not match the {arch} architecture: "
                               f"'{key}' is {tuple(got) if got is not None else 'not a tensor'} "
                               f"in the file, {tuple(shape)} in {arch}; pass a state dict saved "
                               f"from torchvision's {arch}")


for _arch in ("resnet18", "resnet50", "resnet101"):
    BACKBONES.add(_arch, lambda weights="none", _a=_arch, **_: _resnet(_a, weights))


def _shallow(weights: str, input_dim: int | None = None, width: int = 100,
             **_) -> tuple[nn.Module, int]:
    from dabench.models.shallow import ShallowFeatures

    if input_dim is None:
        raise DabenchError("backbone 'shallow' reads feature vectors; use it with a task whose "
                           "domains use the `vectors` loader")
    if weights != "none":
        raise DabenchError("backbone 'shallow' has no pretrained weights; use "
                           "--set backbone.weights=none")
    return ShallowFeatures(input_dim, width), width


BACKBONES.add("shallow", _shallow)


def reads_vectors(builder: Callable) -> bool:
    """A builder reads feature vectors when it names `input_dim` (the vectors' D) among its
    parameters; the image backbones take it only through `**_` and ignore it."""
    import inspect

    try:
        return "input_dim" in inspect.signature(builder).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature: let it try
        return True


def build_backbone(name: str, weights: str, input_dim: int | None = None,
                   width: int = 100) -> tuple[nn.Module, int]:
    """`input_dim`: the feature dimension of vector inputs (None for images and videos)."""
    builder = BACKBONES.get(name)
    if input_dim is not None and not reads_vectors(builder):
        vectors = [n for n, b in BACKBONES.items() if reads_vectors(b)]
        raise DabenchError(f"backbone '{name}' reads images, and this task's domains are feature "
                           f"vectors ({input_dim} per item); use --set backbone.name="
                           f"{vectors[0] if vectors else 'shallow'} (a backbone whose builder "
                           "takes input_dim)")
    return builder(weights=weights, input_dim=input_dim, width=width)
