"""RunConfig: every setting of one run, resolved as defaults <- task YAML <- recipe <- --set.

Settings are addressed by dotted keys (`optim.lr`, `grl.gamma`, `backbone.name`), typed by the
dataclass fields, and validated (choices and numeric ranges from `dabench.fields`); an unknown
key or a bad value is a DabenchError that lists the valid keys. The core sections live here;
each method adds its own sections (`grl` comes from `dabench/methods/revgrad.py`), so every run's
config holds every section and run ids do not depend on which methods exist besides. The resolved
config (a flat dict) is saved with each run and hashed into its id. One module past ~300 lines
on purpose: the core sections, the dotted-key table built from them and the checks that read
that table are one unit; the choices and ranges themselves live in `dabench.fields`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dabench.errors import DabenchError, clip
from dabench.fields import at_least, between, choice, describe, in_range, positive
from dabench.methods import config_sections
from dabench.registry import suggest
from dabench.training.tracking import TRACKERS

# Keys that say where/how a run executes, not what it computes: not part of the run id.
EXECUTION_KEYS = frozenset({"device", "num_workers", "checkpoint_every", "channels_last",
                            "compile", "threads", "track",
                            "video.cache_dir", "video.decode_workers",
                            "video.extract_batch_size", "selection.validators"})
# Settings added after run ids were fixed, with their defaults: left out of the run id while at
# the default, so the ids of runs that do not use them stay what they were.
LATER_KEYS = {"backbone.width": 100, "selection.holdout": 0.0, "selection.reverse": False,
              "selection.patience": 0, "selection.reverse_start": "warm",
              "selection.stop": "patience", "selection.source_val": "random",
              "target_sampling": "epochs", "amp": True, "test_crops": "centre",
              "model.forward": "joint", "model.init": "default", "model.bottleneck_relu": True,
              "model.domain_output": "logit", "optim.lr_update": "before",
              "model.hidden_dims": "", "image_cache_budget_mb": 64,
              "selection.validator_items": 1000, "plugins": ""}
# Renamed settings, old key -> new key: the old key is still accepted everywhere (an alias), and
# the run id hashes the first name, so renaming changes no run id.
RENAMED = {"pad_samples": "proxy_a_distance_items"}
# Method config sections that were in every run id from the start; a section a method adds
# later is left out of the id while at its defaults (like LATER_KEYS).
FIRST_SECTIONS = frozenset({"grl"})
SEED_MAX = 2**32 - 1  # numpy's seeds are 32-bit
_COUNT = at_least(1)  # steps, sizes, widths: at least one
_FRACTION = between(0, 1, high_open=True)  # dropout, momentum


@dataclass
class BackboneConfig:
    name: str = "lenet"
    weights: str = "none"  # "none", "imagenet" (torchvision's download) or a path to a .pth file
    width: int = field(default=100, metadata=_COUNT)  # hidden units of the `shallow` backbone


@dataclass
class ModelConfig:
    bottleneck_dim: int = 0  # 0: the classifier reads the backbone features directly
    bottleneck_bn: bool = False
    classifier_layers: int = 2  # hidden layers of the label predictor (LeNet: 100 -> 100 -> C)
    hidden_dim: int = field(default=100, metadata=_COUNT)  # label predictor hidden width
    # comma-separated hidden widths of the label predictor, e.g. "3072,2048" (the DANN paper's
    # SVHN net); replaces hidden_dim x classifier_layers when set
    hidden_dims: str = ""
    domain_hidden: int = field(default=100, metadata=_COUNT)  # domain classifier hidden width
    domain_layers: int = 1  # hidden layers in the domain classifier
    domain_dropout: float = field(default=0.0, metadata=_FRACTION)
    domain_bn: bool = False
    temporal: str = field(default="none", metadata=choice("none", "tempooling", "temrelation"))
    # "joint": source and target in one forward pass (BatchNorm normalises the mixed batch;
    # TLlib); "per-domain": one pass per domain, each normalised with its own batch statistics
    # (thuml/CDAN at c904cd3, pytorch/train_image.py 175-176)
    forward: str = field(default="joint", metadata=choice("joint", "per-domain"))
    # "xavier": Xavier-normal weights and zero biases on the new layers (bottleneck, classifier,
    # domain classifiers; CDAN network.py 13-24, 208-209, 376); "default": PyTorch's own
    init: str = field(default="default", metadata=choice("default", "xavier"))
    bottleneck_relu: bool = True  # false: a purely linear bottleneck (CDAN network.py 206, 222-223)
    # "logit": one logit per row and a sigmoid cross-entropy (the Caffe release); "softmax":
    # two outputs and a softmax cross-entropy (TA3N at 2c65b5d: models.py 170, 281, 292;
    # main.py 206, 521-533)
    domain_output: str = field(default="logit", metadata=choice("logit", "softmax"))


@dataclass
class OptimConfig:
    # adam: betas (momentum, 0.999)
    name: str = field(default="sgd", metadata=choice("sgd", "adam"))
    lr: float = field(default=0.01, metadata=positive())
    momentum: float = field(default=0.9, metadata=_FRACTION)
    weight_decay: float = 0.0
    nesterov: bool = False
    lr_schedule: str = field(default="dann", metadata=choice("dann", "constant"))
    lr_alpha: float = 10.0
    lr_beta: float = 0.75
    lr_horizon: int = 0  # steps over which p_lr goes 0 -> 1; 0 = the whole run
    lr_step_offset: int = 0  # p_lr = (step + offset) / horizon (TA3N: one epoch, p from 1/30)
    backbone_lr_mult: float = 1.0  # pretrained backbones train at a fraction of the head lr
    clip_grad_norm: float = 0.0  # 0 = off
    # "before": step i trains at the factor of p_i; "after": the factor is updated after each
    # step, so step i trains at p_(i-1)'s and step 0 at the base rate (TA3N at 2c65b5d, main.py
    # 619-621, 800-802)
    lr_update: str = field(default="before", metadata=choice("before", "after"))


@dataclass
class VideoConfig:
    """Video tasks (TA3N protocol): frame sampling, cached frame features, temporal model.

    The frame-feature extractor is `backbone.name` / `backbone.weights` (ResNet-101, ImageNet,
    for the published numbers); features are cached per (video, frames, backbone, weights).
    """

    # frames per video: the centre frame of each of `segments` segments
    segments: int = field(default=5, metadata=_COUNT)
    # resize the short side to this, then centre-crop a square
    frame_size: int = field(default=224, metadata=_COUNT)
    # shared Linear(feature dim -> spatial_dim) per frame
    spatial_dim: int = field(default=512, metadata=_COUNT)
    relation_dim: int = field(default=256, metadata=_COUNT)  # TemRelation bottleneck per scale
    # after the spatial layer and before the classifier
    dropout: float = field(default=0.5, metadata=_FRACTION)
    frame_domain: bool = True  # domain classifier on every frame feature (B*T, spatial_dim)
    video_domain: bool = True  # domain classifier on the video feature (B, d)
    relation_domain: bool = True  # one per TemRelation scale, one loss over all scales' rows
    relation_slot: bool = True  # TemPooling + relation_domain: count the video-level loss again
    # in the relation slot, as TA3N's code does (models.py 705-707); false: once
    beta_frame: float = 0.5  # GRL weight of each level (TA3N's beta)
    beta_video: float = 0.75
    beta_relation: float = 0.75
    cache_dir: str = ""  # "" = <data root>/features
    # videos per feature-extraction batch
    extract_batch_size: int = field(default=32, metadata=_COUNT)
    decode_workers: int = 4  # DataLoader workers decoding videos during extraction


@dataclass
class SelectionConfig:
    """Model selection without target labels (dabench/analysis/selection.py).

    holdout > 0 keeps that fraction of the labelled source (S_V) and of the unlabelled target
    (T_V) out of training: `report --select source-val` then uses the accuracy on S_V. reverse:
    also train the reverse classifier of JMLR 2016 Section 5.1.2 after the run (its accuracy on
    S_V is what `report --select reverse` maximises). patience > 0 stops a run after that many
    evaluations without a better S_V accuracy (early stopping on the source validation set).
    stop = "release": the DANN authors' rule instead (DANN.py 96, 156-164 of
    GRAAL-Research/domain_adversarial_neural_network at 74eec5e): stop at the first evaluation t
    (counted from 0) that is not a new best and lies past max(patience, floor(1.5 t_best)).
    reverse_start: eta_r starts from eta's weights ("warm") or from a fresh initialisation
    ("scratch", the release's `fit(..., do_random_init=True)`). source_val: S_V is a seeded
    random share of the source ("random") or the last items of its file ("last", the release's
    experiments_amazon.py 40-42).
    validators: compute the label-free validators (dabench/analysis/validators.py: entropy, im,
    bnm, snd, dev) at every evaluation, for `report --select` and `--view selection`;
    validator_items: at most that many target (and S_V) items for SND and DEV.
    """

    holdout: float = field(default=0.0, metadata=between(0, 1, high_open=True))
    reverse: bool = False
    patience: int = 0
    stop: str = field(default="patience", metadata=choice("patience", "release"))
    reverse_start: str = field(default="warm", metadata=choice("warm", "scratch"))
    source_val: str = field(default="random", metadata=choice("random", "last"))
    validators: bool = True
    validator_items: int = field(default=1000, metadata=at_least(2))


@dataclass
class CoreConfig:
    """The sections every run has whatever its method; `RunConfig` adds the methods' own."""

    task: str = ""
    method: str = "revgrad"
    seed: int = field(default=0, metadata=between(0, SEED_MAX))
    recipe: str = "dann-paper"
    steps: int = field(default=1000, metadata=_COUNT)
    batch_size: int = field(default=64, metadata=_COUNT)  # source (and target unless below)
    # proportional: floor(batch_size x N_target_train / N_source_train), TA3N's target batch
    target_batch: str = field(default="same", metadata=choice("same", "proportional"))
    target_batch_size: int = 0  # > 0: this many target items per step (overrides target_batch)
    # "epochs": each epoch a fresh permutation of the target; "replacement": every target item
    # drawn uniformly with replacement (the DANN release, DANN.py 128)
    target_sampling: str = field(default="epochs", metadata=choice("epochs", "replacement"))
    # > 0: hold out this share of each class of the target's training items (seeded) as a
    # labelled validation split; evaluations read it instead of the test set (screening)
    target_val: float = field(default=0.0, metadata=_FRACTION)
    # target-only where train and test are the same images (Office): this share of each class
    # (seeded) is its test set, it trains on the rest
    target_only_test: float = field(default=0.3, metadata=between(0, 1, low_open=True, high_open=True))
    eval_every: int = field(default=250, metadata=_COUNT)
    eval_batch_size: int = field(default=500, metadata=_COUNT)
    log_every: int = field(default=50, metadata=_COUNT)
    device: str = field(default="auto", metadata=choice("auto", "cpu", "cuda"))
    num_workers: int = 0
    checkpoint_every: int = 0  # steps between checkpoints, written at evaluations (0: at each)
    threads: int = 0  # CPU threads for tensor ops (0 = PyTorch's default); 1 for tiny networks,
    # whose ops are too small to split (2 threads on a busy 2-core machine: 20x slower steps)
    deterministic: bool = True
    image_cache: bool = False  # image tasks: decode every image once into memory (uint8),
    # crop/flip/normalise batches on the device (Office-31 at 256x256: ~0.8 GB); true forces it,
    # false leaves it to the budget below
    # image folders: cache a domain anyway when its decoded pixels fit this many MiB (0: only
    # with image_cache=true); a 9,001-image folder of 28x28 digits is 21 MiB, Office-31 webcam
    # at 256x256 150 MiB (so the Office tasks keep their uncached default)
    image_cache_budget_mb: int = 64
    # held-out items per domain embedded at the end (features.npz) for the proxy A-distance
    # and `plot features`; 0 = off. Was `pad_samples` (still accepted).
    proxy_a_distance_items: int = 1000
    compile: bool = False  # torch.compile the backbone (in place: checkpoints are unchanged)
    # bf16 autocast on CUDA (the CPU path always stays exact fp32); false: fp32 throughout, as
    # the reference code ran (part of the run id; result.json records the precision used)
    amp: bool = True
    # evaluation of image tasks: the centre crop, or the mean softmax over ten crops (four
    # corners and the centre, each also flipped; thuml/CDAN c904cd3 pre_process.py 169-240)
    test_crops: str = field(default="centre", metadata=choice("centre", "ten"))
    # live tracking of the curves (dabench/training/tracking.py): --track, not in the run id
    track: str = field(default="none", metadata=choice(*TRACKERS))
    # the plugins the run uses, "dist==version" or "file.py@sha256:..." (dabench/plugins.py);
    # set by resolve, part of the run id, so two versions of a plugin never share a run
    plugins: str = ""
    channels_last: bool = True  # NHWC memory format for image batches and networks
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    # the keys a sweep varied for this run: recorded with it, not a setting (not in the run id)
    sweep: ClassVar[tuple[str, ...]] = ()

    def flat(self) -> dict[str, Any]:
        return flatten(self)

    def run_id(self) -> str:
        """12 hex digits of the SHA-256 of the resolved config's `identity`."""
        text = json.dumps(identity(self.flat()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _run_config(sections: list[tuple[str, type]]) -> type:
    """CoreConfig plus one field per method config section (e.g. `grl`), sorted by name."""
    core = {f.name for f in dataclasses.fields(CoreConfig)}
    for name, _ in sections:
        if name in core:
            raise ValueError(f"a method's config section '{name}' clashes with a core setting")
    cls = dataclasses.make_dataclass(
        "RunConfig", [(name, kind, field(default_factory=kind)) for name, kind in sections],
        bases=(CoreConfig,), namespace={"__doc__": "Every setting of one run (see the module)."})
    cls.__module__ = __name__  # so pickle and reprs find it here
    return cls


@dataclass(frozen=True)
class _Schema:
    """What is derived from the methods' config sections: rebuilt when a method registers
    after import (a plugin file, a notebook), so its section and `--set` keys exist too."""

    version: int
    run_config: type
    fields: dict[str, tuple[Any, dataclasses.Field]]
    later: dict[str, Any]


_SCHEMA: list[_Schema] = []  # the current one (a list, to replace it in place)


def _schema() -> _Schema:
    from dabench.methods import METHODS

    sections = sorted(config_sections().items())  # loads the methods (and their plugins)
    if _SCHEMA and _SCHEMA[0].version == METHODS.version:
        return _SCHEMA[0]
    cls = _run_config(sections)
    later = {**LATER_KEYS, **{k: v for k, v in flatten(cls()).items()
                              if k.split(".")[0] in {n for n, _ in sections} - FIRST_SECTIONS}}
    _SCHEMA[:] = [_Schema(METHODS.version, cls, _fields(cls), later)]
    return _SCHEMA[0]


def __getattr__(name: str) -> Any:
    """`RunConfig`, `FIELDS` (dotted key -> (type, field)) and `KEYS`, as of the methods
    registered now."""
    if name == "RunConfig":
        return _schema().run_config
    if name == "FIELDS":
        return _schema().fields
    if name == "KEYS":
        return sorted(_schema().fields)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _fields(run_config: type) -> dict[str, tuple[Any, dataclasses.Field]]:
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

    walk(run_config, "")
    return out


_FIRST_NAMES = {new: old for old, new in RENAMED.items()}


def identity(flat: dict[str, Any]) -> dict[str, Any]:
    """What a run computes, as its id hashes it: execution keys and keys added later (while at
    their defaults) left out, renamed keys under their first name. Also groups runs in reports,
    so runs from before and after a key was added or renamed fall in the same group."""
    later = _schema().later
    return {_FIRST_NAMES.get(k, k): v for k, v in flat.items()
            if k not in EXECUTION_KEYS and not (k in later and v == later[k])}


def group_key(flat: dict[str, Any], leave_out: Any = ()) -> str:
    """The one grouping of runs, for model selection and for every table: the SHA-256 of the
    run's `identity` (so execution keys such as `device` never split a group) without the keys
    in `leave_out` (the seed for a row of seeds; the swept keys for a choice between sweep
    points)."""
    body = {k: v for k, v in identity(flat).items() if k not in set(leave_out)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def upgrade_keys(flat: dict[str, Any]) -> dict[str, Any]:
    """A stored flat config with renamed keys under their current names."""
    return {RENAMED.get(k, k): v for k, v in flat.items()}


# given by the command (and the plugins it loads), not by --set
IDENTITY_KEYS = frozenset({"task", "method", "seed", "plugins"})
_TYPE_NAMES = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(key: str, value: Any) -> Any:
    """Convert `value` (a YAML scalar or a --set string) to the type of `key`, validated."""
    key = RENAMED.get(key, key)
    fields = _schema().fields
    if key not in fields:
        keys = sorted(fields)
        raise DabenchError(f"unknown setting '{clip(key)}'.{suggest(key, keys)} "
                           f"Valid keys: {', '.join(keys)}")
    kind, f = fields[key]
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
    except (TypeError, ValueError, OverflowError):
        raise DabenchError(f"setting '{key}' needs {_TYPE_NAMES[kind]}, got "
                           f"'{clip(value)}'") from None
    choices = f.metadata.get("choices")
    if choices and out not in choices:
        raise DabenchError(f"setting '{key}' must be one of {', '.join(choices)}, got "
                           f"'{clip(out)}'.{suggest(str(out), list(choices))}")
    if kind is float and not math.isfinite(out):
        raise DabenchError(f"setting '{key}' must be a finite number, got {clip(value)}")
    if kind in (int, float):
        bounds = f.metadata.get("range", (0, None, False, False))  # default: not negative
        if not in_range(out, *bounds):
            raise DabenchError(f"setting '{key}' must be {describe(*bounds)}, got {out:g}")
    return out


def check_seed(seed: Any, where: str = "--seed") -> int:
    """A seed as an int in [0, 2**32 - 1] (numpy's range), or a one-line DabenchError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise DabenchError(f"{where} {clip(seed)} is out of range: seeds are integers from "
                           f"0 to {SEED_MAX} (2**32 - 1)")
    return seed


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
        out[RENAMED.get(key.strip(), key.strip())] = coerce(key.strip(), value)
    return out


def apply(cfg: RunConfig, values: dict[str, Any], where: str) -> None:
    """Set dotted keys on `cfg` in place; `where` names the origin in error messages."""
    for key, value in values.items():
        try:
            typed = coerce(key, value)
        except DabenchError as exc:
            raise DabenchError(f"{where}: {exc}") from None
        target: Any = cfg
        *parents, last = RENAMED.get(key, key).split(".")
        for part in parents:
            target = getattr(target, part)
        setattr(target, last, typed)


def resolve(task: Any, method: str, seed: int, overrides: dict[str, Any]) -> RunConfig:
    """defaults <- task (family defaults and task config) <- recipe <- overrides (--set).

    The recipe is chosen by the overrides if they name one, else by the task config.
    """
    cfg = _schema().run_config(task=task.name, method=method, seed=check_seed(seed))
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
    for key in overrides:
        check_applies(key, task)
    apply(cfg, overrides, "--set")
    if getattr(task, "modality", "") == "video" and cfg.model.temporal == "none":
        if overrides.get("model.temporal") == "none":
            raise DabenchError(f"video task '{task.name}' needs a temporal model; use --set "
                               "model.temporal=tempooling or temrelation")
        cfg.model.temporal = "tempooling"  # a video task's defaults without one: the video net
    from dabench.methods import METHODS
    from dabench.plugins import run_identity

    domains = [getattr(task, "source", None), *getattr(task, "targets", ())]
    cfg.plugins = run_identity(METHODS.get(method) if method in METHODS else None,
                               cfg.backbone.name,
                               sorted({d.loader for d in domains if d is not None}))
    return cfg


# Settings that mean something for one modality of task only: given to another they are an
# error (a suite of several modalities passes each task only its own; runs/plan.py).
MODALITY_KEYS = {"video.": "video", "model.temporal": "video", "image_cache": "image",
                 "test_crops": "image", "image_cache_budget_mb": "image"}


def modality_of(key: str) -> str | None:
    return next((m for k, m in MODALITY_KEYS.items()
                 if key == k or (k.endswith(".") and key.startswith(k))), None)


def check_applies(key: str, task: Any) -> None:
    need, has = modality_of(key), getattr(task, "modality", None)
    if need and has and need != has:
        raise DabenchError(f"setting '{key}' applies to {need} tasks only, and '{task.name}' is "
                           f"{'an' if has[0] in 'aeiou' else 'a'} {has} task; drop --set {key}=...")
