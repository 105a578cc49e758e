"""The video network: TemRelation's subsets and shapes, TemPooling, the domain heads and their
switches and GRL weights, the build dispatch."""

from __future__ import annotations

import pytest
import torch

from dabench.config import RunConfig, apply
from dabench.errors import DabenchError
from dabench.methods import METHODS
from dabench.models.build import build_network
from dabench.models.temporal import (
    TemRelation,
    VideoDANN,
    domain_levels,
    feature_dim,
    relation_subsets,
)

T, F = 5, 64  # frames per video, input feature width (small for speed)


def video_cfg(**values) -> RunConfig:
    cfg = RunConfig()
    apply(cfg, {"model.temporal": "tempooling", "backbone.name": "resnet18", **values}, "test")
    return cfg


def net_for(temporal: str, levels=None, classes: int = 4) -> VideoDANN:
    torch.manual_seed(0)
    return VideoDANN(classes, F, T, temporal, spatial_dim=32, relation_dim=16, dropout=0.5,
                     levels=levels)


def test_relation_subsets_are_ta3n_even_samples():
    assert relation_subsets(5) == {
        5: [(0, 1, 2, 3, 4)],
        4: [(0, 1, 2, 3), (0, 1, 3, 4), (1, 2, 3, 4)],
        3: [(0, 1, 2), (0, 2, 4), (1, 2, 4)],
        2: [(0, 1), (1, 2), (2, 3)],
    }
    assert relation_subsets(3) == {3: [(0, 1, 2)], 2: [(0, 1), (0, 2), (1, 2)]}
    assert relation_subsets(2) == {2: [(0, 1)]}
    with pytest.raises(DabenchError, match="at least 2 frames"):
        relation_subsets(1)


def test_temrelation_sums_the_chosen_subsets_per_scale():
    torch.manual_seed(0)
    rel = TemRelation(T, 8, 6)
    x = torch.randn(3, T, 8)  # (B, T, D)
    out = rel(x)
    assert list(out) == [5, 4, 3, 2] and all(v.shape == (3, 6) for v in out.values())
    for k, subsets in relation_subsets(T).items():
        fusion = rel.fusion[str(k)]
        manual = sum(fusion(x[:, list(s)].reshape(3, k * 8)) for s in subsets)
        assert torch.allclose(out[k], manual, atol=1e-6)
    assert rel.fusion["4"][1].in_features == 4 * 8 and rel.fusion["2"][1].out_features == 6
    # frame order matters: reversing time changes the relation features
    assert not torch.allclose(rel(x.flip(1))[2], out[2])


@pytest.mark.parametrize("temporal, video_dim", [("tempooling", 32), ("temrelation", 16)])
def test_feature_levels_and_shapes(temporal, video_dim):
    net = net_for(temporal).eval()
    x = torch.randn(6, T, F)
    feats = net.features(x)
    expected = {"frame": (6 * T, 32), "video": (6, video_dim)}
    if temporal == "temrelation":
        expected.update({f"relation-{k}": (6, 16) for k in (5, 4, 3, 2)})
    assert {k: tuple(v.shape) for k, v in feats.items()} == expected
    assert net(x).shape == (6, 4)
    # frame rows are sample-major: row i*T + t is frame t of video i
    assert torch.allclose(feats["frame"][2 * T + 3], net.neck(x[2, 3]), atol=1e-6)
    if temporal == "tempooling":
        assert torch.allclose(feats["video"], feats["frame"].view(6, T, 32).mean(1), atol=1e-6)
    else:
        rel = sum(feats[f"relation-{k}"] for k in (5, 4, 3, 2))
        assert torch.allclose(feats["video"], rel, atol=1e-6)
    assert torch.equal(net(x), net(x))  # eval mode: no dropout


def test_init_and_wrong_input_shape():
    net = net_for("tempooling", {"frame": 0.5})
    w = net.neck[0].weight.detach()
    assert w.shape == (32, F) and 0.0005 < float(w.std()) < 0.002 and float(net.neck[0].bias.detach().abs().max()) == 0
    with pytest.raises(DabenchError, match=r"\(B, 5, 64\)"):
        net.features(torch.randn(2, 3, F))


