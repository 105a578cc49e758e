"""The method interface: `update(...) -> dict` and `predict(x)` (DomainBed's), and its registry.

One training loop (`dabench.training.loop`) drives every method; a method owns its network and
optimizer and does one optimisation step per `update` call. Losses come back as detached
tensors so the loop decides when to synchronise with the device. Torch is imported inside the
functions (see the package docstring for why).
"""

from __future__ import annotations

import contextlib
import dataclasses
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, ContextManager, Optional

from dabench.registry import Registry

if TYPE_CHECKING:
    import torch

    from dabench.config import RunConfig

    Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, labels)
else:
    Batch = tuple

def _check_plugin_method(name: str, cls: Any) -> None:
    """A plugin's method: a Method subclass whose loss takes (src, tgt, lam) (else TypeError,
    which the plugin loader turns into one line naming the plugin)."""
    import inspect

    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"method '{name}' is not a subclass of dabench.methods.Method")
    abstract = getattr(cls, "__abstractmethods__", ())
    if abstract:
        raise TypeError(f"method '{name}' does not define {', '.join(sorted(abstract))}")
    try:
        inspect.signature(cls.loss).bind(None, None, None, 0.0)
    except TypeError:
        raise TypeError(f"method '{name}': loss{inspect.signature(cls.loss)} must take "
                        "(self, src, tgt, lam)") from None


METHODS: Registry[type["Method"]] = Registry("method", discover="dabench.methods",
                                             group="dabench.methods",
                                             validate=_check_plugin_method)
ROLES = (None, "lower", "upper")  # an adapting method, or the lower/upper reference


def register_method(name: str, *, label: str, order: int = 50, role: Optional[str] = None,
                    config: Optional[dict[str, type]] = None) -> Callable[[type], type]:
    """Class decorator: register a Method under `name`.

    label: its name in tables ("RevGrad"); order: where its rows go (lower first; the
    references use 0 and 100); role: "lower" (trained on source only: the row an adapting
    method is compared with), "upper" (trained on target labels) or None (adapts);
    config: its own config sections, {section name: dataclass}, read by `RunConfig`.
    """
    if role not in ROLES:
        raise ValueError(f"method '{name}': role must be one of {ROLES}, not {role!r}")
    for section, cls in (config or {}).items():
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"method '{name}': config section '{section}' is not a dataclass")

    def decorator(cls: type) -> type:
        cls.name, cls.label, cls.order, cls.role = name, label, order, role
        cls.config_sections = dict(config or {})
        METHODS.add(name, cls)
        return cls

    return decorator


def config_sections() -> dict[str, type]:
    """{section: dataclass} declared by all methods (a section shared by two must be the same)."""
    out: dict[str, type] = {}
    for name, cls in METHODS.items():
        for section, kind in cls.config_sections.items():
            if out.setdefault(section, kind) is not kind:
                raise ValueError(f"config section '{section}' is declared twice with different "
                                 f"dataclasses (again by method '{name}')")
    return out


def method_label(name: str) -> str:
    """The display name of a method; an unknown one (e.g. from an older run) shows as is."""
    return METHODS.get(name).label if name in METHODS else name


def method_order(name: str) -> int:
    return METHODS.get(name).order if name in METHODS else 50


def method_role(name: str) -> Optional[str]:
    return METHODS.get(name).role if name in METHODS else None


