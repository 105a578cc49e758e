"""A domain's `options:` from its task file, with unknown keys refused (shared by the loaders)."""

from __future__ import annotations

from typing import Any

from dabench.errors import DabenchError
from dabench.registry import suggest


def domain_options(domain, task, known: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """(a copy of the options, where they are for error messages); an unknown key is a
    DabenchError naming the task file, the key, a did-you-mean and the known keys."""
    opts = dict(domain.options)
    where = f"task file {task.file}: domains.{domain.key}.options"
    for key in opts:
        if key not in known:
            raise DabenchError(f"{where}: unknown option '{key}'.{suggest(key, list(known))}"
                               f" Known: {', '.join(known)}")
    return opts, where
