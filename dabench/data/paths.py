"""Where the datasets are: the data root from `--data-root`, else `$DABENCH_DATA`.

The one place that knows the environment variable; every command and loader asks here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

DATA_ENV = "DABENCH_DATA"


def data_root_or_env(data_root: Optional[Path]) -> Optional[Path]:
    """The given data root, else $DABENCH_DATA, else None (the embedded tasks need none)."""
    if data_root is not None:
        return Path(data_root).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None
