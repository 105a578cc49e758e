"""Shared fixtures: a tiny run config on the real embedded task, and CLI helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A few steps of the embedded task: real data, small enough for a CPU test.
TINY = {"steps": 6, "batch_size": 16, "eval_every": 3, "log_every": 2, "eval_batch_size": 250,
        "pad_samples": 200}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the user's runs folder, data root or extra task files."""
    for name in ("DABENCH_RUNS", "DABENCH_DATA", "DABENCH_TASK_PATH"):
        monkeypatch.delenv(name, raising=False)
