"""How models are named in tables: the leaderboard's spelling. Torch-free, shared by the
training loop (which stores the name in each result) and the report (published rows); method
names come from the method registry (`register_method(..., label=...)`)."""

from __future__ import annotations

from typing import Any

from dabench.methods import method_label, method_role

TEMPORAL_NAMES = {"tempooling": "TemPooling", "temrelation": "TemRelation"}


def model_label(method: str, config: dict[str, Any], show_recipe: bool = False) -> str:
    """e.g. "RevGrad", "TemRelation + RevGrad", "TemPooling" (source-only), "RevGrad [tllib]"."""
    label = method_label(method)
    temporal = config.get("model.temporal", "none")
    if temporal in TEMPORAL_NAMES:
        name = TEMPORAL_NAMES[temporal]
        label = name if method_role(method) == "lower" else f"{name} + {label}"
    if show_recipe and config.get("recipe"):
        label += f" [{config['recipe']}]"
    return label
