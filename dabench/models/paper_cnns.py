"""The DANN paper's three small CNN feature extractors (JMLR 2016, Figure 4, Section 5.2.2).

Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016,
https://arxiv.org/abs/1505.07818. ReLU after every convolution; the label predictor and domain
classifier heads are `heads.mlp` with the widths the task file sets (model.hidden_dims,
model.domain_hidden, model.domain_layers).

- `dann-mnist` (MNIST -> MNIST-M; also used here for MNIST <-> USPS): conv 5x5x32, max-pool
  2x2/2, conv 5x5x48, max-pool 2x2/2; 28x28 input -> 48x4x4 = 768 features.
- `dann-svhn` (Syn Numbers -> SVHN, SVHN -> MNIST): conv 5x5x64, max-pool 3x3/2, conv 5x5x64,
  max-pool 3x3/2, conv 5x5x128; 32x32 input. The paper gives no padding; without any the third
  convolution has no input left (32 -> 28 -> 13 -> 9 -> 4), so every convolution here pads by 2
  ("same"): 32 -> 15 -> 7, 128x7x7 = 6272 features. The paper's dropout and l2-norm limit on
  this net have no stated values and are not applied.
- `dann-gtsrb` (Syn Signs -> GTSRB): conv 5x5x96, max-pool 2x2/2, conv 3x3x144, max-pool 2x2/2,
  conv 5x5x256, max-pool 2x2/2, no padding; 40x40 input -> 256x2x2 = 1024 features.

The input side is fixed per net (the first head layer's width depends on it); a batch of
another size is refused naming the `image_size` option to set.
"""

from __future__ import annotations

import torch
from torch import nn

from dabench.errors import DabenchError

# name -> (input side, [(out channels, kernel, padding, pool kernel or 0)], feature dim)
NETS = {
    "dann-mnist": (28, [(32, 5, 0, 2), (48, 5, 0, 2)], 48 * 4 * 4),
    "dann-svhn": (32, [(64, 5, 2, 3), (64, 5, 2, 3), (128, 5, 2, 0)], 128 * 7 * 7),
    "dann-gtsrb": (40, [(96, 5, 0, 2), (144, 3, 0, 2), (256, 5, 0, 2)], 256 * 2 * 2),
}


class PaperCNN(nn.Module):
    """conv -> ReLU [-> max-pool] blocks, flattened: (B, 3, S, S) -> (B, out_dim)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.side, blocks, self.out_dim = NETS[name]
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, kernel, pad, pool in blocks:
            layers += [nn.Conv2d(c_in, c_out, kernel, padding=pad), nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(pool, 2))
            c_in = c_out
        self.net = nn.Sequential(*layers, nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, out_dim)
        if x.shape[-1] != self.side or x.shape[-2] != self.side:
            raise DabenchError(f"backbone '{self.name}' takes {self.side}x{self.side} images, got "
                               f"{x.shape[-2]}x{x.shape[-1]}; fix: set `image_size: "
                               f"{self.side}` in the task's domain options")
        return self.net(x)


def paper_cnn(name: str, weights: str) -> tuple[nn.Module, int]:
    if weights != "none":
        raise DabenchError(f"backbone '{name}' has no pretrained weights; use "
                           "--set backbone.weights=none")
    net = PaperCNN(name)
    return net, net.out_dim
