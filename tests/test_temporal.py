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
        expected["relation"] = (6 * (T - 1), 16)  # 4 scales stacked per sample
    assert {k: tuple(v.shape) for k, v in feats.items()} == expected
    assert net(x).shape == (6, 4)
    # frame rows are sample-major: row i*T + t is frame t of video i
    assert torch.allclose(feats["frame"][2 * T + 3], net.neck(x[2, 3]), atol=1e-6)
    if temporal == "tempooling":
        assert torch.allclose(feats["video"], feats["frame"].view(6, T, 32).mean(1), atol=1e-6)
    else:
        rel = feats["relation"].view(6, T - 1, 16)  # (B, K, R): row i*K + j = scale j of video i
        scales = net.relation(feats["frame"].view(6, T, 32))
        assert torch.allclose(rel[:, 1], scales[4], atol=1e-6)
        assert torch.allclose(feats["video"], rel.sum(1), atol=1e-6)
    assert torch.equal(net(x), net(x))  # eval mode: no dropout


def test_init_and_wrong_input_shape():
    net = net_for("tempooling", {"frame": 0.5})
    w = net.neck[0].weight.detach()
    assert w.shape == (32, F) and 0.0005 < float(w.std()) < 0.002 and float(net.neck[0].bias.detach().abs().max()) == 0
    with pytest.raises(DabenchError, match=r"\(B, 5, 64\)"):
        net.features(torch.randn(2, 3, F))


def test_domain_heads_follow_the_switches():
    cfg = video_cfg()
    pooling = build_network(4, cfg)  # TemPooling: no relation features, no relation head
    assert set(pooling.domain_heads) == {"frame", "video"}
    cfg = video_cfg(**{"model.temporal": "temrelation"})
    for switch, gone in (("video.frame_domain", {"frame"}), ("video.video_domain", {"video"}),
                         ("video.relation_domain", {"relation"})):
        off = video_cfg(**{"model.temporal": "temrelation", switch: False})
        assert set(domain_levels(cfg)) - set(domain_levels(off)) == gone
        net = build_network(4, off)
        assert set(net.domain_heads) == set(domain_levels(off))
    none = video_cfg(**{"video.frame_domain": False, "video.video_domain": False})
    assert len(build_network(4, none).domain_heads) == 0
    with pytest.raises(DabenchError, match="no feature level"):
        net_for("tempooling", {"relation-5": 1.0})
    assert len(build_network(4, cfg).domain_heads["relation"].heads) == 4  # one per scale


def test_build_dispatch_and_feature_width():
    net = build_network(12, video_cfg(**{"backbone.name": "resnet101"}))
    assert isinstance(net, VideoDANN) and net.in_dim == 2048 and net.num_frames == 5
    assert net.neck[0].in_features == 2048 and net.classifier[0].out_features == 12
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
    expected = {"cls", "domain_frame", "domain_video", "domain_relation"}
    assert set(terms) == expected
    assert all(torch.isfinite(v) for v in terms.values())
    # near-zero init: every domain classifier starts at chance, BCE = log 2 (the relation
    # classifiers keep PyTorch's default init, as TA3N's, so they start only near chance)
    for k, v in terms.items():
        if k.startswith("domain_") and not (k == "domain_relation" and temporal == "temrelation"):
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


def test_relation_loss_is_one_cross_entropy_over_all_scales_rows():
    """TA3N stacks the K scales' predictions into (B*K, 2) rows and calls the criterion once
    (models.py 472-488, main.py 509-535): the relation loss is the mean over scales, not a sum."""
    cfg = video_cfg(**{"model.temporal": "temrelation", "video.dropout": 0.0})
    torch.manual_seed(0)
    net = build_network(3, cfg)
    for head in net.domain_heads["relation"].heads:  # away from chance, so scales differ
        torch.nn.init.normal_(head[2].weight, 0, 1.0)
    method = METHODS.get("revgrad")(net, cfg)
    xs, xt = torch.randn(4, 5, 512), torch.randn(2, 5, 512)
    terms = method.loss((xs, torch.tensor([0, 1, 2, 0])), (xt, torch.full((2,), -1)), 1.0)
    feats = net.features(torch.cat([xs, xt]))
    rows = feats["relation"].view(6, 4, -1)  # (B, K, R)
    domain = torch.tensor([0.0] * 4 + [1.0] * 2)
    per_scale = [torch.nn.functional.binary_cross_entropy_with_logits(
        head(rows[:, j]).squeeze(1), domain) for j, head in enumerate(
            net.domain_heads["relation"].heads)]
    assert len({round(float(v.detach()), 4) for v in per_scale}) == 4  # the scales do differ
    mean = sum(per_scale) / 4
    assert torch.allclose(terms["domain_relation"], mean, atol=1e-6)
    assert not torch.allclose(terms["domain_relation"], sum(per_scale), atol=1e-3)


def test_tempooling_relation_slot_counts_the_video_loss_twice():
    """TA3N fills TemPooling's relation slot with the video-level prediction (models.py
    705-707); video.relation_slot=false counts it once."""
    cfg = video_cfg()
    terms = revgrad_terms(cfg)
    assert torch.equal(terms["domain_relation"], terms["domain_video"])
    torch.manual_seed(0)
    method = METHODS.get("revgrad")(build_network(3, cfg), cfg)
    xs, xt = torch.randn(4, 5, 512), torch.randn(2, 5, 512)
    out = method.update((xs, torch.tensor([0, 1, 2, 0])), (xt, torch.full((2,), -1)), 1.0)
    parts = out["cls"] + out["domain_frame"] + 2 * out["domain_video"]
    assert torch.allclose(out["loss"], parts, atol=1e-6)
    once = revgrad_terms(video_cfg(**{"video.relation_slot": False}))
    assert "domain_relation" not in once
    no_video = revgrad_terms(video_cfg(**{"video.video_domain": False}))
    assert set(no_video) == {"cls", "domain_frame"}


def test_video_domain_classifier_reads_the_feature_after_dropout_v():
    """TA3N applies dropout_v before both the classifier and the video domain classifier
    (models.py 679-695)."""
    net = net_for("tempooling", {"video": 0.75}).train()
    x = torch.randn(8, T, F)
    torch.manual_seed(1)
    video = net.features(x)["video"]  # (B, S), dropped out
    torch.manual_seed(1)
    frame = net.neck(x.reshape(8 * T, F)).view(8, T, -1)
    kept = net.dropout_v(frame.mean(1))  # the same dropout draws (the neck's come first)
    assert torch.allclose(video, kept, atol=1e-6)
    assert float((video == 0).float().mean()) > 0.3  # half the units are dropped in training
    assert torch.allclose(net.eval().features(x)["video"], net.neck(x.reshape(8 * T, F)).view(
        8, T, -1).mean(1), atol=1e-6)  # evaluation: no dropout


def test_relation_classifiers_keep_pytorchs_default_init():
    """TA3N's relation domain classifiers are plain nn.Linear (models.py 287-294): default
    init, not N(0, 0.001) like its other layers."""
    net = build_network(3, video_cfg(**{"model.temporal": "temrelation"}))
    w = net.domain_heads["relation"].heads[0][0].weight  # Linear(256 -> 256)
    assert float(w.detach().std()) > 0.02
    assert float(net.domain_heads["relation"].heads[0][0].bias.detach().abs().max()) > 0
    assert float(net.domain_heads["video"][0].weight.detach().std()) < 0.002
