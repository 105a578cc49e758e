"""The options of a `vectors` domain, checked when the task file is read (no torch here).

`dabench tasks validate` and `dabench run` read the same task file through the same check, so a
file that validates does not fail later on an option's type: `dim` a positive integer,
`labels` numbers (the raw labels in the files are numbers), `zero_based` and `header` true or
false, `train` and `test` both given (a path, or a mapping with `file:` and per-file options).
The loader (loaders.py) documents each option.
"""

from __future__ import annotations

from typing import Any, Optional

SPLITS = ("train", "test")
FILE_KEYS = ("file", "x_key", "y_key", "format", "sha256", "header", "zero_based")
DOMAIN_KEYS = (*SPLITS, "labels", "dim", *FILE_KEYS[1:])


def vector_options_problem(options: dict[str, Any], num_classes: int) -> Optional[tuple[str, str]]:
    """(where, problem) of the first bad option, None when they are fine."""
    unknown = sorted(set(options) - set(DOMAIN_KEYS))
    if unknown:
        return unknown[0], f"unknown option; a vectors domain takes {', '.join(DOMAIN_KEYS)}"
    for split in SPLITS:
        entry = options.get(split)
        if entry is None:
            return split, ("missing; a vectors domain names its `train:` and `test:` feature "
                           "files (the same file twice if it has no separate test file)")
        if isinstance(entry, dict):
            bad = sorted(set(entry) - set(FILE_KEYS))
            if bad or "file" not in entry:
                return split, (f"give `file:` and optionally {', '.join(FILE_KEYS[1:])}"
                               f"{'; unknown: ' + ', '.join(map(str, bad)) if bad else ''}")
            problem = _file_options_problem(entry)
            if problem:
                return f"{split}.{problem[0]}", problem[1]
        elif not isinstance(entry, str) or not entry:
            return split, f"expected a file path or a mapping with `file:`, got {entry!r}"[:200]
    problem = _file_options_problem(options)
    if problem:
        return problem
    dim = options.get("dim")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
        return "dim", f"expected a positive integer (the feature dimension), got {dim!r}"[:200]
    labels = options.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not all(_number(v) for v in labels):
            return "labels", ("expected a list of numbers, the raw label of each class in the "
                              f"order of `classes` (e.g. [-1, 1]), got {labels!r}")[:200]
        if len(labels) != num_classes:
            return "labels", (f"has {len(labels)} values but the task has {num_classes} "
                              "classes")
        if len({float(v) for v in labels}) != len(labels):
            return "labels", "a raw label appears twice"
    sha = options.get("sha256")
    if sha is not None and not (isinstance(sha, dict) and set(sha) <= set(SPLITS)
                                and all(isinstance(v, str) for v in sha.values())):
        return "sha256", "expected a mapping {train: HEX, test: HEX}"
    return None


def _file_options_problem(options: dict[str, Any]) -> Optional[tuple[str, str]]:
    for key in ("zero_based", "header"):
        if key in options and options[key] is not None and not isinstance(options[key], bool):
            return key, f"expected true or false, got {options[key]!r}"[:200]
    for key in ("x_key", "y_key", "format", "file"):
        if key in options and not isinstance(options[key], str):
            return key, f"expected text, got {options[key]!r}"[:200]
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
