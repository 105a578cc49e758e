"""Where a run computes: device choice, and how batches and the model get there.

On CUDA: bf16 autocast for forward passes and non-blocking copies from pinned memory; on the
CPU everything stays exact fp32. On both, image batches and the network are stored
channels_last (NHWC), the layout oneDNN's CPU convolutions and cuDNN's tensor cores prefer
(RevGrad step on 2 CPU cores: LeNet 1.37x, ResNet-18 1.14x faster than NCHW; `benchmarks/throughput.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from dabench.config import RunConfig
from dabench.errors import DabenchError


def select_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise DabenchError("--device cuda was asked for but no CUDA GPU is visible to PyTorch; "
                           "use --device cpu or --device auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@dataclass
@dataclass
class DevicePath:
    """How tensors go to the device: bf16 autocast on CUDA (fp32 on the CPU), channels_last on both."""

    device: torch.device
    amp: bool
    channels_last: bool

    @classmethod
    def for_run(cls, device: torch.device, cfg: RunConfig) -> "DevicePath":
        cuda = device.type == "cuda"
        return cls(device, cfg.amp and cuda, cfg.channels_last, cfg.compile)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def put(self, x: torch.Tensor, dataset=None, train: bool = False) -> torch.Tensor:
        """Move a batch to the device; apply the dataset's on-device transform if it has one
        (e.g. random crop/flip of a decoded uint8 image cache), then the memory format."""
        x = x.to(self.device, non_blocking=True)
        transform = _device_transform(dataset)
        if transform is not None:
            x = transform(x, train)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # (B, C, H, W) stored NHWC
        return x

    compile: bool = False

    def prepare(self, net: torch.nn.Module) -> torch.nn.Module:
        net = net.to(self.device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if self.compile:  # in place, so state_dict keys (and checkpoints) stay the same
            net.backbone.compile()
        return net


def _device_transform(dataset) -> Optional[Callable[[torch.Tensor, bool], torch.Tensor]]:
    """`dataset.device_transform(batch, train)`, looking inside a ConcatDataset (blended
    targets share one transform)."""
    if dataset is None:
        return None
    parts = getattr(dataset, "datasets", None)
    return getattr(parts[0] if parts else dataset, "device_transform", None)
