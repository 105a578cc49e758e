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


def not_comparable(catalog: Any, record: dict[str, Any]) -> str:
    """Why a run's settings cannot be compared with its task's defaults today ("" when they
    can): the task is unknown, of another version, or its recipe is gone."""
    task = catalog.tasks.get(record["task"]) if catalog is not None else None
    recipe = record.get("recipe")
    if task is None:
        return f"task '{record['task']}' is not in the task files"
    if record.get("task_version", task.version) != task.version:
        return f"task version {record.get('task_version')}, the task file is at {task.version}"
    if task.recipes and recipe not in task.recipes:
        return f"recipe '{recipe}' is no longer in the task file"
    return ""


def non_default_settings(catalog: Any, record: dict[str, Any]) -> list[str]:
    """"key=value" for each setting of a finished run that differs from what `dabench run
    <task> -m <method>` resolves to with the run's recipe; seed, execution keys and the keys
    of published or leaderboard variants (e.g. model.temporal) are left out. [] when the task
    is unknown, of another version, or the recipe is gone."""
    from dabench.config import EXECUTION_KEYS, resolve
    from dabench.errors import DabenchError

    if not_comparable(catalog, record):
        return []  # another version of the task (or a recipe it no longer has): not comparable
    task, recipe = catalog.tasks[record["task"]], record.get("recipe")
    try:
        defaults = resolve(task, record["method"], 0,
                           {"recipe": recipe} if task.recipes else {}).flat()
    except DabenchError:
        return []
    variants = {k for p in task.published for k in p.when} | {
        k for b in catalog.board if task.name in b.tasks for k in b.when}
    skip = EXECUTION_KEYS | variants | {"task", "method", "seed", "recipe", "sweep", "plugins"}
    config = record["config"]
    return [f"{k}={config[k]}" for k in sorted(config)
            if k not in skip and k in defaults and config[k] != defaults[k]]


def with_settings(label: str, settings: list[str], most: int = 3) -> str:
    """e.g. "RevGrad (steps=20)", "RevGrad (batch_size=8, steps=20, +2 more)"."""
    if not settings:
        return label
    more = f", +{len(settings) - most} more" if len(settings) > most else ""
    return f"{label} ({', '.join(settings[:most])}{more})"



def data_marks(record: dict[str, Any]) -> list[str]:
    """"incomplete data: amazon 1000/2817" for a run trained on fewer (or more) items than its
    task file expects of a domain (result.json `incomplete_data`); [] for a complete one."""
    gaps = record.get("incomplete_data") or {}
    if not gaps:
        return []
    return ["incomplete data: " + ", ".join(f"{k} {v['found']}/{v['expected']}"
                                            for k, v in sorted(gaps.items()))]


def not_as_published(catalog: Any, record: dict[str, Any]) -> list[str]:
    """Why a run's number may not sit beside the published value with a delta: its settings
    that differ from the task's own, and incomplete data. [] when it may."""
    return non_default_settings(catalog, record) + data_marks(record)
