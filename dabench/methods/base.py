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
    from dabench.models.heads import DANNNet

    Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, labels)
else:
    Batch = tuple

METHODS: Registry[type["Method"]] = Registry("method", discover="dabench.methods")
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
    """Base: the network and its optimizer (SGD or Adam), the backbone at
    `optim.backbone_lr_mult` times the head's learning rate."""

    name: ClassVar[str]
    label: ClassVar[str]
    order: ClassVar[int]
    role: ClassVar[Optional[str]]
    config_sections: ClassVar[dict[str, type]] = {}
    uses_target_labels = False  # target-only trains on labelled target data
    uses_source = True

    def __init__(self, net: DANNNet, cfg: RunConfig) -> None:
        import torch

        self.net = net
        self.cfg = cfg
        self.autocast: Callable[[], ContextManager] = contextlib.nullcontext  # set by the loop
        o = cfg.optim
        groups = [
            {"params": list(net.backbone.parameters()), "lr_mult": o.backbone_lr_mult},
            {"params": net.new_parameters(), "lr_mult": 1.0},
        ]
        groups = [g for g in groups if g["params"]]
        for g in groups:
            g["lr"] = o.lr * g["lr_mult"]
        if o.name == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                groups, lr=o.lr, betas=(o.momentum, 0.999), weight_decay=o.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum,
                                             weight_decay=o.weight_decay, nesterov=o.nesterov)

    def set_lr_factor(self, factor: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = self.cfg.optim.lr * g["lr_mult"] * factor

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
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.cfg.optim.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.optim.clip_grad_norm)
        self.optimizer.step()
        out = {k: v.detach() for k, v in terms.items()}
        out["loss"] = total.detach()
        return out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        self.net.eval()
        with torch.no_grad():
            return self.net(x)  # (B, C) logits

    def state(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}
