"""How models are named in tables: the leaderboard's spelling. Torch-free, shared by the
training loop (which stores the name in each result) and the report (published rows)."""

from __future__ import annotations

from typing import Any

METHOD_NAMES = {"source-only": "Source only", "revgrad": "RevGrad", "target-only": "Target only"}
TEMPORAL_NAMES = {"tempooling": "TemPooling", "temrelation": "TemRelation"}


def model_label(method: str, config: dict[str, Any], show_recipe: bool = False) -> str:
    """e.g. "RevGrad", "TemRelation + RevGrad", "TemPooling" (source-only), "RevGrad [tllib]"."""
    label = METHOD_NAMES.get(method, method)
    temporal = config.get("model.temporal", "none")
    if temporal in TEMPORAL_NAMES:
        name = TEMPORAL_NAMES[temporal]
        label = name if method == "source-only" else f"{name} + {label}"
    if show_recipe and config.get("recipe"):
        label += f" [{config['recipe']}]"
    return label
