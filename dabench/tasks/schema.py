"""The task-file schema: typed pydantic models, strict (`extra="forbid"`, no type coercion).

`TaskFile` is what one task file holds once its `include:`s are merged (see `compose.py`);
`task_file_schema()` exports it as JSON Schema (`dabench tasks schema`). Cross-references
(a task's domains, suite members, the recipe a file selects) are checked by `catalog.py`, which
turns a `TaskFile` into `TaskSpec`s. `Published` and `BoardRow` are used as they are at run
time. `explain()` turns a pydantic error into the one-line place and problem users see.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dabench.errors import DabenchError, clip
from dabench.registry import suggest

MODALITIES = ("image", "video", "vectors")
# Task, suite, alias, method and recipe names: safe as one folder name of the runs folder.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
NAME_MAX = 100
NAME_RULE = ("lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, "
             f"at most {NAME_MAX} characters")

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX)]
Number = Annotated[float, Field(allow_inf_nan=False)]


def _check_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted RunConfig keys with values of their type; values are kept as written."""
    from dabench.config import IDENTITY_KEYS, coerce  # here: a cached catalogue needs no config

    for key, value in values.items():
        if key in IDENTITY_KEYS:
            raise PydanticCustomError(
                "identity_key", "'{key}' cannot be set by a task file; it comes from the command "
                "line (the task name, --method, --seed)", {"key": key})
        if isinstance(value, (dict, list)) or value is None:
            raise PydanticCustomError(
                "setting_value", "setting '{key}' needs one value (a string, number or boolean), "
                "got {given}", {"key": key, "given": clip(repr(value))})
        try:
            coerce(key, value)
        except DabenchError as exc:
            raise PydanticCustomError("setting", "{message}", {"message": str(exc)}) from None
    return values


Settings = Annotated[dict[str, Any], AfterValidator(_check_settings),
                     Field(description="dotted run settings, e.g. {optim.lr: 0.01, steps: 3000}")]


class _Strict(BaseModel):
    # defer_build: the validators are built on first use, so a catalogue unpickled from the cache
    # (dabench/tasks/catalog_cache.py) costs no schema building
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """An unknown key is named, with the closest known one."""
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError("unknown_key", "unknown key '{key}'.{hint}", {
                        "key": clip(key), "hint": suggest(str(key), allowed)})
        return data


class Published(_Strict):
    """A published reference value for one method (optionally one config variant) of a task."""

    method: Name
    value: Number
    source: str = Field(description="where the number comes from: paper, table, row")
    metric: str = "accuracy"
    reference: str = "paper"
    when: Settings = Field(default_factory=dict,
                           description="settings a run must have for this value to apply")
    note: str = ""
    selection: str = Field("", description="how the authors chose the reported model, e.g. "
                           "'reverse validation'")

    def matches(self, method: str, config: dict[str, Any]) -> bool:
        return method == self.method and all(config.get(k) == v for k, v in self.when.items())


class BoardRow(_Strict):
    """One row of the public leaderboard and how to compute it from runs: the mean over `tasks`
    of the runs of `method` whose config matches `when` (several tasks: a dataset-level mean)."""

    task: str  # the leaderboard's task column
    dataset: str  # the leaderboard's dataset column, as listed (even when mislabelled)
    model: str
    value: Number
    source: str
    method: Name
    tasks: list[str]
    when: Settings = Field(default_factory=dict)
    metric: str = "Accuracy"
    note: str = ""  # a footnote, e.g. a mislabelled row
    test_size: Annotated[int, Field(ge=0)] = 0  # target test-set size, to check k/N values


class DomainEntry(_Strict):
    name: str
    loader: str = Field(description="a registered data loader, e.g. mnist5k, office31, ucf101")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the loader")


class TaskEntry(_Strict):
    title: str = Field(description="the leaderboard's dataset name, e.g. MNIST-to-MNIST-M")
    source: str = Field(description="a key of `domains`")
    targets: Annotated[list[str], Field(min_length=1)] = Field(
        description="keys of `domains`; several = a blended multi-target task")
    config: Settings = Field(default_factory=dict, description="over the file's `defaults`")
    published: list[Published] = Field(default_factory=list)
    aliases: list[Name] = Field(default_factory=list)
    methods: list[Name] | None = None
    version: Annotated[int, Field(ge=1)] | None = None
    notes: list[str] = Field(default_factory=list)
    leaderboard_task: str | None = None


