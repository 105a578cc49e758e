"""Optional dependencies, grouped as pip extras: a missing one is a one-line error naming it.

    decord = import_extra("decord", "video", "decoding videos")
    -> dabench: error: decoding videos needs the 'video' extra: pip install 'dabench[video]'

The base install (`pip install dabench`) runs the embedded digits task; `[video]` (decord2)
decodes videos, `[plots]` (matplotlib) draws figures, `[download]` and `[slurm]` as named.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional

from dabench.errors import DabenchError


# module -> the extra that installs it (pyproject.toml's [project.optional-dependencies])
EXTRA_OF = {"decord": "video", "matplotlib": "plots", "submitit": "slurm", "gdown": "download",
            "libarchive": "download"}
# module -> the distribution of a base dependency (pyproject.toml's dependencies; scipy comes
# with scikit-learn)
BASE_DISTRIBUTION = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy",
                     "PIL": "pillow", "yaml": "pyyaml", "pydantic": "pydantic", "typer": "typer",
                     "rich": "rich", "skimage": "scikit-image", "sklearn": "scikit-learn",
                     "scipy": "scipy", "filelock": "filelock"}


def missing_module_fix(name: Optional[str]) -> Optional[str]:
    """The one-line error for a module that is not installed, naming the right pip command;
    None for a module that is neither an extra nor a base dependency (a module of dabench
    itself, or a typo in the code: a bug, not something to install)."""
    top = (name or "").split(".")[0]
    if top in EXTRA_OF:
        extra = EXTRA_OF[top]
        return (f"the optional package '{top}' is not installed; install the '{extra}' extra: "
                f"pip install 'dabench[{extra}]'")
    if top in BASE_DISTRIBUTION:
        dist = BASE_DISTRIBUTION[top]
        return (f"dabench's dependency '{dist}' (module '{top}') is missing, so the installation "
                f"is incomplete: pip install '{dist}' (or reinstall dabench)")
    return None


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or raise a DabenchError (exit 3) saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DabenchError(f"{purpose} needs the '{extra}' extra: pip install 'dabench[{extra}]'",
                           exit_code=3) from None
