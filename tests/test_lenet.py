"""The digits backbone: the DANN paper's LeNet, its BatchNorm and Dropout2d variants."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dabench.errors import DabenchError
from dabench.models.backbones import LeNet, build_backbone


def reference_lenet(net: LeNet, x: torch.Tensor) -> torch.Tensor:
    """The paper's order, conv -> ReLU -> pool, written out with the network's own weights."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        x = F.max_pool2d(F.relu(conv(x)), 2)
    return x.flatten(1)


def test_lenet_is_the_papers_function_with_768_features():
    torch.manual_seed(0)
    net, dim = build_backbone("lenet", "none")
    x = torch.randn(5, 3, 28, 28)  # (B, 3, 28, 28)
    out = net(x)  # (B, 768)
    assert dim == 768 and out.shape == (5, 768)
    # Pooling before the ReLU (the speed-up) computes exactly the paper's conv-ReLU-pool.
    assert torch.allclose(out, reference_lenet(net, x), atol=1e-6)
    assert (out >= 0).all() and (out == 0).any()


def test_lenet_bn_normalises_each_conv_output():
    net, dim = build_backbone("lenet-bn", "none")
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert dim == 768 and [b.num_features for b in bns] == [32, 48]
    net.train()
    net(torch.randn(8, 3, 28, 28) * 5 + 3)
    assert bns[0].running_mean.abs().sum() > 0  # statistics were updated in training mode


def test_lenet_drop_drops_whole_conv2_maps_in_training_only():
    torch.manual_seed(0)
    net, _ = build_backbone("lenet-drop", "none")
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout2d)]
    assert len(drops) == 1 and drops[0].p == 0.5
    x = torch.rand(16, 3, 28, 28)
    net.train()
    maps = net(x).view(16, 48, 16)  # (B, channels, 4*4 positions)
    dead = (maps == 0).all(dim=2)  # (B, 48) channels zeroed as a whole
    assert 0.3 < dead.float().mean() < 0.8
    net.eval()
    plain = LeNet()
    plain.load_state_dict(net.state_dict())
    assert torch.allclose(net(x), plain(x))  # identity at evaluation


@pytest.mark.parametrize("name", ["lenet", "lenet-bn", "lenet-drop"])
def test_lenet_has_no_pretrained_weights(name):
    with pytest.raises(DabenchError, match=f"backbone '{name}' has no pretrained weights"):
        build_backbone(name, "imagenet")
