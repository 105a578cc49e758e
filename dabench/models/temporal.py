"""Video networks on cached frame features: TemPooling and TemRelation, with RevGrad heads.

TA3N (Chen et al., "Temporal Attentive Alignment for Large-Scale Video Domain Adaptation",
ICCV 2019, https://arxiv.org/abs/1907.12743; workshop version "Temporal Attentive Alignment for
Video Domain Adaptation", CVPR-W 2019, https://arxiv.org/abs/1905.10861) defines the baselines
"TemPooling + RevGrad" and "TemRelation + RevGrad" reproduced here: a shared spatial layer on
each frame feature, a temporal module, a classifier, and domain classifiers behind gradient
reversal layers on the frame-, relation- and video-level features. TemRelation is TRN's
multi-scale relation module (Zhou et al., "Temporal Relational Reasoning in Videos", ECCV 2018,
https://arxiv.org/abs/1711.08496), with TA3N's evenly spaced (not random) choice of frame subsets.

The domain classifiers end in one logit (sigmoid cross-entropy, source 0 / target 1), which is
equivalent to TA3N's two-way softmax; each level's GRL weight (TA3N's beta) is in
`domain_weights` and RevGrad multiplies it into the GRL coefficient. As in TA3N's code
(cmhungsteve/TA3N at 2c65b5d):
- the relation level is ONE loss: each scale has its own classifier, their (B, 2) predictions are
  stacked into (B*K, 2) rows (models.py 472-488, `domain_classifier_relation`) and main.py
  (509-535) calls the criterion once per level, so the relation loss is the mean over all scales'
  rows. Here the "relation" feature is (B*K, R), sample-major, and `ScaleHeads` applies scale k's
  classifier to its rows;
- the video-level domain classifier reads the video feature after `dropout_v` (models.py
  679-695), so the dropout before the classifier is part of `features()`;
- the relation classifiers keep PyTorch's default init (models.py 287-294); the other linear
  layers are N(0, 0.001) with zero bias;
- TemPooling has no relation features; with the relation level on, TA3N appends the video-level
  prediction in the relation slot (models.py 705-707), so the video-level loss counts twice.
  `video.relation_slot` (default true) follows that; false counts it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import itertools
import math

import torch
from torch import nn

from dabench.errors import DabenchError
from dabench.models.heads import DANNNet

if TYPE_CHECKING:  # annotations only: config imports the methods, which build networks
    from dabench.config import RunConfig

# Output width of the frame-feature extractors (fc removed), so the network can be built
# without building the extractor: training reads cached features only.
FEATURE_DIMS = {"resnet18": 512, "resnet50": 2048, "resnet101": 2048}
INIT_STD = 0.001  # TA3N initialises its linear layers N(0, 0.001), biases 0


def feature_dim(backbone: str) -> int:
    if backbone not in FEATURE_DIMS:
        raise DabenchError(f"backbone '{backbone}' cannot extract video frame features; use one "
                           f"of {', '.join(FEATURE_DIMS)} (--set backbone.name=resnet101)")
    return FEATURE_DIMS[backbone]


def relation_subsets(num_frames: int, max_per_scale: int = 3) -> dict[int, list[tuple[int, ...]]]:
    """Ordered frame subsets per scale, largest scale first: {T: [(0..T-1)], T-1: [...], ..., 2: [...]}.

    For each scale k, TRN lists the combinations of k frames in order (itertools.combinations)
    and TA3N keeps `min(max_per_scale, n)` of them at the evenly spaced positions
    ceil(i * n / m), i = 0..m-1 (TA3N's `idx_relations_evensample`). For T = 5:
    5 -> [(0,1,2,3,4)]; 4 -> [(0,1,2,3), (0,1,3,4), (1,2,3,4)];
    3 -> [(0,1,2), (0,2,4), (1,2,4)]; 2 -> [(0,1), (1,2), (2,3)].
    """
    if num_frames < 2:
        raise DabenchError(f"TemRelation needs at least 2 frames per video, got "
                           f"{num_frames}; use --set video.segments=5 or model.temporal=tempooling")
    out = {}
    for scale in range(num_frames, 1, -1):
        combos = list(itertools.combinations(range(num_frames), scale))
        m = min(max_per_scale, len(combos))
        out[scale] = [combos[math.ceil(i * len(combos) / m)] for i in range(m)]
    return out


class TemRelation(nn.Module):
    """TRN multi-scale relation: per scale, each chosen subset (B, k*D) -> ReLU -> Linear -> ReLU,
    summed within the scale; `forward` returns the per-scale sums {k: (B, out_dim)}."""

    def __init__(self, num_frames: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.subsets = relation_subsets(num_frames)
        self.fusion = nn.ModuleDict({
            str(k): nn.Sequential(nn.ReLU(), nn.Linear(k * in_dim, out_dim), nn.ReLU())
            for k in self.subsets})
        for k, subsets in self.subsets.items():  # fixed index tensors, moved with the module
            self.register_buffer(f"idx_{k}", torch.tensor(subsets, dtype=torch.long),
                                 persistent=False)

    def forward(self, frames: torch.Tensor) -> dict[int, torch.Tensor]:
        b, _, d = frames.shape  # (B, T, D)
        out = {}
        for k in self.subsets:
            idx = getattr(self, f"idx_{k}")  # (m, k)
            chosen = frames[:, idx]  # (B, m, k, D), frames in temporal order
            fused = self.fusion[str(k)](chosen.reshape(b, idx.shape[0], k * d))  # (B, m, out)
            out[k] = fused.sum(1)  # (B, out)
        return out


def _domain_head(dim: int, outputs: int = 1) -> nn.Sequential:
    """TA3N's domain classifier: Linear(d -> d) -> ReLU -> Linear(d -> 1 logit, or 2 for a
    softmax as TA3N's own, models.py 170, 281, 292)."""
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, outputs))


