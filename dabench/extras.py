"""Optional dependencies, grouped as pip extras: a missing one is a one-line error naming it.

    decord = import_extra("decord", "video", "decoding videos")
    -> dabench: error: decoding videos needs the 'video' extra: pip install 'dabench[video]'

The base install (`pip install dabench`) runs the embedded digits task; `[video]` (decord2)
decodes videos, `[plots]` (matplotlib) draws figures, `[download]` and `[slurm]` as named.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dabench.errors import DabenchError


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or raise a DabenchError (exit 3) saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DabenchError(f"{purpose} needs the '{extra}' extra: pip install 'dabench[{extra}]'",
                           exit_code=3) from None