class TaskFile(_Strict):
    """One dataset family: classes, domains, default settings, recipes, tasks and suites."""

    include: str | list[str] | None = Field(
        None, description="shared files (names starting with '_') merged under this file")
    family: str
    dataset: str = Field(description="the family as list-tasks shows it, e.g. Office-31")
    version: Annotated[int, Field(ge=1)] = Field(description="copied into every result")
    modality: Literal[MODALITIES]  # type: ignore[valid-type]
    description: str = ""
    classes: Annotated[list[str], Field(min_length=1)] = Field(description="the label order")
    domains: Annotated[dict[str, DomainEntry], Field(min_length=1)]
    defaults: Settings = Field(default_factory=dict)
    recipes: dict[Name, Settings] = Field(default_factory=dict)
    methods: list[Name] = Field(default_factory=lambda: ["source-only", "revgrad"])
    tasks: Annotated[dict[Name, TaskEntry], Field(min_length=1)]
    suites: dict[Name, list[str]] = Field(default_factory=dict)
    leaderboard_task: str = "Domain Adaptation"
    notes: list[str] = Field(default_factory=list)
    leaderboard: list[BoardRow] = Field(default_factory=list)
    sweeps: dict[Name, dict[str, dict[str, Annotated[list[Any], Field(min_length=1)]]]] = Field(
        default_factory=dict, description="named grids: {name: {method or '*': {dotted key: "
        "[values]}}}; `dabench run --sweep NAME` runs every combination")
    sweep: Name | None = Field(None, description="the sweep `dabench run` applies by default")

    @model_validator(mode="after")
    def _sweeps_are_settings(self) -> "TaskFile":
        from dabench.config import coerce

        for name, body in self.sweeps.items():
            for method, grid in body.items():
                for key, values in grid.items():
                    for value in values:
                        try:
                            coerce(key, value)
                        except DabenchError as exc:
                            raise PydanticCustomError("setting", "sweeps.{at}: {message}", {
                                "at": f"{name}.{method}", "message": str(exc)}) from None
        if self.sweep is not None and self.sweep not in self.sweeps:
            raise PydanticCustomError("sweep", "sweep: unknown sweep '{name}'.{hint}", {
                "name": self.sweep, "hint": suggest(self.sweep, sorted(self.sweeps))})
        return self


def task_file_schema() -> dict[str, Any]:
    """The JSON Schema of a task file (`dabench tasks schema`; docs/task-file.schema.json)."""
    schema = TaskFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dabench task file"
    return _names_as_property_names(schema)


def _names_as_property_names(node: Any) -> Any:
    """pydantic writes a dict with pattern-checked keys as `patternProperties`, which lets other
    keys through; say instead that every key must match (`propertyNames`)."""
    if isinstance(node, dict):
        node = {k: _names_as_property_names(v) for k, v in node.items()}
        patterns = node.pop("patternProperties", None)
        if patterns and len(patterns) == 1:
            (pattern, value), = patterns.items()
            node["additionalProperties"] = value
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
        elif patterns:
            node["patternProperties"] = patterns
    elif isinstance(node, list):
        node = [_names_as_property_names(v) for v in node]
    return node


# -- errors -----------------------------------------------------------------------------------

_TYPES = {"int_type": "int", "float_type": "int or float", "string_type": "str",
          "bool_type": "bool", "list_type": "list", "dict_type": "dict",
          "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping"}
_NAMES = {"tasks": "task name", "suites": "suite name", "recipes": "recipe name",
          "aliases": "alias", "methods": "method name", "method": "method name"}


def where(loc: tuple) -> str:
    """('tasks', 't', 'published', 0, 'value') -> 'tasks.t.published[0].value'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def explain(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """The first pydantic error as (place, problem), both one line."""
    err = errors[0]
    loc, kind, given = tuple(err["loc"]), err["type"], err.get("input")
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    if kind == "missing":
        parent = loc[:-1]
        names = [str(e["loc"][-1]) for e in errors
                 if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent]
        return where(parent), f"missing required key(s): {', '.join(names)}"
    if kind == "extra_forbidden":
        return where(loc[:-1]), f"unknown key '{clip(loc[-1])}'"
    if kind in ("string_pattern_mismatch", "string_too_long") or (is_key and kind == "string_type"):
        what = _NAMES.get(str(loc[-2] if is_key or isinstance(loc[-1], int) else loc[-1]), "name")
        if not isinstance(given, str):  # a key such as 123: (an integer)
            place = f"{where(loc[:-1])}.{clip(given)}" if len(loc) > 1 else where(loc)
            return place, (f"the {what} {clip(given)!s} must be text; quote it: "
                                f"\"{clip(given)}\"")
        return where(loc), f"the {what} '{clip(given)}' is not allowed: use {NAME_RULE}"
    if kind in _TYPES:
        return where(loc), f"expected {_TYPES[kind]}, got {type(given).__name__} {clip(repr(given))}"
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "").replace("'", "").replace(" or ", ", ")
        return where(loc), f"'{clip(given)}' is not one of {allowed}"
    if kind == "finite_number":
        return where(loc), f"must be a finite number, got {clip(given)}"
    if kind == "too_short":
        if loc and loc[-1] == "targets":
            return where(loc), "needs at least one target domain"
        return where(loc), "must not be empty"
    return where(loc), clip(err["msg"], 200)
