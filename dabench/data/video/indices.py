"""Frame-index checks shared by every video backend (decord and the Norpix `.seq` reader), so
their messages are the same. A leaf module: it imports nothing of dabench but the error type."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Sequence

from dabench.errors import DabenchError


def check_indices(path: Path, indices: Sequence[int], num_frames: int) -> list[int]:
    """Plain ints in [0, num_frames); shared by the backends so the messages are the same."""
    try:
        idx = [operator.index(i) for i in indices]
    except TypeError:
        raise DabenchError(f"frame indices for {path} must be integers, got {list(indices)!r}")
    if not idx:
        raise DabenchError(f"no frame indices given for {path}; pass at least one")
    bad = [i for i in idx if not 0 <= i < num_frames]
    if bad:
        raise DabenchError(f"frame index {bad[0]} out of range for {path} ({num_frames} frames); "
                           "sample with segment_indices(num_frames(path))")
    return idx
