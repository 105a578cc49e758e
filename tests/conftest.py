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


@pytest.fixture(scope="session")
def _cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _cache_home: Path) -> None:
    """Tests never read the user's runs folder, data root, extra task files or cache (the
    catalogue cache of the session's own dabench processes is shared by the session)."""
    for name in ("DABENCH_RUNS", "DABENCH_DATA", "DABENCH_TASK_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(_cache_home))
