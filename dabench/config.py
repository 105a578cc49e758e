"""RunConfig: every setting of one run, resolved as defaults <- task YAML <- recipe <- --set.

Settings are addressed by dotted keys (`optim.lr`, `grl.gamma`, `backbone.name`), typed by the
dataclass fields, and validated; an unknown key or a bad value is a DabenchError that lists the
valid keys. The resolved config (a flat dict) is saved with each run and hashed into its id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from dabench.errors import DabenchError, clip
from dabench.registry import suggest

# Keys that say where/how a run executes, not what it computes: not part of the run id.
EXECUTION_KEYS = frozenset({"device", "num_workers", "checkpoint_every", "amp", "channels_last",
                            "compile",
                            "video.cache_dir", "video.decode_workers",
                            "video.extract_batch_size"})


def _choice(*values: str) -> dict:
    return {"choices": values}


@dataclass
class BackboneConfig:
    name: str = "lenet"
    weights: str = "none"  # "none", "imagenet" (torchvision's download) or a path to a .pth file


@dataclass
class ModelConfig:
    bottleneck_dim: int = 0  # 0: the classifier reads the backbone features directly
    bottleneck_bn: bool = False
    classifier_layers: int = 2  # hidden layers of the label predictor (LeNet: 100 -> 100 -> C)
    hidden_dim: int = 100  # label predictor hidden width
    domain_hidden: int = 100  # domain classifier hidden width
    domain_layers: int = 1  # hidden layers in the domain classifier
    domain_dropout: float = 0.0
    domain_bn: bool = False
    temporal: str = field(default="none", metadata=_choice("none", "tempooling", "temrelation"))


@dataclass
class OptimConfig:
    name: str = field(default="sgd", metadata=_choice("sgd", "adam"))  # adam: betas (momentum, 0.999)
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    lr_schedule: str = field(default="dann", metadata=_choice("dann", "constant"))
    lr_alpha: float = 10.0
    lr_beta: float = 0.75
    lr_horizon: int = 0  # steps over which p_lr goes 0 -> 1; 0 = the whole run
    lr_step_offset: int = 0  # p_lr = (step + offset) / horizon (TA3N: one epoch, p from 1/30)
    backbone_lr_mult: float = 1.0  # pretrained backbones train at a fraction of the head lr
    clip_grad_norm: float = 0.0  # 0 = off


@dataclass
class GRLConfig:
    schedule: str = field(default="dann", metadata=_choice("dann", "constant"))
    gamma: float = 10.0
    max: float = 1.0
    horizon: int = 0  # steps over which p goes 0 -> 1; 0 = the whole run
    weight: float = 1.0  # domain loss weight


@dataclass
class VideoConfig:
    """Video tasks (TA3N protocol): frame sampling, cached frame features, temporal model.

    The frame-feature extractor is `backbone.name` / `backbone.weights` (ResNet-101, ImageNet,
    for the published numbers); features are cached per (video, frames, backbone, weights).
    """

    segments: int = 5  # frames per video: the centre frame of each of `segments` segments
    frame_size: int = 224  # resize the short side to this, then centre-crop a square
    spatial_dim: int = 512  # shared Linear(feature dim -> spatial_dim) per frame
    relation_dim: int = 256  # TemRelation bottleneck per scale
    dropout: float = 0.5  # after the spatial layer and before the classifier
    frame_domain: bool = True  # domain classifier on every frame feature (B*T, spatial_dim)
    video_domain: bool = True  # domain classifier on the video feature (B, d)
    relation_domain: bool = True  # one per TemRelation scale, one loss over all scales' rows
    relation_slot: bool = True  # TemPooling + relation_domain: count the video-level loss again
    # in the relation slot, as TA3N's code does (models.py 705-707); false: once
    beta_frame: float = 0.5  # GRL weight of each level (TA3N's beta)
    beta_video: float = 0.75
    beta_relation: float = 0.75
    cache_dir: str = ""  # "" = <data root>/features
    extract_batch_size: int = 32  # videos per feature-extraction batch
    decode_workers: int = 4  # DataLoader workers decoding videos during extraction


@dataclass
class RunConfig:
    task: str = ""
    method: str = "revgrad"
    seed: int = 0
    recipe: str = "dann-paper"
    steps: int = 1000
    batch_size: int = 64  # source batch (and target batch unless set below)
    target_batch: str = field(default="same", metadata=_choice("same", "proportional"))
    # proportional: floor(batch_size x N_target_train / N_source_train), TA3N's target batch
    target_batch_size: int = 0  # > 0: this many target items per step (overrides target_batch)
    target_val: float = 0.0  # > 0: hold out this share of each class of the target's training
    # items (seeded) as a labelled validation split; evaluations read it instead of the test set
    target_only_test: float = 0.3  # target-only where train and test are the same images
    # (Office): this share of each class (seeded) is its test set, it trains on the rest
    eval_every: int = 250
    eval_batch_size: int = 500
    log_every: int = 50
    device: str = field(default="auto", metadata=_choice("auto", "cpu", "cuda"))
    num_workers: int = 0
    deterministic: bool = True
    image_cache: bool = False  # image tasks: decode every image once into memory (uint8),
    # crop/flip/normalise batches on the device (Office-31 at 256x256: ~0.8 GB)
    pad_samples: int = 1000  # per domain, for the proxy A-distance and features.npz; 0 = off
    compile: bool = False  # torch.compile the backbone (in place: checkpoints are unchanged)
    amp: bool = True  # bf16 autocast on CUDA (the CPU path always stays exact fp32)
    channels_last: bool = True  # NHWC memory format for image batches and networks
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    grl: GRLConfig = field(default_factory=GRLConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    def flat(self) -> dict[str, Any]:
        return flatten(self)

    def run_id(self) -> str:
        """12 hex digits of the SHA-256 of the resolved config, execution keys excluded."""
        body = {k: v for k, v in self.flat().items() if k not in EXECUTION_KEYS}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- dotted-key access ----------------------------------------------------------------------------

def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def _fields() -> dict[str, tuple[Any, dataclasses.Field]]:
    """dotted key -> (owning dataclass type, field), for RunConfig and its sections."""
    hints_cache: dict[type, dict] = {}
    out: dict[str, tuple[Any, dataclasses.Field]] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = hints_cache.setdefault(cls, typing.get_type_hints(cls))
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            if dataclasses.is_dataclass(kind):
                walk(kind, f"{prefix}{f.name}.")
            else:
                out[f"{prefix}{f.name}"] = (kind, f)

    walk(RunConfig, "")
    return out


FIELDS = _fields()
KEYS = sorted(FIELDS)

IDENTITY_KEYS = frozenset({"task", "method", "seed"})  # given by the command, not by --set
_TYPE_NAMES = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(key: str, value: Any) -> Any:
    """Convert `value` (a YAML scalar or a --set string) to the type of `key`, validated."""
    if key not in FIELDS:
        raise DabenchError(f"unknown setting '{clip(key)}'.{suggest(key, KEYS)} "
                           f"Valid keys: {', '.join(KEYS)}")
    kind, f = FIELDS[key]
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    text = str(value).strip()
    try:
        if kind is bool:
            if isinstance(value, bool):
                out = value
            elif text.lower() in _TRUE | _FALSE:
                out = text.lower() in _TRUE
            else:
                raise ValueError
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            out = int(value) if isinstance(value, (int, float)) else int(text)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
        else:
            out = text
    except (TypeError, ValueError):
        raise DabenchError(f"setting '{key}' needs {_TYPE_NAMES[kind]}, got '{clip(value)}'") from None
    choices = f.metadata.get("choices")
    if choices and out not in choices:
        raise DabenchError(f"setting '{key}' must be one of {', '.join(choices)}, got '{clip(out)}'."
                           f"{suggest(str(out), list(choices))}")
    if kind in (int, float) and out < 0:
        raise DabenchError(f"setting '{key}' must not be negative, got {out}")
    return out


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`["optim.lr=0.01", "steps=200"]` -> typed {key: value}; errors name the bad item."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DabenchError(f"--set '{clip(pair)}' is not of the form key=value "
                               "(for example --set optim.lr=0.01)")
        if key.strip() in IDENTITY_KEYS:
            raise DabenchError(f"--set {key.strip()}=... is not allowed; give tasks as arguments "
                               "and use --method / --seed")
        out[key.strip()] = coerce(key.strip(), value)
    return out


def apply(cfg: RunConfig, values: dict[str, Any], where: str) -> None:
    """Set dotted keys on `cfg` in place; `where` names the origin in error messages."""
    for key, value in values.items():
        try:
            typed = coerce(key, value)
        except DabenchError as exc:
            raise DabenchError(f"{where}: {exc}") from None
        target: Any = cfg
        *parents, last = key.split(".")
        for part in parents:
            target = getattr(target, part)
        setattr(target, last, typed)


def resolve(task: Any, method: str, seed: int, overrides: dict[str, Any]) -> RunConfig:
    """defaults <- task (family defaults and task config) <- recipe <- overrides (--set).

    The recipe is chosen by the overrides if they name one, else by the task config.
    """
    cfg = RunConfig(task=task.name, method=method, seed=seed)
    apply(cfg, task.config, f"task '{task.name}' ({task.file})")
    recipe = overrides.get("recipe", cfg.recipe)
    if not task.recipes and "recipe" in overrides:  # nothing to choose from: not a free label
        raise DabenchError(f"unknown recipe '{clip(recipe)}': task '{task.name}' defines no "
                           "recipes; drop --set recipe=...")
    if task.recipes and recipe not in task.recipes:
        raise DabenchError(f"unknown recipe '{clip(recipe)}' for task '{task.name}'."
                           f"{suggest(recipe, sorted(task.recipes))} "
                           f"Known: {', '.join(sorted(task.recipes))}")
    cfg.recipe = recipe
    apply(cfg, task.recipes.get(recipe, {}), f"recipe '{recipe}' ({task.file})")
    apply(cfg, overrides, "--set")
    return cfg