class Method(ABC):
    """Base: what a method trains and how. Two hooks build it, so a method with other heads
    (CDAN's multilinear discriminator, MCD's two classifiers, ADDA's target encoder) is one
    module or one plugin:

    - `build_network(num_classes, cfg, input_dim)` (a classmethod): the network, an `nn.Module`
      whose `forward(x)` gives (B, C) logits and `embed(x)` (B, D) features; by default the
      DANN-shaped `DANNNet` of `dabench.models.build` (backbone, bottleneck, classifier, one
      domain classifier);
    - `build_optimizers()`: {name: optimizer} over `self.net`'s parameters; by default one,
      "main", SGD or Adam (`optim.name`) with the backbone at `optim.backbone_lr_mult` times the
      head's learning rate (`make_optimizer(self.parameter_groups())`).

    Everything the network holds and every optimizer's state are checkpointed (`state`), and
    the learning-rate schedule scales every optimizer's groups (`set_lr_factor`)."""

    name: ClassVar[str]
    label: ClassVar[str]
    order: ClassVar[int]
    role: ClassVar[Optional[str]]
    config_sections: ClassVar[dict[str, type]] = {}
    uses_target_labels = False  # target-only trains on labelled target data
    uses_source = True

    @classmethod
    def build_network(cls, num_classes: int, cfg: RunConfig,
                      input_dim: Optional[int] = None) -> torch.nn.Module:
        """The network this method trains (the hook; see the class). `input_dim`: the feature
        dimension of vector inputs, None for images and videos."""
        from dabench.models.build import build_network

        return build_network(num_classes, cfg, input_dim)

    def __init__(self, net: torch.nn.Module, cfg: RunConfig) -> None:
        import torch

        self.net = net
        self.cfg = cfg
        self.autocast: Callable[[], ContextManager] = contextlib.nullcontext  # set by the loop
        self.optimizers: dict[str, torch.optim.Optimizer] = dict(self.build_optimizers())
        if not self.optimizers or not all(isinstance(o, torch.optim.Optimizer)
                                          for o in self.optimizers.values()):
            raise TypeError(f"method '{self.name}': build_optimizers() must return "
                            "{name: torch.optim.Optimizer} with at least one optimizer")
        for opt in self.optimizers.values():
            for g in opt.param_groups:
                g.setdefault("lr_mult", 1.0)
                g.setdefault("base_lr", g["lr"] / g["lr_mult"] if g["lr_mult"] else g["lr"])

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers, by name (the hook; see the class)."""
        return {"main": self.make_optimizer(self.parameter_groups())}

    def parameter_groups(self, module: Optional[torch.nn.Module] = None) -> list[dict]:
        """`module`'s parameters (default: the network) as optimizer groups: its `backbone`'s
        at `optim.backbone_lr_mult`, the rest at 1 (each group's "lr_mult")."""
        module = self.net if module is None else module
        backbone = getattr(module, "backbone", None)
        skip = {id(p) for p in backbone.parameters()} if backbone is not None else set()
        groups = [
            {"params": list(backbone.parameters()) if backbone is not None else [],
             "lr_mult": self.cfg.optim.backbone_lr_mult},
            {"params": [p for p in module.parameters() if id(p) not in skip], "lr_mult": 1.0},
        ]
        return [g for g in groups if g["params"]]

    def make_optimizer(self, groups: list[dict], lr: Optional[float] = None
                       ) -> torch.optim.Optimizer:
        """SGD or Adam as `optim.*` says, over `groups` (see `parameter_groups`), at `lr`
        (default `optim.lr`) times each group's lr_mult; the schedule scales it from there."""
        import torch

        o = self.cfg.optim
        lr = o.lr if lr is None else lr
        for g in groups:
            g.setdefault("lr_mult", 1.0)
            g["base_lr"] = lr
            g["lr"] = lr * g["lr_mult"]
        if o.name == "adam":
            return torch.optim.Adam(groups, lr=lr, betas=(o.momentum, 0.999),
                                    weight_decay=o.weight_decay)
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay,
                               nesterov=o.nesterov)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first optimizer (the only one, for most methods)."""
        return next(iter(self.optimizers.values()))

    def set_lr_factor(self, factor: float) -> None:
        for opt in self.optimizers.values():
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * g["lr_mult"] * factor

    def adaptation_weight(self, step: int) -> float:
        """The coefficient passed to `update` at `step` (logged as "lambda"); 0 for methods
        without an adaptation term."""
        return 0.0

    @abstractmethod
    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        """The loss terms of one step, by name (summed for the backward pass)."""

    def update(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        """One optimizer step; returns the loss terms (detached) with their sum as "loss"."""
        import torch

        self.net.train()
        with self.autocast():
            terms = self.loss(src, tgt, lam)
            total = sum(terms.values())
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        total.backward()
        if self.cfg.optim.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.optim.clip_grad_norm)
        for opt in self.optimizers.values():
            opt.step()
        out = {k: v.detach() for k, v in terms.items()}
        out["loss"] = total.detach()
        return out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        self.net.eval()
        with torch.no_grad():
            return self.net(x)  # (B, C) logits

    def state(self) -> dict[str, Any]:
        """What a checkpoint holds of the method: the network and every optimizer ("optimizer":
        the first, as checkpoints always had it; "optimizers": all, by name)."""
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_state(self, saved: dict[str, Any]) -> None:
        """Restore `state()` (a checkpoint from before "optimizers" has the first only)."""
        self.net.load_state_dict(saved["net"])
        mine = self.optimizers
        theirs = saved.get("optimizers") or {next(iter(mine)): saved["optimizer"]}
        for name, opt in mine.items():
            opt.load_state_dict(theirs[name])
        for opt in mine.values():  # base_lr / lr_mult are ours, not the checkpoint's to change
            for g in opt.param_groups:
                g.setdefault("lr_mult", 1.0)
                g.setdefault("base_lr", self.cfg.optim.lr)
