"""What the `cdan` recipe (thuml/CDAN at c904cd3) and the TA3N settings (cmhungsteve/TA3N at
2c65b5d) change in the network, the loss, the learning rate and the test: checked on tiny
networks and images built here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dabench.config import resolve
from dabench.methods.revgrad import RevGrad
from dabench.models.build import build_network
from dabench.models.heads import DANNNet
from dabench.tasks.catalog import load_catalog

CATALOG = load_catalog()


def image_cfg(recipe: str, **sets):
    return resolve(CATALOG.task("office31-a-to-d"), "revgrad", 0,
                   {"recipe": recipe, "backbone.name": "lenet", "backbone.weights": "none", **sets})


class Recorder(nn.Module):
    """A BatchNorm 'backbone' that records the batch sizes it normalises."""

    def __init__(self) -> None:
        super().__init__()
        self.bn, self.sizes = nn.BatchNorm1d(4), []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.bn(x)


@pytest.mark.parametrize("forward, sizes", [("joint", [8 + 6]), ("per-domain", [8, 6])])
def test_per_domain_forward_normalises_each_domain_with_its_own_batch(forward, sizes):
    cfg = image_cfg("cdan", **{"model.forward": forward})
    backbone = Recorder()
    net = DANNNet(backbone, nn.Identity(), nn.Linear(4, 3), {"feature": nn.Linear(4, 1)},
                  {"feature": 1.0})
    method = RevGrad(net, cfg)
    g = torch.Generator().manual_seed(0)
    xs, xt = torch.randn(8, 4, generator=g), torch.randn(6, 4, generator=g) + 5.0
    ys = torch.randint(0, 3, (8,), generator=g)
    terms = method.loss((xs, ys), (xt, torch.full((6,), -1)), 1.0)
    assert backbone.sizes == sizes
    head = net.domain_heads["feature"]
    if forward == "per-domain":  # source rows normalised by the source batch alone
        feats = torch.cat([F.batch_norm(xs, None, None, training=True),
                           F.batch_norm(xt, None, None, training=True)])
    else:
        feats = F.batch_norm(torch.cat([xs, xt]), None, None, training=True)
    domain = torch.cat([torch.zeros(8), torch.ones(6)])
    expected = F.binary_cross_entropy_with_logits(head(feats).squeeze(1), domain)
    assert terms["domain_feature"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_cdan_heads_are_xavier_normal_with_zero_biases_and_a_linear_bottleneck():
    torch.manual_seed(0)
    net = build_network(31, image_cfg("cdan"))
    assert [type(m) for m in net.neck] == [nn.Linear]  # no BN, no ReLU (network.py 206, 222)
    layers = [m for part in (net.neck, net.classifier, net.domain_heads["feature"])
              for m in part.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 1 + 1 + 3
    assert all(torch.count_nonzero(m.bias) == 0 for m in layers)
    big = layers[3]  # the discriminator's 1024 x 1024 layer
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / (1024 + 1024)), rel=0.02)
    assert big.weight.mean().abs().item() < 1e-3  # normal around 0 (xavier_uniform has the
    tllib = build_network(31, image_cfg("tllib"))  # same std: the bias tells them apart)
    assert isinstance(tllib.neck[-1], nn.ReLU)
    assert any(torch.count_nonzero(m.bias) for m in tllib.classifier.modules()
               if isinstance(m, nn.Linear))


def test_ten_crop_boxes_follow_cdan():
    from dabench.data.images.dataset import ten_crop_boxes

    boxes = ten_crop_boxes(256, 256, 224)  # start_last = 256 - 224 - 1, centre 15.5 rounded
    corners = [(0, 0), (31, 31), (31, 0), (0, 31), (16, 16)]
    assert boxes == [(x, y, True) for x, y in corners] + [(x, y, False) for x, y in corners]


def test_ten_crops_agree_between_the_jpeg_path_and_the_cache(tmp_path):
    from PIL import Image

    from dabench.data.images.cache import DecodedImages
    from dabench.data.images.dataset import build_transforms, load_rgb

    path = tmp_path / "x.jpg"
    noise = torch.randint(0, 256, (30, 40, 3), generator=torch.Generator().manual_seed(1),
                          dtype=torch.uint8)
    Image.fromarray(noise.numpy()).save(path, "JPEG")
    jpeg = build_transforms(False, "tllib", image_size=24, resize=28, ten_crop=True)(
        load_rgb(path))
    cache = DecodedImages([(path, 0)], 28, workers=1, crop=24, augment="tllib", ten_crop=True)
    cached = cache.device_transform(cache.images, train=False)
    assert jpeg.shape == (10, 3, 24, 24) and cached.shape == (1, 10, 3, 24, 24)
    assert torch.allclose(jpeg, cached[0], atol=1e-5)
    assert not torch.allclose(jpeg[0], jpeg[5])  # the flipped top-left crop is another view


def test_crop_averaged_predictions_are_the_mean_softmax_over_crops():
    from dabench.training.evaluate import crop_averaged

    net = nn.Linear(3, 2)
    predict = crop_averaged(lambda x: net(x.flatten(1)[:, :3]))
    x = torch.randn(4, 10, 3, 1, 1)
    expected = torch.stack([net(x[:, k].flatten(1)).softmax(1) for k in range(10)], 1).mean(1)
    assert torch.allclose(predict(x), expected, atol=1e-6)
    plain = torch.randn(4, 3, 1, 1)
    assert torch.equal(predict(plain), net(plain.flatten(1)))


def test_ta3n_domain_classifiers_are_two_way_softmax_heads():
    from dabench.models.temporal import build_video_network

    cfg = resolve(CATALOG.task("ucf-to-hmdbsmall"), "revgrad", 0,
                  {"model.temporal": "temrelation"})
    assert cfg.model.domain_output == "softmax"
    net = build_video_network(5, cfg)
    assert {name: list(h.modules())[-1].out_features for name, h in
            net.domain_heads.items()} == {"frame": 2, "video": 2, "relation": 2}
    rows = torch.randn(3 * (cfg.video.segments - 1), cfg.video.relation_dim)
    assert net.domain_heads["relation"](rows).shape == (3 * (cfg.video.segments - 1), 2)
    # the loss: one softmax cross-entropy per level over source (0) and target (1) rows
    image = image_cfg("tllib", **{"model.domain_output": "softmax"})
    head = nn.Linear(4, 2)
    small = DANNNet(nn.Identity(), nn.Identity(), nn.Linear(4, 3), {"feature": head},
                    {"feature": 1.0})
    xs, xt = torch.randn(5, 4), torch.randn(7, 4)
    terms = RevGrad(small, image).loss((xs, torch.zeros(5, dtype=torch.long)),
                                       (xt, torch.full((7,), -1)), 1.0)
    domain = torch.cat([torch.zeros(5), torch.ones(7)]).long()
    expected = F.cross_entropy(head(torch.cat([xs, xt])), domain)
    assert terms["domain_feature"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_lr_updated_after_each_step_trains_step_i_at_the_rate_of_step_i_minus_1():
    from dabench.training.phase import lr_factor as _lr_factor

    task = CATALOG.task("ucf-to-hmdbsmall")
    after = resolve(task, "revgrad", 0, {})
    before = resolve(task, "revgrad", 0, {"optim.lr_update": "before"})
    assert after.optim.lr_update == "after" and after.optim.lr_step_offset > 0
    assert _lr_factor(after, 0) == 1.0  # TA3N's first step: args.lr itself
    for step in (1, 2, 57, 400):
        assert _lr_factor(after, step) == _lr_factor(before, step - 1)
    n, horizon = before.optim.lr_step_offset, before.optim.lr_horizon
    assert _lr_factor(before, 0) == pytest.approx((1 + 10 * n / horizon) ** -0.75)