def test_domain_heads_follow_the_switches():
    cfg = video_cfg()
    assert domain_levels(cfg) == {"frame": 0.5, "video": 0.75}  # TemPooling: no relation level
    cfg = video_cfg(**{"model.temporal": "temrelation"})
    assert domain_levels(cfg) == {"frame": 0.5, "video": 0.75, "relation-5": 0.75,
                                  "relation-4": 0.75, "relation-3": 0.75, "relation-2": 0.75}
    for switch, gone in (("video.frame_domain", {"frame"}), ("video.video_domain", {"video"}),
                         ("video.relation_domain", {"relation-5", "relation-4", "relation-3",
                                                    "relation-2"})):
        off = video_cfg(**{"model.temporal": "temrelation", switch: False})
        assert set(domain_levels(cfg)) - set(domain_levels(off)) == gone
        net = build_network(4, off)
        assert set(net.domain_heads) == set(domain_levels(off))
    none = video_cfg(**{"video.frame_domain": False, "video.video_domain": False})
    assert len(build_network(4, none).domain_heads) == 0
    with pytest.raises(DabenchError, match="no feature level"):
        net_for("tempooling", {"relation-5": 1.0})


def test_build_dispatch_and_feature_width():
    net = build_network(12, video_cfg(**{"backbone.name": "resnet101"}))
    assert isinstance(net, VideoDANN) and net.in_dim == 2048 and net.num_frames == 5
    assert net.neck[0].in_features == 2048 and net.classifier[1].out_features == 12
    assert list(net.backbone.parameters()) == []  # frame features come from the cache
    assert feature_dim("resnet18") == 512
    with pytest.raises(DabenchError, match="cannot extract video frame features"):
        build_network(12, video_cfg(**{"backbone.name": "lenet"}))


def revgrad_terms(cfg: RunConfig, lam: float = 1.0):
    torch.manual_seed(0)
    net = build_network(3, cfg)
    method = METHODS.get("revgrad")(net, cfg)
    xs, xt = torch.randn(4, 5, 512), torch.randn(2, 5, 512)
    return method.loss((xs, torch.tensor([0, 1, 2, 0])), (xt, torch.full((2,), -1)), lam)


@pytest.mark.parametrize("temporal", ["tempooling", "temrelation"])
def test_revgrad_has_one_domain_loss_per_enabled_level(temporal):
    terms = revgrad_terms(video_cfg(**{"model.temporal": temporal}))
    expected = {"cls", "domain_frame", "domain_video"}
    if temporal == "temrelation":
        expected |= {f"domain_relation-{k}" for k in (5, 4, 3, 2)}
    assert set(terms) == expected
    assert all(torch.isfinite(v) for v in terms.values())
    # near-zero init: every domain classifier starts at chance, BCE = log 2
    for k, v in terms.items():
        if k.startswith("domain_"):
            assert abs(float(v.detach()) - 0.6931) < 1e-3
    off = revgrad_terms(video_cfg(**{"model.temporal": temporal, "video.frame_domain": False}))
    assert "domain_frame" not in off and "domain_video" in off


def test_beta_scales_the_reversed_gradient():
    """RevGrad reverses each level's gradient with weight lam * beta (TA3N's beta)."""
    def input_grad(beta: float, lam: float = 0.8) -> torch.Tensor:
        cfg = video_cfg(**{"video.video_domain": False, "video.beta_frame": beta,
                           "video.dropout": 0.0})
        torch.manual_seed(0)
        net = build_network(3, cfg)
        method = METHODS.get("revgrad")(net, cfg)
        xs = torch.randn(4, 5, 512, requires_grad=True)
        xt = torch.randn(2, 5, 512)
        terms = method.loss((xs, torch.tensor([0, 1, 2, 0])), (xt, torch.full((2,), -1)), lam)
        terms["domain_frame"].backward()  # the domain loss alone
        head = net.domain_heads["frame"][0].weight.grad
        return xs.grad, head

    (g1, h1), (g05, h05) = input_grad(1.0), input_grad(0.5)
    assert float(g1.abs().sum()) > 0
    assert torch.allclose(g05, 0.5 * g1, rtol=1e-4, atol=1e-14)  # features: scaled by beta
    assert torch.allclose(h05, h1)  # the domain classifier itself: not reversed, not scaled
    g_neg, _ = input_grad(1.0, lam=0.4)
    assert torch.allclose(g_neg, 0.5 * g1, rtol=1e-4, atol=1e-14)
    assert build_network(3, video_cfg(**{"video.beta_frame": 0.25})).domain_weights == {
        "frame": 0.25, "video": 0.75}