class ScaleHeads(nn.Module):
    """One domain classifier per relation scale on stacked rows: (B*K, R) -> (B*K, O), O = 1
    logit or 2 (softmax).

    Row i*K + j is scale j of sample i (the order of `VideoDANN.features()["relation"]`)."""

    def __init__(self, num_scales: int, dim: int, outputs: int = 1) -> None:
        super().__init__()
        self.outputs = outputs
        self.heads = nn.ModuleList(_domain_head(dim, outputs) for _ in range(num_scales))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        k = len(self.heads)
        per_scale = rows.view(-1, k, rows.shape[-1])  # (B, K, R)
        out = [head(per_scale[:, j]) for j, head in enumerate(self.heads)]  # K x (B, O)
        return torch.stack(out, 1).reshape(-1, self.outputs)  # (B*K, O), sample-major


class VideoDANN(DANNNet):
    """Cached frame features (B, T, F) -> spatial (B*T, S) -> temporal (B, d) -> classes (B, C).

    `features(x)` returns {"frame": (B*T, S), "video": (B, d)} and, for TemRelation,
    {"relation": (B*K, relation_dim)}, the K = T-1 scales T..2 stacked per sample. Frame and
    relation rows are sample-major (sample i owns rows i*T .. i*T+T-1), so the source rows come
    first, as RevGrad expects. "video" is taken after the video-level dropout (TA3N's
    `dropout_v`), which the classifier and the video-level domain classifier both read.
    `domain_aliases` maps a level to the level whose loss fills its slot (TemPooling's relation
    slot: the video level).
    """

    embedding_key = "video"  # what the classifier reads (and what PAD / t-SNE look at)

    def __init__(self, num_classes: int, in_dim: int, num_frames: int, temporal: str,
                 spatial_dim: int = 512, relation_dim: int = 256, dropout: float = 0.5,
                 levels: dict[str, float] | None = None, relation_slot: bool = True,
                 domain_outputs: int = 1) -> None:
        if temporal not in ("tempooling", "temrelation"):
            raise DabenchError(f"unknown temporal module '{temporal}'; use tempooling or "
                               "temrelation")
        spatial = nn.Sequential(nn.Linear(in_dim, spatial_dim), nn.ReLU(inplace=True),
                                nn.Dropout(dropout))
        video_dim = relation_dim if temporal == "temrelation" else spatial_dim
        classifier = nn.Sequential(nn.Linear(video_dim, num_classes))
        levels = dict(levels or {})
        aliases = {}
        if temporal == "tempooling" and "relation" in levels:
            levels.pop("relation")
            if relation_slot and "video" in levels:
                aliases["relation"] = "video"  # TA3N models.py 705-707
        dims = {"frame": spatial_dim, "video": video_dim}
        if temporal == "temrelation":
            dims["relation"] = relation_dim
        unknown = sorted(set(levels) - set(dims))
        if unknown:
            raise DabenchError(f"no feature level(s) {unknown} in a {temporal} network")
        heads = {name: (ScaleHeads(num_frames - 1, dims[name], domain_outputs)
                        if name == "relation" else _domain_head(dims[name], domain_outputs))
                 for name in levels}
        super().__init__(nn.Identity(), spatial, classifier, heads, levels)
        self.domain_aliases = aliases
        self.dropout_v = nn.Dropout(dropout)
        self.num_frames = num_frames
        self.in_dim = in_dim
        self.temporal = temporal
        self.relation = (TemRelation(num_frames, spatial_dim, relation_dim)
                         if temporal == "temrelation" else None)
        ta3n_init = [h for name, h in heads.items() if name != "relation"]  # relation: default
        for module in (spatial, classifier, *ta3n_init):
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, 0.0, INIT_STD)
                    nn.init.zeros_(layer.bias)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 3 or x.shape[1] != self.num_frames or x.shape[2] != self.in_dim:
            raise DabenchError(f"video features of shape {tuple(x.shape)} do not fit the "
                               f"network (B, {self.num_frames}, {self.in_dim}); the cached "
                               "features were extracted with other video.segments/backbone")
        b, t, _ = x.shape  # (B, T, F)
        frame = self.neck(x.reshape(b * t, -1))  # (B*T, S)
        per_video = frame.view(b, t, -1)  # (B, T, S)
        out = {"frame": frame}
        if self.relation is None:
            video = per_video.mean(1)  # (B, S): TemPooling
        else:
            scales = torch.stack(list(self.relation(per_video).values()), 1)  # (B, K, R)
            out["relation"] = scales.reshape(b * scales.shape[1], -1)  # (B*K, R)
            video = scales.sum(1)  # (B, R)
        out["video"] = self.dropout_v(video)  # (B, d)
        return out

    def classify(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(feats["video"])  # (B, C)


def domain_levels(cfg: RunConfig) -> dict[str, float]:
    """The adapted feature levels and their GRL weights, from the `video.*` switches."""
    v = cfg.video
    levels = {}
    if v.frame_domain:
        levels["frame"] = v.beta_frame
    if v.video_domain:
        levels["video"] = v.beta_video
    if v.relation_domain:
        levels["relation"] = v.beta_relation  # TemPooling: the slot TA3N fills with "video"
    return levels


def build_video_network(num_classes: int, cfg: RunConfig) -> VideoDANN:
    v = cfg.video
    return VideoDANN(num_classes, feature_dim(cfg.backbone.name), v.segments,
                     cfg.model.temporal, v.spatial_dim, v.relation_dim, v.dropout,
                     domain_levels(cfg), v.relation_slot,
                     2 if cfg.model.domain_output == "softmax" else 1)
